import { generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ed25519PrivateKeyFromSeed,
  ed25519PublicKeyFromRaw,
  ed25519RawPublicKey,
  ed25519SignerFromSeed,
  ed25519Verify,
  generateEd25519,
} from "../../../src/domain/crypto/ed25519.js";

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** RFC 8032 §7.1, TEST 1 and TEST 2. */
const VECTORS = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature:
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature:
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
];

/** The group order L (RFC 8032 §5.1), little-endian as in an encoded S. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const leBytes = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
};
const leToBigInt = (b: Uint8Array): bigint => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);

describe("ed25519 (libsodium sign/verify, node:crypto keys)", () => {
  it.each(VECTORS)("matches RFC 8032 $publicKey", (v) => {
    const signer = ed25519SignerFromSeed(hex(v.seed));
    expect(toHex(signer.publicKey)).toBe(v.publicKey);
    expect(toHex(signer.sign(hex(v.message)))).toBe(v.signature);
    expect(ed25519Verify(hex(v.publicKey), hex(v.message), hex(v.signature))).toBe(true);
  });

  it("signs exactly as node:crypto (OpenSSL) does, and each verifies the other's signatures", () => {
    const { seed, signer } = generateEd25519();
    const keyObject = ed25519PrivateKeyFromSeed(seed);
    expect(toHex(ed25519RawPublicKey(keyObject))).toBe(toHex(signer.publicKey));
    for (const size of [0, 1, 32, 57, 1000]) {
      const message = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      const ours = signer.sign(message);
      expect(toHex(ours)).toBe(toHex(new Uint8Array(nodeSign(null, message, keyObject))));
      expect(nodeVerify(null, message, ed25519PublicKeyFromRaw(signer.publicKey), ours)).toBe(true);
    }
  });

  it("refuses a tampered message, signature or key, and malformed lengths, without throwing", () => {
    const v = VECTORS[1]!;
    const [pk, msg, sig] = [hex(v.publicKey), hex(v.message), hex(v.signature)];
    expect(ed25519Verify(pk, hex("73"), sig)).toBe(false);
    const badSig = sig.slice();
    badSig[10]! ^= 1;
    expect(ed25519Verify(pk, msg, badSig)).toBe(false);
    const other = hex(VECTORS[0]!.publicKey);
    expect(ed25519Verify(other, msg, sig)).toBe(false);
    expect(ed25519Verify(pk.subarray(0, 31), msg, sig)).toBe(false);
    expect(ed25519Verify(pk, msg, sig.subarray(0, 63))).toBe(false);
    expect(ed25519Verify(pk, msg, new Uint8Array(65))).toBe(false);
    expect(ed25519Verify(new Uint8Array(32).fill(0xff), msg, sig)).toBe(false);
  });

  it("refuses a non-canonical S (S + L): signatures are not malleable", () => {
    const v = VECTORS[0]!;
    const sig = hex(v.signature);
    const s = leToBigInt(sig.subarray(32));
    expect(s + L < 1n << 256n).toBe(true);
    const malleated = new Uint8Array(64);
    malleated.set(sig.subarray(0, 32), 0);
    malleated.set(leBytes(s + L), 32);
    expect(ed25519Verify(hex(v.publicKey), hex(v.message), malleated)).toBe(false);
  });

  it("refuses a small-order public key with a signature that holds for every message", () => {
    // A = R = the identity point, S = 0: [S]B = R + [k]A holds for any k, so a naive verifier
    // accepts it for any message. A key like this is never produced by an honest signer.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const forged = new Uint8Array(64);
    forged.set(identity, 0);
    expect(ed25519Verify(identity, new Uint8Array([1, 2, 3]), forged)).toBe(false);
  });

  it("rejects seeds that are not 32 bytes", () => {
    expect(() => ed25519SignerFromSeed(new Uint8Array(31))).toThrow(/32 bytes/);
  });

  it("KeyObjects from raw keys round-trip", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const raw = ed25519RawPublicKey(publicKey);
    expect(toHex(ed25519RawPublicKey(ed25519PublicKeyFromRaw(raw)))).toBe(toHex(raw));
  });
});
