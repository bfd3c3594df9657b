import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { VaultGetSecretsRequestSchema } from "../../../src/contract/index.js";
import { ed25519SignerFromSeed } from "../../../src/domain/crypto/ed25519.js";
import { signVaultNodeRequest, vaultNodeRequestPayload, verifyVaultNodeRequest } from "../../../src/domain/vault/node-request.js";
import { vectorNamed } from "./doc-vectors.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("relay node signatures on GetSecrets (docs/vault.md)", () => {
  const v = vectorNamed("vault.md", "node-get-secrets");
  const signer = ed25519SignerFromSeed(Buffer.from(v["node_seed"]!, "hex"));
  const base = {
    owner: v["owner"]!,
    workflowId: v["workflow_id"]!,
    executionId: v["execution_id"]!,
    secrets: [{ key: "API_KEY" }, { key: "DB", namespace: "payments" }],
    enclavePublicKey: Buffer.from(v["enclave_public_key"]!, "hex"),
    nodePublicKey: signer.publicKey,
    timestampMs: BigInt(v["timestamp_ms"]!),
  };
  const request = create(VaultGetSecretsRequestSchema, base);

  it("matches the documented payload and signature", () => {
    expect(hex(signer.publicKey)).toBe(v["node_public_key"]);
    expect(hex(vaultNodeRequestPayload(request))).toBe(v["payload"]);
    expect(hex(signVaultNodeRequest(signer, request))).toBe(v["signature"]);
  });

  it("verifies a signed request, and not one with any field changed", () => {
    request.nodeSignature = signVaultNodeRequest(signer, request);
    expect(verifyVaultNodeRequest(request)).toBe(true);
    const tampered = [
      { owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" },
      { workflowId: "wf-2" },
      { executionId: "exec-2" },
      { secrets: [{ key: "API_KEY" }] },
      { secrets: [{ key: "DB", namespace: "payments" }, { key: "API_KEY" }] },
      { enclavePublicKey: new Uint8Array(32).fill(1) },
      { timestampMs: request.timestampMs + 1n },
    ];
    for (const change of tampered) {
      expect(verifyVaultNodeRequest(create(VaultGetSecretsRequestSchema, { ...base, nodeSignature: request.nodeSignature, ...change }))).toBe(false);
    }
  });

  it("treats an unset namespace as \"main\" and the owner case-insensitively", () => {
    const explicit = create(VaultGetSecretsRequestSchema, { ...base, owner: request.owner.toLowerCase(), secrets: [{ key: "API_KEY", namespace: "main" }, { key: "DB", namespace: "payments" }] });
    expect(hex(vaultNodeRequestPayload(explicit))).toBe(hex(vaultNodeRequestPayload(request)));
  });

  it("refuses to sign with a key that is not the request's node key", () => {
    const other = ed25519SignerFromSeed(new Uint8Array(32).fill(2));
    expect(() => signVaultNodeRequest(other, request)).toThrow("nodePublicKey must be the signing node's own public key");
  });
});
