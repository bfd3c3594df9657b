import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { FakeNode, testSigner } from "../../support/fake-nodes.js";
import {
  capabilityRequest,
  DON_ID,
  GATEWAY_ID,
  metricValue,
  startGatewayFixture,
  waitUntil,
  type GatewayFixture,
} from "./fixtures.js";

let fx: GatewayFixture | undefined;
const extra: FakeNode[] = [];
afterEach(async () => {
  await Promise.all(extra.splice(0).map((n) => n.stop()));
  await fx?.close();
  fx = undefined;
});

function node(o: Partial<ConstructorParameters<typeof FakeNode>[0]> & { signer: ConstructorParameters<typeof FakeNode>[0]["signer"] }): FakeNode {
  const n = new FakeNode({ transport: fx!.transport, gatewayId: GATEWAY_ID, donId: DON_ID, ...o });
  extra.push(n);
  return n;
}

async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

describe("node handshake", () => {
  it("refuses a key that is not a DON member with PermissionDenied", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const outcome = await node({ signer: testSigner(9) }).handshake;
    expect(outcome.kind).toBe("refused");
    if (outcome.kind !== "refused") return;
    expect(outcome.error.code).toBe(Code.PermissionDenied);
    expect(outcome.error.rawMessage).toMatch(/^node key [0-9a-f]{8}… is not a member of DON "don-1"$/);
    expect(await metricValue(fx.registry, "ccr_gateway_node_handshakes_total", { outcome: "refused" })).toBe(1);
  });

  it("refuses a hello for another gateway or another DON", async () => {
    fx = await startGatewayFixture({ behaviors: [], members: 4, f: 1 });
    const wrongGateway = await node({ signer: testSigner(0), hello: { gatewayId: "gw-2" } }).handshake;
    const wrongDon = await node({ signer: testSigner(1), hello: { donId: "don-2" } }).handshake;
    expect(wrongGateway.kind === "refused" && wrongGateway.error.code).toBe(Code.PermissionDenied);
    expect(wrongGateway.kind === "refused" && wrongGateway.error.rawMessage).toBe(
      'node hello is for gateway "gw-2", this is gateway "gw-1"',
    );
    expect(wrongDon.kind === "refused" && wrongDon.error.rawMessage).toBe('node hello is for DON "don-2", this gateway serves DON "don-1"');
  });

  it("quotes a huge claimed gateway or DON id clipped, so the refusal stays readable to any client", async () => {
    fx = await startGatewayFixture({ behaviors: [], members: 4, f: 1 });
    const huge = "g".repeat(64 * 1024);
    const wrongGateway = await node({ signer: testSigner(0), hello: { gatewayId: huge } }).handshake;
    const wrongDon = await node({ signer: testSigner(1), hello: { donId: huge } }).handshake;
    expect(wrongGateway.kind === "refused" && wrongGateway.error.rawMessage).toBe(
      `node hello is for gateway "${"g".repeat(128)}… (65536 chars)", this is gateway "gw-1"`,
    );
    expect(wrongDon.kind === "refused" && wrongDon.error.rawMessage).toBe(
      `node hello is for DON "${"g".repeat(128)}… (65536 chars)", this gateway serves DON "don-1"`,
    );
  });

  it("refuses a member's key whose proof is signed by someone else", async () => {
    fx = await startGatewayFixture({ behaviors: [], members: 4, f: 1 });
    const outcome = await node({ signer: testSigner(0), proofSigner: testSigner(9) }).handshake;
    expect(outcome.kind === "refused" && outcome.error.code).toBe(Code.PermissionDenied);
    expect(outcome.kind === "refused" && outcome.error.rawMessage).toBe("handshake proof signature does not verify against the node key");
    expect(fx.gateway.core.connectedMembers).toEqual([]);
  });

  it("refuses a proof that arrives after the handshake tolerance (manual time)", async () => {
    fx = await startGatewayFixture({ behaviors: [], members: 4, f: 1, manualTime: true, options: { handshakeToleranceMs: 1_000 } });
    const clock = fx.manual!.clock;
    const outcome = await node({ signer: testSigner(0), beforeProof: () => clock.advance(1_001) }).handshake;
    expect(outcome.kind === "refused" && outcome.error.code).toBe(Code.PermissionDenied);
    expect(outcome.kind === "refused" && outcome.error.rawMessage).toBe(
      "handshake proof came 1001 ms after the challenge (tolerance 1000 ms)",
    );
  });

  it("accepts a proof just within the tolerance", async () => {
    fx = await startGatewayFixture({ behaviors: [], members: 4, f: 1, manualTime: true, options: { handshakeToleranceMs: 1_000 } });
    const clock = fx.manual!.clock;
    const outcome = await node({ signer: testSigner(0), beforeProof: () => clock.advance(1_000) }).handshake;
    expect(outcome.kind).toBe("accepted");
  });

  it("ends a stream that never sends its proof once the tolerance passes (manual time)", async () => {
    fx = await startGatewayFixture({ behaviors: [], members: 4, f: 1, manualTime: true, options: { handshakeToleranceMs: 1_000 } });
    let release!: () => void;
    const n = node({ signer: testSigner(0), beforeProof: () => new Promise<void>((r) => (release = r)) });
    await waitUntil(() => typeof release === "function");
    fx.manual!.timers.advance(1_000);
    release();
    const outcome = await n.handshake;
    expect(outcome.kind === "refused" && outcome.error.code).toBe(Code.DeadlineExceeded);
    expect(outcome.kind === "refused" && outcome.error.rawMessage).toBe("node sent no handshake proof within 1000 ms");
  });
});

describe("one live stream per member", () => {
  it("a reconnect replaces the member's stream; the older one is ended and requests use the newer", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const old = fx.don.nodes[0]!;
    const fresh = node({ signer: testSigner(0) });
    expect((await fresh.handshake).kind).toBe("accepted");
    await waitUntil(() => old.ended !== undefined);
    expect(old.ended !== "closed" && old.ended?.code).toBe(Code.Aborted);
    expect(fx.gateway.core.connectedMembers).toEqual([0, 1, 2, 3]);
    await fx.client.executeCapability(capabilityRequest("after-reconnect"));
    await waitUntil(() => fresh.requests.length === 1);
    expect(old.requests).toHaveLength(0);
  });
});

describe("heartbeats (manual time)", () => {
  it("sends a heartbeat every interval and keeps streams that answer", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest"], members: 4, f: 1, manualTime: true, options: { heartbeatIntervalMs: 1_000 } });
    for (let i = 0; i < 5; i++) {
      fx.manual!.timers.advance(1_000);
      await waitUntil(() => fx!.don.nodes.every((n) => n.heartbeatsReceived === i + 1));
      await settle();
    }
    expect(fx.gateway.core.connectedMembers).toEqual([0, 1]);
  });

  it("drops a stream silent for three intervals", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest"], members: 4, f: 1, manualTime: true, options: { heartbeatIntervalMs: 1_000 } });
    const quiet = node({ signer: testSigner(1), heartbeats: false });
    expect((await quiet.handshake).kind).toBe("accepted");
    await waitUntil(() => fx!.gateway.core.connectedMembers.length === 2);
    for (let i = 0; i < 3; i++) {
      fx.manual!.timers.advance(1_000);
      await settle();
    }
    await waitUntil(() => quiet.ended !== undefined);
    expect(quiet.ended !== "closed" && quiet.ended?.code).toBe(Code.DeadlineExceeded);
    expect(fx.gateway.core.connectedMembers).toEqual([0]);
  });
});
