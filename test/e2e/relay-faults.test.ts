/**
 * Issue 8, "End-to-end tests": relay nodes fail and come back while confidential workflows run,
 * with every process of the mesh a separate OS process (test/support/process-mesh.ts).
 *
 * The DON is N=4, F=1: an answer needs F+1 = 2 matching signed node answers, so the mesh keeps
 * serving with up to N−(F+1) = 2 nodes down, and fails once fewer than F+1 are left (3 down).
 * The tests run in order on one mesh and build on each other's state, as an operator's night would:
 * one node dies mid-request → a second dies → a third dies mid-request (no quorum possible) → one
 * comes back. The http-price workflow's feed is served by this test and can be held, which pins a
 * relay request in flight (all nodes waiting on the capability) at the moment a node is killed.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useProcessMesh, type ProcessMesh } from "../support/process-mesh.js";
import { deployExample, executionFromAdminApi, executionRow, putSecret, triggerAndWait, triggerViaAdminApi, type ExecutionView } from "./workflows.js";

const PRICE = 1234.5;
/** What the gateway says when a relay request cannot get F+1 answers (services/gateway). */
const QUORUM_ERROR = /failed to forward user request to nodes|quorum unobtainable/;

/** The http-price workflow's data source: answers {"price": …}, or holds its answers while told to. */
class PriceFeed {
  private readonly server: Server;
  private gate: { requested: () => void; released: Promise<void> } | undefined;

  constructor(price: number) {
    this.server = createServer((_req, res) => {
      const answer = () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ price }));
      };
      const gate = this.gate;
      if (gate === undefined) return answer();
      gate.requested();
      void gate.released.then(answer);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/price.json`;
  }

  /** Holds every answer until release(); `requested` resolves when the first request arrives. */
  hold(): { requested: Promise<void>; release: () => void } {
    let requested!: () => void;
    let release!: () => void;
    const requestedPromise = new Promise<void>((resolve) => (requested = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const gate = { requested, released };
    this.gate = gate;
    return {
      requested: requestedPromise,
      release: () => {
        if (this.gate === gate) this.gate = undefined;
        release();
      },
    };
  }

  close(): Promise<void> {
    this.gate = undefined;
    this.server.closeAllConnections();
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe("relay node faults, with the mesh as separate OS processes", () => {
  const mesh = useProcessMesh();
  const secret = `faults-secret-${randomBytes(12).toString("hex")}`;
  const digest = createHash("sha256").update(secret).digest("hex");
  const feed = new PriceFeed(PRICE);
  let secretDigest = "";
  let httpPrice = "";
  let pidsAtStart = new Map<string, number | undefined>();

  beforeAll(async () => {
    const m = mesh();
    const feedUrl = await feed.listen();
    await putSecret(m, "faults", "API_KEY", secret);
    secretDigest = await deployExample(m, "secret-digest", [
      "--name",
      "faults-secret-digest",
      "--confidential",
      "--secret",
      "API_KEY:faults",
      "--config-json",
      JSON.stringify({ secret: "API_KEY", namespace: "faults" }),
    ]);
    const priceConfig = JSON.stringify({ url: feedUrl, field: "price" });
    httpPrice = await deployExample(m, "http-price", ["--name", "faults-http-price", "--confidential", "--config-json", priceConfig]);
    pidsAtStart = new Map(m.names.map((name) => [name, m.pid(name)]));
  }, 120_000);

  afterAll(async () => {
    await feed.close();
  });

  const keyOf = (m: ProcessMesh, name: string): string => m.don.members.find((member) => member.name === name)!.publicKey;

  /**
   * Both workflows, triggered and awaited through the admin API (what `ccr workflow trigger --wait`
   * calls; the CLI itself is exercised where its exit code matters); each must succeed with its value.
   */
  async function expectBothSucceed(m: ProcessMesh): Promise<ExecutionView[]> {
    const records: ExecutionView[] = [];
    for (const [workflowId, expected] of [
      [secretDigest, digest],
      [httpPrice, PRICE],
    ] as const) {
      const record = await triggerViaAdminApi(m, workflowId);
      expect([record.status, record.error], `${JSON.stringify(record)}\n${m.diagnostics()}`).toEqual(["succeeded", null]);
      expect(record.result).toEqual(expected);
      records.push(record);
    }
    return records;
  }

  /** When this build records signers, they are F+1 or more live DON members and none of `down`. */
  function expectSignersAmong(m: ProcessMesh, record: ExecutionView, down: readonly string[]): void {
    if (record.signers === undefined) return;
    expect(record.signers.length).toBeGreaterThanOrEqual(m.don.f + 1);
    const members = new Set(m.don.members.map((member) => member.publicKey));
    for (const signer of record.signers) expect(members.has(signer)).toBe(true);
    for (const name of down) expect(record.signers, `${name} is down but signed`).not.toContain(keyOf(m, name));
  }

  it("with one relay node killed (SIGKILL) while a relay request is in flight, the execution and the ones after it succeed", async () => {
    const m = mesh();
    // Hold the price feed: once it is asked, the http-fetch capability call is under way, so the
    // gateway has fanned the relay request out and is waiting for the nodes' answers.
    const held = feed.hold();
    let record: ExecutionView;
    try {
      const inFlight = triggerViaAdminApi(m, httpPrice);
      const finishedEarly = inFlight.then((r) => {
        throw new Error(`the execution finished before the feed was asked: ${JSON.stringify(r)}`);
      });
      finishedEarly.catch(() => undefined); // only the race below reads it
      await Promise.race([held.requested, finishedEarly]);
      const exit = await m.kill("relay-node-0");
      expect(exit.signal).toBe("SIGKILL");
      held.release();
      record = await inFlight;
    } finally {
      held.release();
    }
    expect([record.status, record.error, record.result], `${JSON.stringify(record)}\n${m.diagnostics()}`).toEqual(["succeeded", null, PRICE]);
    // The killed node never had the price to sign.
    expectSignersAmong(m, record, ["relay-node-0"]);

    // And the executions after it, secret and capability alike, with the node gone.
    for (const r of [...(await expectBothSucceed(m)), ...(await expectBothSucceed(m))]) expectSignersAmong(m, r, ["relay-node-0"]);
    await m.waitForGatewayNodes(3);
  }, 60_000);

  it("with F+1 relay nodes down, the remaining F+1 still make a quorum", async () => {
    const m = mesh();
    await m.kill("relay-node-1");
    await m.waitForGatewayNodes(2);
    for (const r of await expectBothSucceed(m)) {
      expectSignersAmong(m, r, ["relay-node-0", "relay-node-1"]);
      // Exactly the two nodes left can have signed.
      if (r.signers !== undefined) expect([...r.signers].sort()).toEqual([keyOf(m, "relay-node-2"), keyOf(m, "relay-node-3")].sort());
    }
  }, 60_000);

  it("when a node dies mid-request leaving fewer than F+1, the request fails at once with a quorum error, without waiting for the others", async () => {
    const m = mesh();
    const expiredBefore = await m.metric("gateway", "ccr_gateway_quorum_failures_total", { reason: "expired" });
    // relay-node-2 and relay-node-3 are up. Hold the feed so that neither can answer, start a
    // capability request, and kill relay-node-2 while it waits: one node left can never make F+1.
    const held = feed.hold();
    try {
      const inFlight = triggerViaAdminApi(m, httpPrice);
      await held.requested;
      await m.kill("relay-node-2");
      // It ends while relay-node-3 is still waiting for the feed: the gateway gave up as soon as no
      // quorum could form, rather than at its 30 s deadline.
      const record = await inFlight;
      expect([record.status, record.result], `${JSON.stringify(record)}\n${m.logs("gateway")}`).toEqual(["failed", null]);
      expect(record.error).toMatch(QUORUM_ERROR);
    } finally {
      held.release();
    }
    expect(await m.metric("gateway", "ccr_gateway_quorum_failures_total", { reason: "unobtainable" })).toBeGreaterThanOrEqual(1);
    expect(await m.metric("gateway", "ccr_gateway_quorum_failures_total", { reason: "expired" })).toBe(expiredBefore);
  }, 60_000);

  it("with fewer than F+1 relay nodes left, the secret request fails fast with a quorum error and the execution is recorded as failed", async () => {
    const m = mesh();
    const expiredBefore = await m.metric("gateway", "ccr_gateway_quorum_failures_total", { reason: "expired" });
    const failuresBefore = await m.metric("gateway", "ccr_gateway_quorum_failures_total");
    await m.waitForGatewayNodes(1);

    const { code, record } = await triggerAndWait(m, secretDigest);
    expect(code, JSON.stringify(record)).toBe(1);
    expect(record.status).toBe("failed");
    expect(record.error).toMatch(QUORUM_ERROR);
    // The reason names what could not be fetched, never its value.
    expect(record.error).toContain("faults/API_KEY");
    expect(JSON.stringify(record)).not.toContain(secret);
    expect(record.result).toBeNull();
    // No quorum certificate, so nobody vouched for anything (when this build records signers).
    if (record.signers !== undefined) expect(record.signers).toEqual([]);

    // Recorded with that reason: as the admin API reads it back, and as the row in Postgres.
    const stored = await executionFromAdminApi(m, record.executionId);
    expect([stored.status, stored.error]).toEqual(["failed", record.error]);
    expect(stored.finishedAt).not.toBeNull();
    const row = await executionRow(m, record.executionId);
    if (row !== undefined) {
      expect([row.status, row.error, row.resultText, row.finished]).toEqual(["failed", record.error, null, true]);
      if (row.signers !== undefined) expect(row.signers).toEqual([]);
    }

    // The gateway gave up because no quorum was possible, not because its deadline passed.
    expect(await m.metric("gateway", "ccr_gateway_quorum_failures_total")).toBeGreaterThan(failuresBefore);
    expect(await m.metric("gateway", "ccr_gateway_quorum_failures_total", { reason: "expired" })).toBe(expiredBefore);
  }, 60_000);

  it("a restarted relay node rejoins and serves again, with nothing else restarted", async () => {
    const m = mesh();
    await m.start("relay-node-0");
    await m.waitForGatewayNodes(2);

    // Two nodes (F+1) are up, so both had to answer: the restarted node served.
    const { code, record } = await triggerAndWait(m, secretDigest);
    expect([code, record.status, record.result], `${JSON.stringify(record)}\n${m.diagnostics()}`).toEqual([0, "succeeded", digest]);
    for (const r of [record, ...(await expectBothSucceed(m))]) {
      if (r.signers !== undefined) expect([...r.signers].sort()).toEqual([keyOf(m, "relay-node-0"), keyOf(m, "relay-node-3")].sort());
    }
    expect(await m.metric("relay-node-0", "ccr_relay_node_requests_total", { outcome: "ok" })).toBeGreaterThanOrEqual(2);

    // Every other process is the one that started with the mesh.
    for (const name of ["gateway", "vault", "capability", "enclave", "workflow-node", "relay-node-3"]) {
      expect([name, m.pid(name), m.starts(name)]).toEqual([name, pidsAtStart.get(name), 1]);
    }
    expect(m.starts("relay-node-0")).toBe(2);
  }, 60_000);

  it("a relay node asked to stop (SIGTERM) drains and exits 0", async () => {
    const m = mesh();
    const exit = await m.stop("relay-node-3");
    expect([exit.code, exit.signal], m.logs("relay-node-3")).toEqual([0, null]);
    await m.waitForGatewayNodes(1);
  }, 30_000);
});
