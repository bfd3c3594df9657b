/**
 * The node's gateway stream, in memory: handshake, concurrency without head-of-line blocking
 * (upstream TestHandler_ServesRequestsConcurrently), cancellation, per-request deadline, bounded
 * in-flight, refusal of a wrong challenge.
 */
import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { CapabilityExecuteResponseSchema, Gateway, RelayErrorDetailSchema } from "../../../src/contract/index.js";
import { answerSignaturePayload, type RelayParams } from "../../../src/contract/relay-hash.js";
import { ed25519Verify } from "../../../src/domain/crypto/ed25519.js";
import type { RelayNodeInstance, RelayNodeOptions } from "../../../src/services/relay-node/index.js";
import { silentLogger } from "../../../src/services/relay-node/ports.js";
import { FakeGateway } from "./fake-gateway.js";
import { capabilityRequest, DON_ID, DON_SIGNERS, makeFakes, makeNode, NOW_MS, secretsRequest } from "./fixtures.js";

const GATEWAY_ID = "gw-1";
let nodes: RelayNodeInstance[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

function startNode(gateway: FakeGateway, options: Partial<RelayNodeOptions> = {}, fakes = makeFakes()) {
  const { node, attestation } = makeNode({
    fakes,
    options: {
      gateways: [{ url: "http://gateway.invalid", gatewayId: GATEWAY_ID }],
      reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
      ...options,
    },
    gatewayClient: () => ({ client: createClient(Gateway, createRouterTransport(gateway.routes)), close() {} }),
  });
  nodes.push(node);
  node.start();
  return { node, fakes, attestation };
}

function fakeGateway(overrides: Partial<ConstructorParameters<typeof FakeGateway>[0]> = {}): FakeGateway {
  return new FakeGateway({ gatewayId: GATEWAY_ID, donId: DON_ID, members: DON_SIGNERS, nowMs: () => NOW_MS, ...overrides });
}

/** A capability that blocks every call until released, and records aborts. */
function blockingCapability(fakes: ReturnType<typeof makeFakes>) {
  const state = { inside: 0, aborted: 0, release: () => {} };
  const released = new Promise<void>((resolve) => (state.release = resolve));
  fakes.capabilityImpl = async (req, ctx) => {
    state.inside++;
    await new Promise<void>((resolve, reject) => {
      void released.then(resolve);
      ctx.signal.addEventListener("abort", () => {
        state.aborted++;
        reject(ctx.signal.reason);
      });
    });
    return create(CapabilityExecuteResponseSchema, { payload: req.payload });
  };
  return state;
}

function cap(i: number): RelayParams {
  return { case: "executeCapability", value: capabilityRequest({ requestId: `req-${i}`, referenceId: `${i}` }) };
}

describe("gateway stream", () => {
  it("completes the handshake with a proof the gateway verifies, then answers a signed request", async () => {
    const gateway = fakeGateway();
    const { node } = startNode(gateway);
    const session = await gateway.acceptedSession(0);
    expect(Buffer.from(session.nodeKey!)).toEqual(Buffer.from(node.publicKey));
    await node.links[0]!.whenReady();
    expect(node.links[0]!.state).toBe("ready");

    session.request(1n, { case: "getSecrets", value: secretsRequest() });
    await session.until(() => session.answers.length === 1);
    const answer = session.answerFor(1n)!;
    expect(answer.outcome.case).toBe("signed");
    if (answer.outcome.case !== "signed") return;
    expect(answer.outcome.value.result.case).toBe("secrets");
    expect(ed25519Verify(node.publicKey, answerSignaturePayload(answer.outcome.value.resultHash), answer.outcome.value.signature)).toBe(true);
  });

  it("serves 8 requests concurrently: all 8 are inside the capability at once, none answered until released", async () => {
    const gateway = fakeGateway();
    const fakes = makeFakes();
    const blocked = blockingCapability(fakes);
    startNode(gateway, {}, fakes);
    const session = await gateway.acceptedSession(0);
    for (let i = 1; i <= 8; i++) session.request(BigInt(i), cap(i));
    await expect.poll(() => blocked.inside, { timeout: 10_000, interval: 5 }).toBe(8);
    expect(session.answers).toHaveLength(0);

    blocked.release();
    await session.until(() => session.answers.length === 8);
    expect(session.answers.map((a) => a.relayId).sort()).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    expect(session.answers.every((a) => a.outcome.case === "signed")).toBe(true);
  });

  it("a slow request does not hold back a fast one (no head-of-line blocking)", async () => {
    const gateway = fakeGateway();
    const fakes = makeFakes();
    const blocked = blockingCapability(fakes);
    startNode(gateway, {}, fakes);
    const session = await gateway.acceptedSession(0);
    session.request(1n, cap(1)); // blocks in the capability
    await expect.poll(() => blocked.inside, { timeout: 10_000, interval: 5 }).toBe(1);
    session.request(2n, { case: "getSecrets", value: secretsRequest() }); // vault answers at once
    await session.until(() => session.answerFor(2n) !== undefined);
    expect(session.answerFor(1n)).toBeUndefined();
    blocked.release();
    await session.until(() => session.answerFor(1n) !== undefined);
  });

  it("RelayCancel aborts the in-flight capability call and sends no answer", async () => {
    const gateway = fakeGateway();
    const fakes = makeFakes();
    const blocked = blockingCapability(fakes);
    const { node } = startNode(gateway, {}, fakes);
    const session = await gateway.acceptedSession(0);
    session.request(1n, cap(1));
    await expect.poll(() => blocked.inside, { timeout: 10_000, interval: 5 }).toBe(1);
    session.cancel(1n, "quorum reached");
    await expect.poll(() => blocked.aborted, { timeout: 10_000, interval: 5 }).toBe(1);
    await expect
      .poll(async () => (await node.metrics.registry.metrics()).includes('outcome="canceled",code="Canceled"} 1'), { timeout: 10_000, interval: 5 })
      .toBe(true);
    // Answers travel in order: a later request's answer arriving first proves request 1 got none.
    session.request(2n, { case: "getSecrets", value: secretsRequest() });
    await session.until(() => session.answerFor(2n) !== undefined);
    expect(session.answerFor(1n)).toBeUndefined();
  });

  it("the per-request deadline (the gateway's timeout_ms) aborts the call and answers DeadlineExceeded, unsigned", async () => {
    const gateway = fakeGateway();
    const fakes = makeFakes();
    const blocked = blockingCapability(fakes);
    startNode(gateway, {}, fakes);
    const session = await gateway.acceptedSession(0);
    session.request(1n, cap(1), 30);
    await session.until(() => session.answerFor(1n) !== undefined);
    expect(session.answerFor(1n)!.outcome).toMatchObject({ case: "failure", value: { code: Code.DeadlineExceeded } });
    expect(blocked.aborted).toBe(1);
  });

  it("bounds requests in flight per gateway: the one over the limit gets ResourceExhausted at once", async () => {
    const gateway = fakeGateway();
    const fakes = makeFakes();
    const blocked = blockingCapability(fakes);
    startNode(gateway, { maxInFlightPerGateway: 2 }, fakes);
    const session = await gateway.acceptedSession(0);
    for (let i = 1; i <= 3; i++) session.request(BigInt(i), cap(i));
    await session.until(() => session.answerFor(3n) !== undefined);
    expect(session.answerFor(3n)!.outcome).toMatchObject({ case: "failure", value: { code: Code.ResourceExhausted, message: "relay node overloaded" } });
    expect(blocked.inside).toBe(2);
    blocked.release();
    await session.until(() => session.answers.length === 3);
  });

  it("a vault outage answers NodeFailure (unsigned, no detail), never a signed answer", async () => {
    const gateway = fakeGateway();
    const fakes = makeFakes();
    fakes.vaultImpl = () => {
      throw new Error("ECONNREFUSED 10.0.0.9");
    };
    startNode(gateway, {}, fakes);
    const session = await gateway.acceptedSession(0);
    session.request(1n, { case: "getSecrets", value: secretsRequest() });
    await session.until(() => session.answers.length === 1);
    expect(session.answers[0]!.outcome).toEqual(
      expect.objectContaining({ case: "failure", value: expect.objectContaining({ code: Code.Internal, message: "internal error" }) }),
    );
  });

  it("sends heartbeats at the interval the gateway announced", async () => {
    const gateway = fakeGateway({ heartbeatIntervalMs: 10 });
    startNode(gateway);
    const session = await gateway.acceptedSession(0);
    await session.until(() => session.heartbeats >= 2);
  });

  it.each([
    ["another gateway id", (c: { gatewayId: string }) => ({ ...c, gatewayId: "gw-evil" })],
    ["another DON id", (c: { donId: string }) => ({ ...c, donId: "don-other" })],
    ["a stale timestamp", (c: { timestampMs: bigint }) => ({ ...c, timestampMs: c.timestampMs - 60_000n })],
    ["a short nonce", (c: { nonce: Uint8Array }) => ({ ...c, nonce: new Uint8Array(4) })],
  ])("refuses a challenge naming %s: no proof is sent, and it redials", async (_name, tamper) => {
    const gateway = fakeGateway({ challenge: tamper as never });
    startNode(gateway);
    await gateway.openedSessions(2); // the first session was refused and the node redialed
    expect(gateway.sessions[0]!.proofReceived).toBe(false);
    expect(gateway.sessions.some((s) => s.accepted)).toBe(false);
  });
});

describe("gateway link liveness", () => {
  it("backs off exponentially with jitter from the injected random, capped, while the gateway refuses", async () => {
    const gateway = fakeGateway({ challenge: (c) => ({ ...c, donId: "other-don" }) });
    const delays: number[] = [];
    const { node } = makeNode({
      options: {
        gateways: [{ url: "http://gateway.invalid", gatewayId: GATEWAY_ID }],
        reconnect: { initialDelayMs: 4, maxDelayMs: 16, multiplier: 2, jitterRatio: 0.5 },
      },
      random: () => 0.5,
      logger: {
        ...silentLogger,
        info: (o: object, msg?: string) => {
          if (msg === "gateway link: reconnecting after delay") delays.push((o as { delayMs: number }).delayMs);
        },
      },
      gatewayClient: () => ({ client: createClient(Gateway, createRouterTransport(gateway.routes)), close() {} }),
    });
    nodes.push(node);
    node.start();
    await gateway.openedSessions(5);
    // base 4, 8, 16, 16 (capped), each minus 0.5 × 0.5 of it
    expect(delays.slice(0, 4)).toEqual([3, 6, 12, 12]);
  });

  it("gives up on a gateway that never answers the hello (handshake timeout) and redials", async () => {
    const gateway = fakeGateway({ stallHandshake: true });
    const { node } = startNode(gateway, { handshakeTimeoutMs: 30 });
    await gateway.openedSessions(2);
    expect(node.links[0]!.completedHandshakes).toBe(0);
  });

  it("redials when the gateway ends the stream, and serves on the new one", async () => {
    const gateway = fakeGateway();
    const { node } = startNode(gateway);
    const first = await gateway.acceptedSession(0);
    first.end();
    const second = await gateway.acceptedSession(1);
    await node.links[0]!.whenReady(1);
    second.request(5n, { case: "getSecrets", value: secretsRequest() });
    await second.until(() => second.answerFor(5n) !== undefined);
    expect(first.answers).toHaveLength(0);
  });
});

describe("unary RelayNode service", () => {
  it("returns the result and a certificate with this node's one signature", async () => {
    const { node } = makeNode();
    nodes.push(node);
    const client = createClient(node.service, createRouterTransport(({ service }) => service(node.service, node.serviceImpl)));
    const res = await client.executeCapability(capabilityRequest());
    expect(res.result?.error).toBe("");
    expect(res.certificate?.signatures).toHaveLength(1);
    const sig = res.certificate!.signatures[0]!;
    expect(Buffer.from(sig.signer)).toEqual(Buffer.from(node.publicKey));
    expect(ed25519Verify(sig.signer, answerSignaturePayload(res.certificate!.resultHash), sig.signature)).toBe(true);
  });

  it("a signed RelayError becomes a ConnectError with its code, message and a signed RelayErrorDetail", async () => {
    const { node } = makeNode();
    nodes.push(node);
    const client = createClient(node.service, createRouterTransport(({ service }) => service(node.service, node.serviceImpl)));
    const err = await client.getSecrets(secretsRequest({ secrets: [] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const ce = ConnectError.from(err);
    expect(ce.code).toBe(Code.InvalidArgument);
    expect(ce.rawMessage).toBe("secrets must be non-empty");
    const [detail] = ce.findDetails(RelayErrorDetailSchema);
    expect(detail?.error?.message).toBe("secrets must be non-empty");
    const sig = detail!.certificate!.signatures[0]!;
    expect(ed25519Verify(node.publicKey, answerSignaturePayload(detail!.certificate!.resultHash), sig.signature)).toBe(true);
  });

  it("a vault outage is a plain Unavailable with no detail", async () => {
    const fakes = makeFakes();
    fakes.vaultImpl = () => {
      throw new ConnectError("dial tcp 10.0.0.9: refused", Code.Unavailable);
    };
    const { node } = makeNode({ fakes });
    nodes.push(node);
    const client = createClient(node.service, createRouterTransport(({ service }) => service(node.service, node.serviceImpl)));
    const err = await client.getSecrets(secretsRequest()).catch((e: unknown) => e);
    const ce = ConnectError.from(err);
    expect(ce.code).toBe(Code.Unavailable);
    expect(ce.rawMessage).toBe("vault unavailable");
    expect(ce.details).toHaveLength(0);
  });
});
