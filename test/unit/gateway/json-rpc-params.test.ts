import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { RelayMethod, secretsBindingHash } from "../../../src/contract/index.js";
import { jsonRpcCodeOf } from "../../../src/services/gateway/json-rpc.js";
import { paramsFromJsonRpc } from "../../../src/services/gateway/json-rpc-params.js";

const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString("base64");

// Upstream's latest SecretsRequestParams key order and names (chainlink-relay.md §2.4), plus ccr's keys.
const upstreamSecrets = {
  workflow_id: "ab".repeat(32),
  owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  execution_id: "cd".repeat(32),
  org_id: "org-1",
  secrets: [{ key: "API_KEY", namespace: "" }, { key: "DB_PASSWORD", namespace: "prod" }],
  enclave_public_key: "07".repeat(32),
  enclave_config: { signers: [b64(new Uint8Array(32).fill(2))], master_public_key: "bXBr", t: 3, f: 1 },
  attestation: b64("attestation-doc"),
  signed_compute_requests: [{ ignored: true }],
  timestamp_ms: 1_700_000_000_000,
  session_signature: b64(new Uint8Array(64).fill(9)),
  authorization: { signatures: [{ signer: b64(new Uint8Array(32).fill(10)), signature: b64(new Uint8Array(64).fill(11)) }] },
};

describe("JSON-RPC params mapping", () => {
  it("maps upstream secrets params (plus ccr's keys) onto GetSecretsRequest; the JSON-RPC id is the request id", () => {
    const r = paramsFromJsonRpc(RelayMethod.getSecrets, "req-1", upstreamSecrets);
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok" || r.params.case !== "getSecrets") return;
    const v = r.params.value;
    expect(v.requestId).toBe("req-1");
    expect(v.workflowId).toBe("ab".repeat(32));
    expect(v.orgId).toBe("org-1");
    expect(v.secrets.map((s) => [s.key, s.namespace])).toEqual([
      ["API_KEY", undefined],
      ["DB_PASSWORD", "prod"],
    ]);
    expect(v.enclavePublicKey).toEqual(new Uint8Array(32).fill(7));
    expect(v.enclaveConfig?.f).toBe(1);
    expect(v.enclaveConfig?.signers).toEqual([new Uint8Array(32).fill(2)]);
    expect(new TextDecoder().decode(v.attestation?.document)).toBe("attestation-doc");
    expect(v.attestation?.sessionSignature).toEqual(new Uint8Array(64).fill(9));
    expect(v.timestampMs).toBe(1_700_000_000_000n);
    expect(v.authorization?.signatures[0]?.signer).toEqual(new Uint8Array(32).fill(10));
    expect(secretsBindingHash(v)).toHaveLength(32);
  });

  it("maps capability params, with the payload as base64 and a timestamp as a decimal string", () => {
    const r = paramsFromJsonRpc(RelayMethod.executeCapability, "cap-1", {
      workflow_id: "wf",
      owner: "0x00",
      execution_id: "ex",
      reference_id: "17",
      capability_id: "echo@1.0.0",
      payload: b64("hello"),
      timestamp_ms: "1700000000000",
    });
    expect(r.kind === "ok" && r.params.case === "executeCapability" && r.params.value).toMatchObject({
      requestId: "cap-1",
      referenceId: "17",
      capabilityId: "echo@1.0.0",
      payload: new TextEncoder().encode("hello"),
      timestampMs: 1_700_000_000_000n,
    });
  });

  it.each<[string, unknown, string]>([
    ["params not an object", [], "params must be an object"],
    ["a non-string field", { workflow_id: 5 }, "workflow_id must be a string"],
    ["non-hex enclave key", { enclave_public_key: "zz" }, "enclave_public_key must be hex-encoded"],
    ["odd-length hex", { enclave_public_key: "abc" }, "enclave_public_key must be hex-encoded"],
    ["bad base64 attestation", { attestation: "not base64!" }, "attestation must be standard base64"],
    ["secrets not an array", { secrets: {} }, "secrets must be an array"],
    ["a secret not an object", { secrets: ["API_KEY"] }, "secrets[0] must be an object"],
    ["a negative timestamp", { timestamp_ms: -1 }, "timestamp_ms must be a non-negative integer (ms since the Unix epoch)"],
    ["a fractional f", { enclave_config: { f: 1.5 } }, "enclave_config.f must be a non-negative integer"],
    ["bad signer base64", { enclave_config: { signers: ["%%"] } }, "enclave_config.signers[0] must be standard base64"],
    ["authorization signatures not an array", { authorization: { signatures: 1 } }, "authorization.signatures must be an array"],
  ])("refuses %s, naming the key", (_name, params, reason) => {
    expect(paramsFromJsonRpc(RelayMethod.getSecrets, "r", params)).toEqual({ kind: "invalid", reason });
  });

  it("maps Connect codes to upstream JSON-RPC codes", () => {
    expect(jsonRpcCodeOf(Code.InvalidArgument)).toBe(-32602);
    expect(jsonRpcCodeOf(Code.NotFound)).toBe(-32602);
    expect(jsonRpcCodeOf(Code.AlreadyExists)).toBe(-32600);
    expect(jsonRpcCodeOf(Code.DeadlineExceeded)).toBe(-32000);
    expect(jsonRpcCodeOf(Code.ResourceExhausted)).toBe(-32002);
    expect(jsonRpcCodeOf(Code.Unavailable)).toBe(-32603);
    expect(jsonRpcCodeOf(Code.Internal)).toBe(-32603);
  });
});
