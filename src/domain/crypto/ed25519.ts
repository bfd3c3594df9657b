/**
 * ed25519 over node:crypto (OpenSSL), 12–15× faster than pure JS (node-recipes.md §9). Keys travel as
 * raw 32-byte public keys; KeyObjects are built once per key and cached, since a relay verifies the
 * same few DON members' signatures over and over.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";

// DER prefixes for raw ed25519 keys (RFC 8410): SPKI for public, PKCS#8 for private (32-byte seed).
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

const publicKeyCache = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_MAX = 4096;

export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error(`ed25519 public key must be 32 bytes, got ${raw.length}`);
  const id = Buffer.from(raw).toString("hex");
  let key = publicKeyCache.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.clear();
    publicKeyCache.set(id, key);
  }
  return key;
}

export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error(`ed25519 seed must be 32 bytes, got ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

export function ed25519RawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return new Uint8Array(pub.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length));
}

export function ed25519Seed(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: "der", type: "pkcs8" }).subarray(PKCS8_PREFIX.length));
}

/** A signing identity: the private key and its raw public key. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}

export function ed25519SignerFromSeed(seed: Uint8Array): Ed25519Signer {
  const privateKey = ed25519PrivateKeyFromSeed(seed);
  const publicKey = ed25519RawPublicKey(privateKey);
  return Object.freeze({
    publicKey,
    sign: (data: Uint8Array) => new Uint8Array(sign(null, data, privateKey)),
  });
}

/** A fresh random identity (its seed, for persisting, and the signer). */
export function generateEd25519(): { seed: Uint8Array; signer: Ed25519Signer } {
  const { privateKey } = generateKeyPairSync("ed25519");
  const seed = ed25519Seed(privateKey);
  return { seed, signer: ed25519SignerFromSeed(seed) };
}

/** True when `signature` is `publicKey`'s valid signature over `data`; false for any malformed input. */
export function ed25519Verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return verify(null, data, ed25519PublicKeyFromRaw(publicKey), signature);
  } catch {
    return false;
  }
}
