import { createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openSecret, sealSecret, secretBoxInfo, x25519PublicKey } from "../../../src/domain/crypto/secret-box.js";

/** The test vectors exactly as published in docs/secret-encryption.md (`name = value` lines). */
function documentedVectors(): Array<Record<string, string>> {
  const doc = readFileSync(new URL("../../../docs/secret-encryption.md", import.meta.url), "utf8");
  const blocks = [...doc.matchAll(/```text vector\n([\s\S]*?)```/g)];
  return blocks.map((block) => {
    const fields: Record<string, string> = {};
    for (const line of block[1]!.split("\n")) {
      const match = /^([a-z_]+)\s*=\s*(.*)$/.exec(line.trim());
      if (match) fields[match[1]!] = (fields[match[1]!] ?? "") + match[2]!.trim();
    }
    return fields;
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));

describe("secret box (docs/secret-encryption.md)", () => {
  const vectors = documentedVectors();

  it("publishes at least two vectors", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(2);
  });

  it.each(vectors.map((v, i) => [i + 1, v] as const))("vector %i: the enclave decrypts the documented ciphertext", (_, v) => {
    const context = { owner: v["owner"]!, namespace: v["namespace"]!, key: v["key"]! };
    const opened = openSecret(bytes(v["enclave_private_key"]!), { encapsulatedKey: bytes(v["encapsulated_key"]!), ciphertext: bytes(v["ciphertext"]!) }, context);
    expect(opened).toEqual({ kind: "ok", plaintext: bytes(v["plaintext"]!) });
  });

  it.each(vectors.map((v, i) => [i + 1, v] as const))("vector %i: sealing with the fixed ephemeral key gives the documented bytes", (_, v) => {
    const context = { owner: v["owner"]!, namespace: v["namespace"]!, key: v["key"]! };
    const enclavePublicKey = bytes(v["enclave_public_key"]!);
    expect(hex(x25519PublicKey(bytes(v["enclave_private_key"]!)))).toBe(v["enclave_public_key"]);
    expect(hex(secretBoxInfo(enclavePublicKey, bytes(v["encapsulated_key"]!), context))).toBe(v["info"]);
    // The intermediate values, step by step, as the page's re-implementation checklist has them.
    const dh = diffieHellman({
      privateKey: createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), bytes(v["ephemeral_private_key"]!)]), format: "der", type: "pkcs8" }),
      publicKey: createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b656e032100", "hex"), enclavePublicKey]), format: "der", type: "spki" }),
    });
    expect(hex(dh)).toBe(v["dh"]);
    const okm = Buffer.from(hkdfSync("sha256", dh, new Uint8Array(0), bytes(v["info"]!), 44));
    expect(hex(okm.subarray(0, 32))).toBe(v["aead_key"]);
    expect(hex(okm.subarray(32))).toBe(v["aead_nonce"]);
    const sealed = sealSecret(enclavePublicKey, bytes(v["plaintext"]!), context, bytes(v["ephemeral_private_key"]!));
    expect(hex(sealed.encapsulatedKey)).toBe(v["encapsulated_key"]);
    expect(hex(sealed.ciphertext)).toBe(v["ciphertext"]);
  });

  const enclaveSk = bytes("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const enclavePk = x25519PublicKey(enclaveSk);
  const context = { owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", namespace: "main", key: "API_KEY" };
  const sealed = sealSecret(enclavePk, Buffer.from("s3cr3t"), context, new Uint8Array(32).fill(7));

  it("opens under either spelling of the owner (it is lowercased)", () => {
    expect(openSecret(enclaveSk, sealed, { ...context, owner: context.owner.toLowerCase() }).kind).toBe("ok");
  });

  it("refuses another secret identity, another enclave key, or altered bytes", () => {
    const failure = { kind: "invalid", reason: "authentication failed: wrong key, wrong secret identity, or altered ciphertext" };
    expect(openSecret(enclaveSk, sealed, { ...context, key: "OTHER_KEY" })).toEqual(failure);
    expect(openSecret(enclaveSk, sealed, { ...context, namespace: "other" })).toEqual(failure);
    expect(openSecret(enclaveSk, sealed, { ...context, owner: "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359" })).toEqual(failure);
    expect(openSecret(new Uint8Array(32).fill(9), sealed, context)).toEqual(failure);
    const flipped = new Uint8Array(sealed.ciphertext);
    flipped[0]! ^= 1;
    expect(openSecret(enclaveSk, { ...sealed, ciphertext: flipped }, context)).toEqual(failure);
    expect(openSecret(enclaveSk, { ...sealed, encapsulatedKey: x25519PublicKey(new Uint8Array(32).fill(8)) }, context)).toEqual(failure);
  });

  it("refuses low-order points on both sides", () => {
    expect(() => sealSecret(new Uint8Array(32), Buffer.from("x"), context, new Uint8Array(32).fill(7))).toThrow(RangeError);
    expect(openSecret(enclaveSk, { ...sealed, encapsulatedKey: new Uint8Array(32) }, context)).toEqual({
      kind: "invalid",
      reason: "encapsulated key is a low-order X25519 point",
    });
  });

  it("gives different bytes for every ephemeral key (never a reused AES key and nonce)", () => {
    const again = sealSecret(enclavePk, Buffer.from("s3cr3t"), context, new Uint8Array(32).fill(8));
    expect(hex(again.ciphertext)).not.toBe(hex(sealed.ciphertext));
  });
});
