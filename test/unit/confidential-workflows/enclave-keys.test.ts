/**
 * The enclave's keys: opening the Vault's documented secret boxes (docs/secret-encryption.md) with
 * the enclave's X25519 key, the attested key block layout, and session signatures a relay node's
 * check accepts.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ENCLAVE_KEYS_V1_LENGTH, parseEnclaveSessionKeys, verifySessionSignature } from "../../../src/domain/attestation/index.js";
import { sealSecret } from "../../../src/domain/crypto/secret-box.js";
import { enclaveKeysFrom, generateEnclaveKeys } from "../../../src/services/confidential-workflows/enclave-keys.js";

function documentedVectors(): Array<Record<string, string>> {
  const doc = readFileSync(new URL("../../../docs/secret-encryption.md", import.meta.url), "utf8");
  return [...doc.matchAll(/```text vector\n([\s\S]*?)```/g)].map((block) => {
    const fields: Record<string, string> = {};
    for (const line of block[1]!.split("\n")) {
      const match = /^([a-z_]+)\s*=\s*(.*)$/.exec(line.trim());
      if (match) fields[match[1]!] = (fields[match[1]!] ?? "") + match[2]!.trim();
    }
    return fields;
  });
}

const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("enclave keys", () => {
  const vectors = documentedVectors();

  it.each(vectors.map((v, i) => [i + 1, v] as const))("open the Vault's documented vector %i", (_, v) => {
    const keys = enclaveKeysFrom({ encryptionPrivateKey: bytes(v["enclave_private_key"]!), sessionSeed: new Uint8Array(32).fill(1) });
    expect(hex(keys.encryptionPublicKey)).toBe(v["enclave_public_key"]);
    const opened = keys.open(
      { encapsulatedKey: bytes(v["encapsulated_key"]!), ciphertext: bytes(v["ciphertext"]!) },
      { owner: v["owner"]!, namespace: v["namespace"]!, key: v["key"]! },
    );
    expect(opened.kind === "ok" && hex(opened.plaintext)).toBe(v["plaintext"]);
  });

  it("refuse a box opened under another identity", () => {
    const v = vectors[0]!;
    const keys = enclaveKeysFrom({ encryptionPrivateKey: bytes(v["enclave_private_key"]!), sessionSeed: new Uint8Array(32).fill(1) });
    const opened = keys.open({ encapsulatedKey: bytes(v["encapsulated_key"]!), ciphertext: bytes(v["ciphertext"]!) }, { owner: v["owner"]!, namespace: "main", key: "OTHER" });
    expect(opened.kind).toBe("invalid");
  });

  it("round-trip a box sealed to a freshly generated key", () => {
    let n = 0;
    const keys = generateEnclaveKeys((len) => new Uint8Array(len).fill(++n));
    const context = { owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", namespace: "main", key: "API_KEY" };
    const sealed = sealSecret(keys.encryptionPublicKey, Buffer.from("value"), context, new Uint8Array(32).fill(0x42));
    const opened = keys.open(sealed, context);
    expect(opened.kind === "ok" && Buffer.from(opened.plaintext).toString()).toBe("value");
  });

  it("attest both public keys in the ccr-enclave-keys-v1 block, and sign bindings a node accepts", () => {
    const keys = enclaveKeysFrom({ encryptionPrivateKey: new Uint8Array(32).fill(5), sessionSeed: new Uint8Array(32).fill(6) });
    expect(keys.attestedKeyBlock).toHaveLength(ENCLAVE_KEYS_V1_LENGTH);
    const parsed = parseEnclaveSessionKeys(keys.attestedKeyBlock);
    expect(hex(parsed!.sessionPublicKey)).toBe(hex(keys.sessionPublicKey));
    expect(hex(parsed!.encryptionPublicKey)).toBe(hex(keys.encryptionPublicKey));
    const binding = new Uint8Array(32).fill(9);
    const signature = keys.signBinding(binding);
    expect(verifySessionSignature(keys.sessionPublicKey, binding, signature)).toBe(true);
    expect(verifySessionSignature(keys.sessionPublicKey, new Uint8Array(32).fill(8), signature)).toBe(false);
  });

  it("expose no private key material", () => {
    const keys = enclaveKeysFrom({ encryptionPrivateKey: new Uint8Array(32).fill(5), sessionSeed: new Uint8Array(32).fill(6) });
    const text = JSON.stringify(keys, (_, v: unknown) => (v instanceof Uint8Array ? hex(v) : v));
    expect(text).not.toContain("05".repeat(32));
    expect(text).not.toContain("06".repeat(32));
  });
});
