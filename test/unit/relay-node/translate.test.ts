import { describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CapabilityExecuteResponseSchema,
  SecretErrorKind,
  SecretsResultSchema,
  VaultGetSecretsResponseSchema,
  sdk,
} from "../../../src/contract/index.js";
import {
  encodeCapabilityResponsePayload,
  translateCapabilityResponse,
  translateVaultResponse,
} from "../../../src/services/relay-node/translate.js";

const requested = [
  { key: "B", namespace: "main" },
  { key: "A", namespace: "prod" },
  { key: "MISSING", namespace: "main" },
];

function encrypted(key: string, namespace: string | undefined, fill: number) {
  return {
    id: { key, namespace },
    outcome: { case: "encrypted" as const, value: { encapsulatedKey: new Uint8Array(32).fill(fill), ciphertext: new Uint8Array([fill, fill]) } },
  };
}

describe("vault answer translation", () => {
  it("keeps request order, fills the namespace and rewrites not-found into the node's own message", () => {
    const response = create(VaultGetSecretsResponseSchema, {
      results: [
        encrypted("B", undefined, 1), // vault left the namespace unset: still "main"
        encrypted("A", "prod", 2),
        { id: { key: "MISSING", namespace: "main" }, outcome: { case: "error", value: { kind: SecretErrorKind.NOT_FOUND, message: "whatever the vault said" } } },
      ],
    });
    const t = translateVaultResponse(requested, response);
    if (t.kind !== "ok") throw new Error(t.reason);
    expect(t.result.secrets.map((s) => [s.id?.key, s.id?.namespace, s.outcome.case])).toEqual([
      ["B", "main", "encrypted"],
      ["A", "prod", "encrypted"],
      ["MISSING", "main", "error"],
    ]);
    expect(t.result.secrets[2]!.outcome.value).toMatchObject({ kind: SecretErrorKind.NOT_FOUND, message: "secret not found: main/MISSING" });
  });

  it("gives byte-identical results for the same vault answer", () => {
    const response = create(VaultGetSecretsResponseSchema, { results: [encrypted("B", "main", 1), encrypted("A", "prod", 2), encrypted("MISSING", "main", 3)] });
    const a = translateVaultResponse(requested, response);
    const b = translateVaultResponse(requested, fromBinary(VaultGetSecretsResponseSchema, toBinary(VaultGetSecretsResponseSchema, response)));
    if (a.kind !== "ok" || b.kind !== "ok") throw new Error("expected ok");
    expect(Buffer.from(toBinary(SecretsResultSchema, a.result))).toEqual(Buffer.from(toBinary(SecretsResultSchema, b.result)));
  });

  it.each([
    ["a missing entry", [encrypted("B", "main", 1), encrypted("A", "prod", 2)]],
    ["entries out of order", [encrypted("A", "prod", 2), encrypted("B", "main", 1), encrypted("MISSING", "main", 3)]],
    ["an entry with no outcome", [encrypted("B", "main", 1), encrypted("A", "prod", 2), { id: { key: "MISSING", namespace: "main" } }]],
  ])("treats %s as a vault fault, not an answer", (_name, results) => {
    expect(translateVaultResponse(requested, create(VaultGetSecretsResponseSchema, { results })).kind).toBe("malformed");
  });
});

describe("capability answer translation", () => {
  it("wraps the capability's bytes verbatim in one CapabilityResponse{payload} field: 0x0a ‖ len ‖ bytes", () => {
    const bytes = new TextEncoder().encode("result-proto-bytes");
    const result = translateCapabilityResponse(create(CapabilityExecuteResponseSchema, { payload: bytes }));
    expect(Buffer.from(result.payload)).toEqual(Buffer.concat([Buffer.from([0x0a, bytes.length]), Buffer.from(bytes)]));
    expect(result.error).toBe("");
    const decoded = fromBinary(sdk.CapabilityResponseSchema, result.payload);
    expect(decoded.response).toEqual({ case: "payload", value: bytes });
  });

  it("returns a capability failure in result.error with no payload (upstream)", () => {
    const result = translateCapabilityResponse(create(CapabilityExecuteResponseSchema, { error: "execution failed" }));
    expect(result.error).toBe("execution failed");
    expect(result.payload).toHaveLength(0);
  });
});

describe("CapabilityResponse{payload} encoding", () => {
  it.each([0, 1, 127, 128, 300, 16_383, 16_384, 2_097_152])("is byte-identical to protobuf-es toBinary for %i bytes", (n) => {
    const bytes = new Uint8Array(n).map((_, i) => i & 0xff);
    const expected = toBinary(sdk.CapabilityResponseSchema, create(sdk.CapabilityResponseSchema, { response: { case: "payload", value: bytes } }));
    expect(Buffer.from(encodeCapabilityResponsePayload(bytes)).equals(Buffer.from(expected))).toBe(true);
  });
});
