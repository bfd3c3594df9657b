import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { capabilityRequest, metricValue, secretsRequest, startGatewayFixture, waitUntil, type GatewayFixture } from "./fixtures.js";

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

/** Lets in-memory stream messages flow for a few event-loop turns. */
async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

describe("fan-out (upstream AllNodesFanOutFail, FanOutWaits…, FanOutFails…, IsConcurrent, BlockedNode…)", () => {
  it("fails with 'failed to forward user request to nodes' when no member is connected", async () => {
    fx = await startGatewayFixture({ behaviors: [], members: 4, f: 1 });
    const err = await failure(fx.client.getSecrets(secretsRequest("req-none")));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("failed to forward user request to nodes");
    expect(fx.gateway.core.inFlightCount).toBe(0);
    expect(await metricValue(fx.registry, "ccr_gateway_quorum_failures_total", { reason: "forward_failed" })).toBe(1);
  });

  it("waits while F+1 members could still answer (2 of 4 reachable)", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent"], members: 4, f: 1 });
    const pending = fx.client.getSecrets(secretsRequest("req-wait"));
    await waitUntil(() => fx!.don.nodes.every((n) => n.requests.length === 1));
    await settle();
    expect(fx.gateway.core.inFlightCount).toBe(1);
    fx.gateway.close();
    await expect(pending).rejects.toThrow("gateway is shutting down");
  });

  it("fails at send time when fewer than F+1 members are reachable (1 of 4)", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest"], members: 4, f: 1 });
    const err = await failure(fx.client.getSecrets(secretsRequest("req-one")));
    expect(err.rawMessage).toBe("failed to forward user request to nodes");
    expect(fx.gateway.core.inFlightCount).toBe(0);
  });

  it("sends to every member at once and answers as soon as F+1 agree", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "silent", "silent"], f: 1 });
    await fx.client.executeCapability(capabilityRequest("req-all"));
    await waitUntil(() => fx!.don.nodes.every((n) => n.requests.length === 1));
    // The two silent members were still working: they are told to stop.
    for (const node of fx.don.nodes.slice(2)) {
      await node.waitFor(() => node.cancels.size === 1);
      expect([...node.cancels.values()]).toEqual(["quorum reached"]);
    }
  });

  it("a node that accepts no writes does not stall the others", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], blocked: [3], f: 1 });
    for (let i = 0; i < 5; i++) {
      const res = await fx.client.executeCapability(capabilityRequest(`blk-${i}`));
      expect(res.certificate?.signatures).toHaveLength(2);
    }
    expect(fx.don.nodes[3]!.requests).toHaveLength(0);
    expect(fx.gateway.core.connectedMembers).toEqual([0, 1, 2, 3]);
  });

  it("a send that does not complete within nodeSendTimeoutMs counts as that node failing (manual time)", async () => {
    fx = await startGatewayFixture({
      behaviors: ["honest", "fail", "fail", "honest"],
      blocked: [3],
      f: 1,
      manualTime: true,
      options: { nodeSendTimeoutMs: 50 },
    });
    let settled: ConnectError | "ok" | undefined;
    const call = fx.client.getSecrets(secretsRequest("req-blocked")).then(
      () => (settled = "ok"),
      (e: unknown) => (settled = ConnectError.from(e)),
    );
    await waitUntil(() => fx!.don.nodes.slice(0, 3).every((n) => n.requests.length === 1));
    await settle();
    fx.manual!.timers.advance(49);
    await settle();
    expect(settled).toBeUndefined();
    fx.manual!.timers.advance(1);
    await call;
    expect(settled).toBeInstanceOf(ConnectError);
    const err = settled as ConnectError;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("quorum unobtainable: requiredQuorum=2, maxBucket=1, remaining=0");
  });

  it("a stream lost mid-request counts as that node gone", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent"], members: 4, f: 1 });
    const call = failure(fx.client.getSecrets(secretsRequest("req-lost")));
    await waitUntil(() => fx!.don.nodes.every((n) => n.requests.length === 1));
    await fx.don.nodes[0]!.stop();
    const err = await call;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("quorum unobtainable: requiredQuorum=2, maxBucket=0, remaining=1");
  });
});

describe("deadlines (manual time; upstream RequestTimeout, TimeoutNoResponses)", () => {
  it("expires exactly at requestTimeoutMs with DeadlineExceeded and tells the nodes", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent", "silent", "silent"], f: 1, manualTime: true });
    let settled: ConnectError | undefined;
    const call = fx.client.getSecrets(secretsRequest("req-exp")).catch((e: unknown) => (settled = ConnectError.from(e)));
    await waitUntil(() => fx!.don.nodes.every((n) => n.requests.length === 1));
    expect(fx.don.nodes[0]!.requests[0]!.timeoutMs).toBe(30_000);
    fx.manual!.timers.advance(29_999);
    await settle();
    expect(settled).toBeUndefined();
    expect(fx.gateway.core.inFlightCount).toBe(1);
    fx.manual!.timers.advance(1);
    await call;
    expect(settled?.code).toBe(Code.DeadlineExceeded);
    expect(settled?.rawMessage).toBe("request expired: got 0/2 matching responses");
    expect(fx.gateway.core.inFlightCount).toBe(0);
    for (const node of fx.don.nodes) {
      await node.waitFor(() => node.cancels.size === 1);
      expect([...node.cancels.values()]).toEqual(["deadline exceeded"]);
    }
    expect(await metricValue(fx.registry, "ccr_gateway_quorum_failures_total", { reason: "expired" })).toBe(1);
  });

  it("reports how many matching answers it had when it expired", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "silent", "silent", "silent"], f: 1, manualTime: true });
    const call = failure(fx.client.getSecrets(secretsRequest("req-exp1")));
    await vi_waitForAnswer(fx);
    fx.manual!.timers.advance(30_000);
    const err = await call;
    expect(err.rawMessage).toBe("request expired: got 1/2 matching responses");
  });

  it("uses the client's deadline minus the margin when it is sooner, so the gateway answers first", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent", "silent", "silent"], f: 1, manualTime: true });
    let settled: ConnectError | undefined;
    const call = fx.client
      .getSecrets(secretsRequest("req-client-deadline"), { timeoutMs: 5_000 })
      .catch((e: unknown) => (settled = ConnectError.from(e)));
    await waitUntil(() => fx!.don.nodes.every((n) => n.requests.length === 1));
    const budget = fx.don.nodes[0]!.requests[0]!.timeoutMs;
    // 5 000 ms minus the 50 ms margin, minus the few real ms the call took to arrive.
    expect(budget).toBeLessThanOrEqual(4_950);
    expect(budget).toBeGreaterThan(4_000);
    fx.manual!.timers.advance(budget - 1);
    await settle();
    expect(settled).toBeUndefined();
    fx.manual!.timers.advance(1);
    await call;
    expect(settled?.code).toBe(Code.DeadlineExceeded);
    expect(settled?.rawMessage).toBe("request expired: got 0/2 matching responses");
  });

  it("leaves the in-flight table exactly once even when answers arrive after expiry", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent", "silent", "silent"], f: 1, manualTime: true });
    const call = failure(fx.client.getSecrets(secretsRequest("req-once")));
    await waitUntil(() => fx!.don.nodes.every((n) => n.requests.length === 1));
    fx.manual!.timers.advance(30_000);
    await call;
    // Every node answers late now.
    for (const node of fx.don.nodes) {
      node.send({ case: "answer", value: { relayId: node.requests[0]!.relayId, outcome: { case: "failure", value: { code: 14, message: "late" } } } });
    }
    await waitUntilAsync(async () => (await metricValue(fx!.registry, "ccr_gateway_node_answers_total", { outcome: "late" })) === 4);
    expect(await metricValue(fx.registry, "ccr_gateway_requests_total")).toBe(1);
    expect(await metricValue(fx.registry, "ccr_gateway_requests_in_flight")).toBe(0);
  });
});

describe("cancellation", () => {
  it("a client cancel reaches every node still working on the request", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent", "silent", "silent"], f: 1 });
    const abort = new AbortController();
    const call = failure(fx.client.getSecrets(secretsRequest("req-cancel"), { signal: abort.signal }));
    await waitUntil(() => fx!.don.nodes.every((n) => n.requests.length === 1));
    abort.abort();
    const err = await call;
    expect(err.code).toBe(Code.Canceled);
    for (const node of fx.don.nodes) {
      await node.waitFor(() => node.cancels.size === 1);
      expect(node.cancels.get(node.requests[0]!.relayId)).toBe("client canceled");
    }
    await waitUntil(() => fx!.gateway.core.inFlightCount === 0);
    await waitUntilAsync(async () => (await metricValue(fx!.registry, "ccr_gateway_requests_total", { outcome: "canceled" })) === 1);
  });
});

async function waitUntilAsync(predicate: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error("timed out waiting");
}

async function vi_waitForAnswer(f: GatewayFixture): Promise<void> {
  await waitUntil(() => f.don.nodes.every((n) => n.requests.length === 1));
  await waitUntilAsync(async () => (await metricValue(f.registry, "ccr_gateway_node_answer_duration_seconds_count")) === 1);
}
