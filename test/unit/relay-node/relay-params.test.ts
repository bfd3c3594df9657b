import { describe, expect, it } from "vitest";
import { validateCapabilityParams, validateSecretsParams } from "../../../src/domain/relay-params/validation.js";
import { capabilityRequest, OWNER_EIP55, secretsRequest } from "../../service/relay-node/fixtures.js";

function messageOf(v: ReturnType<typeof validateSecretsParams>): string | null {
  return v.kind === "invalid" ? v.message : null;
}

describe("secrets params validation (upstream Validate() messages)", () => {
  it("accepts a valid request, normalizes the owner to EIP-55 and fills the default namespace in request order", () => {
    const v = validateSecretsParams(secretsRequest());
    expect(v.kind).toBe("ok");
    if (v.kind !== "ok" || v.params.kind !== "secrets") throw new Error("unreachable");
    expect(v.params.owner).toBe(OWNER_EIP55);
    expect(v.params.secrets).toEqual([
      { key: "API_KEY", namespace: "main" },
      { key: "DB_PASSWORD", namespace: "prod" },
    ]);
  });

  it.each([
    ["request_id", { requestId: "" }, "request_id is required"],
    ["request_id length", { requestId: "x".repeat(201) }, "request_id must be at most 200 characters"],
    ["workflow_id", { workflowId: "" }, "workflow_id is required"],
    ["owner missing", { owner: "" }, "owner is required"],
    ["owner not hex", { owner: "0xowner" }, "owner must be a 0x-prefixed 20-byte hex address"],
    ["owner without 0x", { owner: "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed" }, "owner must be a 0x-prefixed 20-byte hex address"],
    ["execution_id", { executionId: "" }, "execution_id is required"],
    ["secrets empty", { secrets: [] }, "secrets must be non-empty"],
    ["secrets too many", { secrets: Array.from({ length: 65 }, (_, i) => ({ key: `K${i}` })) }, "secrets must have at most 64 entries"],
    ["secret key", { secrets: [{ key: "A" }, { key: "" }] }, "secrets[1].key is required"],
    ["enclave key missing", { enclavePublicKey: new Uint8Array() }, "enclave_public_key is required"],
    ["enclave key size", { enclavePublicKey: new Uint8Array(31) }, "enclave_public_key must be a 32-byte X25519 public key"],
    ["enclave config missing", { enclaveConfig: undefined }, "enclave_config is required"],
    ["enclave config empty", { enclaveConfig: { signers: [], f: 1 } }, "enclave_config.signers must be non-empty"],
    ["enclave config signer empty", { enclaveConfig: { signers: [new Uint8Array(32), new Uint8Array()], f: 1 } }, "enclave_config.signers[1] is empty"],
    ["timestamp", { timestampMs: 0n }, "timestamp_ms is required"],
  ] as const)("rejects %s", (_name, override, message) => {
    expect(messageOf(validateSecretsParams(secretsRequest(override as never)))).toBe(message);
  });

  it("reports the first problem in field order, so every node reports the same one", () => {
    expect(messageOf(validateSecretsParams(secretsRequest({ workflowId: "", owner: "bad", secrets: [] })))).toBe(
      "workflow_id is required",
    );
  });
});

describe("capability params validation", () => {
  it("defaults reference_id to the request id", () => {
    const v = validateCapabilityParams(capabilityRequest({ referenceId: "", requestId: "req-77" }));
    if (v.kind !== "ok" || v.params.kind !== "capability") throw new Error("expected ok");
    expect(v.params.referenceId).toBe("req-77");
    expect(v.params.owner).toBe(OWNER_EIP55);
  });

  it("keeps an explicit reference_id", () => {
    const v = validateCapabilityParams(capabilityRequest());
    if (v.kind !== "ok" || v.params.kind !== "capability") throw new Error("expected ok");
    expect(v.params.referenceId).toBe("17");
  });

  it.each([
    ["capability_id", { capabilityId: "" }, "capability_id is required"],
    ["payload", { payload: new Uint8Array() }, "payload is required"],
    ["owner", { owner: "0x1234" }, "owner must be a 0x-prefixed 20-byte hex address"],
    ["execution_id", { executionId: "" }, "execution_id is required"],
    ["enclave config", { enclaveConfig: undefined }, "enclave_config is required"],
  ] as const)("rejects missing %s", (_name, override, message) => {
    const v = validateCapabilityParams(capabilityRequest(override as never));
    expect(v.kind === "invalid" ? v.message : null).toBe(message);
  });
});
