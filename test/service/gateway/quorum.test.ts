import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  relayBindingHash,
  relayResultHash,
  RelayErrorDetailSchema,
  type RelayParams,
} from "../../../src/contract/index.js";
import { verifyQuorumCertificate } from "../../../src/domain/quorum/certificate.js";
import { honestResult, relayErrorResult, testSigner, type FakeNodeBehavior } from "../../support/fake-nodes.js";
import { capabilityRequest, metricValue, secretsRequest, startGatewayFixture, type GatewayFixture } from "./fixtures.js";

let fx: GatewayFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

function donConfig(n: number, f: number) {
  return { signers: Array.from({ length: n }, (_, i) => testSigner(i).publicKey), f };
}

describe("gateway quorum over signed node answers", () => {
  it("answers GetSecrets with the honest result and an F+1 certificate the enclave can verify", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const req = secretsRequest("req-1");
    const res = await fx.client.getSecrets(req);
    const params: RelayParams = { case: "getSecrets", value: req };
    const expected = honestResult(params);
    expect(res.result).toEqual(expected.value);
    const hash = relayResultHash(relayBindingHash(params), expected);
    expect(verifyQuorumCertificate(res.certificate, hash, donConfig(4, 1)).kind).toBe("valid");
    expect(res.certificate?.signatures).toHaveLength(2);
    const signers = res.certificate!.signatures.map((s) => Buffer.from(s.signer).toString("hex"));
    expect(signers).toEqual([...signers].sort());
    expect(fx.gateway.core.inFlightCount).toBe(0);
    // Metrics: requests by method and outcome, the latency histogram, in-flight, per-node answers.
    const method = { method: "confidential.secrets.get" };
    expect(await metricValue(fx.registry, "ccr_gateway_requests_total", { ...method, outcome: "ok" })).toBe(1);
    expect(await metricValue(fx.registry, "ccr_gateway_request_duration_seconds_count", method)).toBe(1);
    expect(await metricValue(fx.registry, "ccr_gateway_requests_in_flight")).toBe(0);
    expect(await metricValue(fx.registry, "ccr_gateway_nodes_connected")).toBe(4);
    expect(await metricValue(fx.registry, "ccr_gateway_node_answers_total", { outcome: "ok" })).toBe(2);
    expect(await metricValue(fx.registry, "ccr_gateway_node_answer_duration_seconds_count")).toBe(2);
  });

  it("answers ExecuteCapability the same way (upstream CapabilityExecMethod)", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const res = await fx.client.executeCapability(capabilityRequest("cap-1"));
    expect(new TextDecoder().decode(res.result?.payload)).toBe("hello");
    expect(res.certificate?.signatures).toHaveLength(2);
    for (const node of fx.don.nodes) expect(node.requests.map((r) => r.params.case)).toEqual(["executeCapability"]);
  });

  it("reaches quorum over a divergent node (upstream QuorumWithDivergentResponses)", async () => {
    fx = await startGatewayFixture({ behaviors: ["divergent", "honest", "honest", "silent"], f: 1 });
    const req = secretsRequest("req-div");
    const res = await fx.client.getSecrets(req);
    expect(res.result).toEqual(honestResult({ case: "getSecrets", value: req }).value);
  });

  it.each<[string, FakeNodeBehavior]>([
    ["divergent results", "divergent"],
    ["forged signatures", "forged-signature"],
    ["wrong result hashes", "wrong-hash"],
  ])("F Byzantine nodes with %s never change the answer (F=2, N=7)", async (_name, byzantine) => {
    fx = await startGatewayFixture({
      behaviors: [byzantine, byzantine, "honest", "honest", "honest", "honest", "honest"],
      f: 2,
    });
    for (let i = 0; i < 5; i++) {
      const req = capabilityRequest(`byz-${i}`);
      const res = await fx.client.executeCapability(req);
      expect(new TextDecoder().decode(res.result?.payload)).toBe("hello");
      const members = new Set(fx.don.keys.slice(2).map((k) => Buffer.from(k).toString("hex")));
      for (const s of res.certificate!.signatures) expect(members.has(Buffer.from(s.signer).toString("hex"))).toBe(true);
    }
  });

  it("ignores invalid signatures: forged answers alone never make a quorum", async () => {
    fx = await startGatewayFixture({ behaviors: ["forged-signature", "forged-signature", "forged-signature", "honest"], f: 1 });
    const err = ConnectError.from(await fx.client.getSecrets(secretsRequest("req-forged")).catch((e: unknown) => e));
    // Each forged answer uses up its member's one answer; the honest one alone is not a quorum, and
    // the gateway fails as soon as that is certain (before or after the honest answer arrives).
    expect(err.code).toBe(Code.Unavailable);
    const m = /^quorum unobtainable: requiredQuorum=2, maxBucket=(\d+), remaining=(\d+)$/.exec(err.rawMessage);
    expect(Number(m?.[1]) + Number(m?.[2])).toBe(1);
    expect(await metricValue(fx.registry, "ccr_gateway_node_answers_total", { outcome: "bad_signature" })).toBe(3);
  });

  it("fails at once when no result can reach F+1 (upstream QuorumUnobtainable)", async () => {
    fx = await startGatewayFixture({ behaviors: ["divergent", "divergent", "divergent", "divergent"], f: 1 });
    const err = ConnectError.from(await fx.client.getSecrets(secretsRequest("req-unob")).catch((e: unknown) => e));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("quorum unobtainable: requiredQuorum=2, maxBucket=1, remaining=0");
    expect(await metricValue(fx.registry, "ccr_gateway_quorum_failures_total", { reason: "unobtainable" })).toBe(1);
    expect(await metricValue(fx.registry, "ccr_gateway_node_answers_total", { outcome: "divergent" })).toBe(4);
  });

  it("node failures count as gone: fails fast once F+1 can no longer answer", async () => {
    fx = await startGatewayFixture({ behaviors: ["fail", "fail", "fail", "honest"], f: 1 });
    const err = ConnectError.from(await fx.client.getSecrets(secretsRequest("req-fail")).catch((e: unknown) => e));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/^quorum unobtainable: requiredQuorum=2, maxBucket=[01], remaining=[01]$/);
    expect(fx.gateway.core.inFlightCount).toBe(0);
  });

  it("answers with the error F+1 nodes agreed on, with its code and a RelayErrorDetail", async () => {
    const agreed = relayErrorResult(Code.NotFound, "secret not found: main/API_KEY");
    fx = await startGatewayFixture({ behaviors: [{ result: agreed }, { result: agreed }, "fail", "divergent"], f: 1 });
    const req = secretsRequest("req-err");
    const err = ConnectError.from(await fx.client.getSecrets(req).catch((e: unknown) => e));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("secret not found: main/API_KEY");
    expect(err.rawMessage).not.toContain("quorum");
    const [detail] = err.findDetails(RelayErrorDetailSchema);
    expect(detail?.error?.message).toBe("secret not found: main/API_KEY");
    const hash = relayResultHash(relayBindingHash({ case: "getSecrets", value: req }), agreed);
    expect(verifyQuorumCertificate(detail?.certificate, hash, donConfig(4, 1)).kind).toBe("valid");
    expect(await metricValue(fx.registry, "ccr_gateway_requests_total", { outcome: "relay_error" })).toBe(1);
  });

  it("does not forward a user error that fewer than F+1 nodes signed", async () => {
    const lone = relayErrorResult(Code.InvalidArgument, "bad params");
    fx = await startGatewayFixture({ behaviors: [{ result: lone }, "honest", "honest", "honest"], f: 1 });
    const res = await fx.client.getSecrets(secretsRequest("req-lone"));
    expect(res.certificate?.signatures).toHaveLength(2);
  });

  it("counts the first answer per node; duplicates and late answers are ignored and counted", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "silent", "silent", "silent"], f: 1 });
    const [node0] = fx.don.nodes;
    const pending = fx.client.getSecrets(secretsRequest("req-dup-answers"));
    await node0!.waitFor(() => node0!.requests.length === 1);
    const relayId = node0!.requests[0]!.relayId;
    // node 0 answers again (duplicate); node 1 answers a relay id nobody asked (late/unknown).
    node0!.send({ case: "answer", value: { relayId, outcome: { case: "failure", value: { code: 14, message: "x" } } } });
    fx.don.nodes[1]!.send({ case: "answer", value: { relayId: 999_999n, outcome: { case: "failure", value: { code: 14, message: "x" } } } });
    // node 2: the largest uint64 (beyond any id the gateway hands out, and beyond a JS number).
    fx.don.nodes[2]!.send({ case: "answer", value: { relayId: 2n ** 64n - 1n, outcome: { case: "failure", value: { code: 14, message: "x" } } } });
    await vi.waitFor(async () => {
      expect(await metricValue(fx!.registry, "ccr_gateway_node_answers_total", { outcome: "duplicate" })).toBe(1);
      expect(await metricValue(fx!.registry, "ccr_gateway_node_answers_total", { outcome: "late" })).toBe(2);
    });
    expect(fx.gateway.core.inFlightCount).toBe(1);
    fx.gateway.close();
    await expect(pending).rejects.toThrow("gateway is shutting down");
  });
});
