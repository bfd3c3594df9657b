import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  attestationDoc,
  capabilityRequest,
  metricValue,
  secretsRequest,
  startGatewayFixture,
  textSenderEdge,
  waitUntil,
  type GatewayFixture,
} from "./fixtures.js";

let fx: GatewayFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

const HONEST4 = ["honest", "honest", "honest", "honest"] as const;

describe("ingress limits, checked before fan-out (CL112-03)", () => {
  it("the global bucket refuses with ResourceExhausted and a retry-after-ms hint; no node is asked", async () => {
    fx = await startGatewayFixture({
      behaviors: [...HONEST4],
      f: 1,
      manualTime: true,
      options: { ingress: { global: { ratePerSec: 2, burst: 2 } } },
    });
    await fx.client.executeCapability(capabilityRequest("g-1"));
    await fx.client.executeCapability(capabilityRequest("g-2"));
    const err = await failure(fx.client.executeCapability(capabilityRequest("g-3")));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe("gateway request rate limit exceeded; retry after 500 ms");
    expect(err.metadata.get("retry-after-ms")).toBe("500");
    expect(fx.don.nodes[0]!.requests).toHaveLength(2);
    // After the hinted wait, it is admitted.
    fx.manual!.clock.advance(500);
    await expect(fx.client.executeCapability(capabilityRequest("g-4"))).resolves.toBeDefined();
    expect(await metricValue(fx.registry, "ccr_gateway_requests_total", { outcome: "rate_limited" })).toBe(1);
  });

  it("the per-sender bucket limits one enclave without touching another", async () => {
    fx = await startGatewayFixture({
      behaviors: [...HONEST4],
      f: 1,
      manualTime: true,
      edge: textSenderEdge,
      options: { ingress: { perSender: { ratePerSec: 1, burst: 1 } } },
    });
    const fromA = (id: string) => capabilityRequest(id, { attestation: { document: attestationDoc("a") } });
    const fromB = (id: string) => capabilityRequest(id, { attestation: { document: attestationDoc("b") } });
    await fx.client.executeCapability(fromA("a-1"));
    const err = await failure(fx.client.executeCapability(fromA("a-2")));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe("request rate limit exceeded for this sender; retry after 1000 ms");
    expect(err.metadata.get("retry-after-ms")).toBe("1000");
    await expect(fx.client.executeCapability(fromB("b-1"))).resolves.toBeDefined();
  });

  it("caps requests in flight with ResourceExhausted", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent", "silent", "silent"], f: 1, options: { maxInFlight: 2 } });
    const a = failure(fx.client.getSecrets(secretsRequest("cap-1")));
    const b = failure(fx.client.getSecrets(secretsRequest("cap-2")));
    await waitUntil(() => fx!.gateway.core.inFlightCount === 2);
    const err = await failure(fx.client.getSecrets(secretsRequest("cap-3")));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe("too many requests in flight (2); retry after 1000 ms");
    expect(err.metadata.get("retry-after-ms")).toBe("1000");
    fx.gateway.close();
    expect((await a).code).toBe(Code.Unavailable);
    expect((await b).code).toBe(Code.Unavailable);
  });

  it("memory stays bounded under a flood of distinct ids and senders", async () => {
    fx = await startGatewayFixture({
      behaviors: ["silent", "silent", "silent", "silent"],
      f: 1,
      edge: textSenderEdge,
      options: { maxInFlight: 50, ingress: { global: { ratePerSec: 1_000_000, burst: 1_000_000 }, maxSenders: 64 } },
    });
    const calls: Promise<ConnectError>[] = [];
    for (let i = 0; i < 600; i++) {
      calls.push(failure(fx.client.getSecrets(secretsRequest(`flood-${i}`, { attestation: { document: attestationDoc(`sender-${i}`) } }))));
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitUntil(() => fx!.gateway.core.inFlightCount === 50);
    for (let i = 0; i < 2_000 && (await metricValue(fx.registry, "ccr_gateway_requests_total", { outcome: "capacity" })) < 550; i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(fx.gateway.core.senderBucketCount).toBeLessThanOrEqual(64);
    fx.gateway.close();
    const errors = await Promise.all(calls);
    const byCode = new Map<Code, number>();
    for (const e of errors) byCode.set(e.code, (byCode.get(e.code) ?? 0) + 1);
    expect(byCode.get(Code.ResourceExhausted)).toBe(550);
    expect(byCode.get(Code.Unavailable)).toBe(50);
    expect(fx.gateway.core.inFlightCount).toBe(0);
    // Nodes saw only the admitted requests.
    expect(fx.don.nodes[0]!.requests).toHaveLength(50);
  });
});

describe("per-node answer limits", () => {
  it("drops over-limit answers, counts them, and no longer waits for that node (upstream RateLimitedNode)", async () => {
    fx = await startGatewayFixture({
      behaviors: ["honest"],
      f: 0,
      manualTime: true,
      options: { nodeAnswerRate: { ratePerSec: 0.001, burst: 1 } },
    });
    await expect(fx.client.executeCapability(capabilityRequest("rl-1"))).resolves.toBeDefined();
    const err = await failure(fx.client.executeCapability(capabilityRequest("rl-2")));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("quorum unobtainable: requiredQuorum=1, maxBucket=0, remaining=0");
    expect(await metricValue(fx.registry, "ccr_gateway_node_answers_total", { outcome: "rate_limited" })).toBe(1);
  });
});
