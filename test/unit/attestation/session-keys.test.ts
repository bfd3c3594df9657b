import { generateKeyPairSync } from "node:crypto";
import { ed25519RawPublicKey } from "../../../src/domain/crypto/ed25519.js";
import { describe, expect, it } from "vitest";
import {
  ENCLAVE_KEYS_V1_LENGTH,
  encodeEnclaveSessionKeys,
  parseEnclaveSessionKeys,
  sessionSignaturePayload,
  signSessionBinding,
  verifySessionSignature,
} from "../../../src/domain/attestation/index.js";

const session = new Uint8Array(32).fill(0x11);
const encryption = new Uint8Array(32).fill(0x22);

describe("ccr-enclave-keys-v1 (binding mode b public_key)", () => {
  it("is the tag, then the ed25519 key, then the x25519 key: 83 bytes", () => {
    const bytes = encodeEnclaveSessionKeys({ sessionPublicKey: session, encryptionPublicKey: encryption });
    expect(ENCLAVE_KEYS_V1_LENGTH).toBe(83);
    expect(Buffer.from(bytes).toString("hex")).toBe(
      Buffer.from("ccr-enclave-keys-v1").toString("hex") + "11".repeat(32) + "22".repeat(32),
    );
    expect(parseEnclaveSessionKeys(bytes)).toEqual({ sessionPublicKey: session, encryptionPublicKey: encryption });
  });

  it("is not recognised with another tag, length or when absent", () => {
    const bytes = encodeEnclaveSessionKeys({ sessionPublicKey: session, encryptionPublicKey: encryption });
    const v2 = bytes.slice();
    v2[18] = "2".charCodeAt(0);
    expect(parseEnclaveSessionKeys(v2)).toBeNull();
    expect(parseEnclaveSessionKeys(bytes.subarray(0, 82))).toBeNull();
    expect(parseEnclaveSessionKeys(new TextEncoder().encode("dummy"))).toBeNull();
    expect(parseEnclaveSessionKeys(null)).toBeNull();
    expect(() => encodeEnclaveSessionKeys({ sessionPublicKey: session.subarray(1), encryptionPublicKey: encryption })).toThrow();
  });
});

describe("session signature", () => {
  const binding = new Uint8Array(32).fill(0x33);

  it("signs \"ccr.v1.session-signature\\0\" ‖ binding hash", () => {
    expect(Buffer.from(sessionSignaturePayload(binding)).toString("hex")).toBe(
      Buffer.from("ccr.v1.session-signature\0").toString("hex") + "33".repeat(32),
    );
    expect(() => sessionSignaturePayload(new Uint8Array(31))).toThrow(/32 bytes/);
  });

  it("verifies with the session key, and fails for another hash, key or a short signature", () => {
    const { privateKey, publicKey: publicKeyObject } = generateKeyPairSync("ed25519");
    const publicKey = ed25519RawPublicKey(publicKeyObject);
    const other = { publicKey: ed25519RawPublicKey(generateKeyPairSync("ed25519").publicKey) };
    const sig = signSessionBinding(privateKey, binding);
    expect(verifySessionSignature(publicKey, binding, sig)).toBe(true);
    expect(verifySessionSignature(publicKey, new Uint8Array(32), sig)).toBe(false);
    expect(verifySessionSignature(other.publicKey, binding, sig)).toBe(false);
    expect(verifySessionSignature(publicKey, binding, sig.subarray(0, 63))).toBe(false);
    expect(verifySessionSignature(publicKey.subarray(0, 31), binding, sig)).toBe(false);
  });
});
