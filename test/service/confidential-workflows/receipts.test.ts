/**
 * Relay receipts in the Execute answer (confidential_workflows.proto `relay_receipts`, issue 8):
 * one per relay answer the execution used whose certificate verified, in call order — the
 * vault_don_secrets fetch first, then the guest's calls — each naming the request and carrying only
 * the signatures the enclave counted; none for answers it refused; bounded per execution.
 */
import { toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { answerSignaturePayload, QuorumCertificateSchema, type ConfidentialWorkflowResponse, type QuorumCertificate } from "../../../src/contract/index.js";
import { ed25519Verify } from "../../../src/domain/crypto/ed25519.js";
import { MAX_RELAY_RECEIPTS } from "../../../src/services/confidential-workflows/index.js";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import { assemble, op } from "../../fixtures/wasm/modules.js";
import {
  executeRequest,
  F,
  hex,
  MEMBERS,
  resultOf,
  startHarness,
  STRANGER,
  subscribeRequest,
  triggerRequest,
  type CertificatePlan,
  type GatewayPlan,
  type Harness,
} from "./harness.js";

let probe: Uint8Array;
const harnesses: Harness[] = [];

beforeAll(async () => {
  probe = await conformanceGuestWasm();
}, 240_000);

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function harness(): Promise<Harness> {
  const h = await startHarness();
  harnesses.push(h);
  return h;
}

function execute(h: Harness, config: unknown, options: Parameters<typeof executeRequest>[2] = {}): Promise<ConfidentialWorkflowResponse> {
  return h.client.execute(executeRequest(h.binary(probe, "probe.wasm"), triggerRequest(config, Buffer.from('{"n":1}')), options));
}

const QUORUM = MEMBERS.slice(0, F + 1)
  .map((m) => hex(m.publicKey))
  .sort();

/** A certificate's wire bytes, hex (deterministic for these messages: no maps). */
const wire = (certificate: QuorumCertificate | undefined): string => hex(toBinary(QuorumCertificateSchema, certificate!));

/** Every signature of `certificate` verifies over its own result hash; answers the signers. */
function reverify(certificate: QuorumCertificate | undefined): string[] {
  expect(certificate).toBeDefined();
  const payload = answerSignaturePayload(certificate!.resultHash);
  for (const sig of certificate!.signatures) expect(ed25519Verify(sig.signer, payload, sig.signature)).toBe(true);
  return certificate!.signatures.map((s) => hex(s.signer));
}

/** A hand-assembled guest whose `execute` makes `calls` echo calls in a row, then answers "done". */
function manyCallsGuest(calls: number): Uint8Array {
  const call = Buffer.from(JSON.stringify({ id: "echo@1.0.0", method: "Execute", payload: Buffer.from("{}").toString("base64") }));
  const result = Buffer.from('{"value":"done"}');
  const oneCall = [...op.i32Const(1024), ...op.i32Const(call.length), ...op.call(0), ...op.drop];
  return assemble({
    imports: [{ module: "ccr", name: "call_capability", params: ["i32", "i32"], results: ["i64"] }],
    memory: { min: 1 },
    funcs: [
      { params: ["i32"], results: ["i32"], body: op.i32Const(8192), export: "alloc" },
      { params: ["i32", "i32"], results: ["i64"], body: [...Array.from({ length: calls }, () => oneCall).flat(), ...op.i64Const((2048n << 32n) | BigInt(result.length))], export: "execute" },
    ],
    data: [
      { offset: 1024, bytes: call },
      { offset: 2048, bytes: result },
    ],
  });
}

describe("relay receipts", () => {
  it("one per certified answer, in call order: the vault_don_secrets fetch, then the guest's calls", async () => {
    const h = await harness();
    h.gateway.secrets.set("main/OTHER", "other-value");
    const secrets = await execute(h, { mode: "secrets", keys: ["API_KEY", "OTHER"], namespaces: [] }, { secrets: [{ key: "API_KEY" }] });
    const capability = await execute(h, { mode: "capability", id: "echo@1.0.0" }, { secrets: [{ key: "API_KEY" }] });
    const [prefetch, guestFetch, prefetch2] = h.gateway.secretRequests.map((r) => r.requestId);
    const [call] = h.gateway.capabilityRequests.map((r) => r.requestId);

    expect(secrets.relayReceipts.map((r) => [r.method, r.requestId])).toEqual([
      ["confidential.secrets.get", prefetch],
      ["confidential.secrets.get", guestFetch],
    ]);
    expect(capability.relayReceipts.map((r) => [r.method, r.requestId])).toEqual([
      ["confidential.secrets.get", prefetch2],
      ["confidential.capability.execute", call],
    ]);
    // An honest certificate comes back as the gateway sent it: F+1 members over the answer's result hash.
    for (const receipt of [...secrets.relayReceipts, ...capability.relayReceipts]) {
      expect(wire(receipt.certificate)).toBe(wire(h.gateway.certificates.get(receipt.requestId)));
      expect(reverify(receipt.certificate)).toEqual(QUORUM);
    }
  });

  it("carry only the signatures the enclave counted: no stranger, no bad duplicate entry", async () => {
    const h = await harness();
    h.gateway.plan = "padded";
    const res = await execute(h, { mode: "capability", id: "echo@1.0.0" });
    expect(resultOf(res.executionResult).result.case).toBe("value"); // still a valid quorum
    const sent = h.gateway.certificates.get(h.gateway.capabilityRequests[0]!.requestId)!;
    expect(sent.signatures.map((s) => hex(s.signer))).toContain(hex(STRANGER.publicKey));
    expect(sent.signatures).toHaveLength(F + 3);
    const [receipt] = res.relayReceipts;
    expect(res.relayReceipts).toHaveLength(1);
    expect(hex(receipt!.certificate!.resultHash)).toBe(hex(sent.resultHash));
    expect(reverify(receipt!.certificate)).toEqual(QUORUM);
  });

  it("an agreed RelayError whose certificate verified has a receipt", async () => {
    const h = await harness();
    h.gateway.plan = { relayError: { code: Code.PermissionDenied, message: "attestation: pcr0 not in allowlist" } };
    const res = await execute(h, { mode: "secrets", keys: ["API_KEY"], namespaces: [] }, { secrets: [{ key: "API_KEY" }] });
    const requestId = h.gateway.secretRequests[0]!.requestId;
    expect(res.relayReceipts.map((r) => [r.method, r.requestId])).toEqual([["confidential.secrets.get", requestId]]);
    expect(wire(res.relayReceipts[0]!.certificate)).toBe(wire(h.gateway.certificates.get(requestId)));
  });

  const refused: Array<[string, GatewayPlan]> = [
    ...(["only-f", "non-member", "other-request", "tampered"] as CertificatePlan[]).map((plan): [string, GatewayPlan] => [plan, plan]),
    ["a RelayError short of a quorum", { relayError: { code: Code.PermissionDenied, message: "no" }, certificate: "only-f" }],
    ["a transport error", { transportError: { code: Code.Unavailable, message: "quorum unobtainable" } }],
  ];

  it.each(refused)("an answer the enclave refused has none: %s", async (_name, plan) => {
    const h = await harness();
    h.gateway.plan = plan;
    const res = await execute(h, { mode: "capability", id: "echo@1.0.0" }, { secrets: [{ key: "API_KEY" }] });
    expect(h.gateway.secretRequests).toHaveLength(1);
    expect(h.gateway.capabilityRequests).toHaveLength(1);
    expect(res.relayReceipts).toEqual([]);
  });

  it("the subscribe phase makes no relay calls and returns none", async () => {
    const h = await harness();
    const res = await h.client.execute(executeRequest(h.binary(probe, "probe.wasm"), subscribeRequest({ mode: "config" }), { executionId: "", secrets: [{ key: "API_KEY" }] }));
    expect(res.relayReceipts).toEqual([]);
    expect(h.gateway.secretRequests).toHaveLength(0);
  });

  it(`keeps the first ${MAX_RELAY_RECEIPTS} of an execution that makes more relay calls, and reports the rest as dropped`, async () => {
    const h = await harness();
    const calls = MAX_RELAY_RECEIPTS + 2;
    const res = await h.client.execute(executeRequest(h.binary(manyCallsGuest(calls)), triggerRequest({})));
    expect(resultOf(res.executionResult).result.case).toBe("value"); // the guest ran on
    expect(h.gateway.capabilityRequests).toHaveLength(calls);
    expect(res.relayReceipts.map((r) => r.requestId)).toEqual(h.gateway.capabilityRequests.slice(0, MAX_RELAY_RECEIPTS).map((r) => r.requestId));
    const dropped = await h.registry.getSingleMetricAsString("ccr_enclave_relay_receipts_dropped_total");
    expect(dropped).toContain("ccr_enclave_relay_receipts_dropped_total 2");
    expect(h.logLines()).toContainEqual(expect.objectContaining({ level: 40, kept: MAX_RELAY_RECEIPTS, dropped: 2 }));
  }, 60_000);
});
