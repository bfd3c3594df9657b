/**
 * The secret box: how the Vault encrypts one secret to an enclave's X25519 public key, and how the
 * enclave opens it. HPKE-style (RFC 9180's shape, base mode, one message per key), specified with
 * test vectors in docs/secret-encryption.md:
 *
 *   dh      = X25519(ephemeral_sk, enclave_pk)              refused when all-zero (low-order point)
 *   info    = canonical("ccr.v1.vault.secret-box":
 *               bytes(enclave_pk) ‖ bytes(ephemeral_pk) ‖ str(lowercase(owner)) ‖ str(namespace) ‖ str(key))
 *   okm     = HKDF-SHA256(ikm = dh, salt = "", info, 44)
 *   key     = okm[0..32), nonce = okm[32..44)
 *   sealed  = AES-256-GCM(key, nonce, aad = "", plaintext) ‖ tag (16 bytes)
 *   output  = { encapsulated_key: ephemeral_pk, ciphertext: sealed }
 *
 * Why this shape: a fresh ephemeral key per secret makes every (key, nonce) pair single-use, so the
 * nonce can come from the key schedule; binding the enclave key and the ephemeral key in `info`
 * closes key-compromise and re-encapsulation tricks (as HPKE's KEM context does); binding the secret's
 * identity means a ciphertext for one secret cannot be passed off as another's — the enclave opens a
 * box only under the identity it asked for.
 *
 * Pure functions over node:crypto (X25519, HKDF, AES-GCM in OpenSSL); the ephemeral private key is a
 * parameter, so callers inject randomness and tests pin the bytes.
 */
import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from "node:crypto";
import { CanonicalWriter } from "../canonical.js";

export const X25519_KEY_LENGTH = 32;
export const SECRET_BOX_TAG_LENGTH = 16;
export const SECRET_BOX_DOMAIN = "ccr.v1.vault.secret-box";

const HKDF_INFO_MAX = 1024; // node:crypto's HKDF refuses longer info.

/*
 * Raw keys enter node:crypto as JWK, not DER: with Node 20's OpenSSL 3 a PKCS#8 DER import of an
 * X25519 private key went through OpenSSL's decoder framework at ~14× the cost of a JWK import, and
 * an SPKI import at ~15× (measured on the shared 2-core box: 1.8 ms vs 0.13 ms, 0.5 ms vs 0.03 ms) —
 * most of the cost of sealing a secret. A JWK private key must carry "x", but Node builds the key
 * from "d" alone and derives the public half itself; rawPublicKey() takes the public key from that
 * derived half, so the placeholder never reaches a result (the RFC 7748 vectors in the tests would
 * catch a Node that used it).
 */
const PLACEHOLDER_X = Buffer.alloc(32).toString("base64url");

function x25519Private(raw: Uint8Array): KeyObject {
  if (raw.length !== X25519_KEY_LENGTH) throw new RangeError(`X25519 private key must be ${X25519_KEY_LENGTH} bytes, got ${raw.length}`);
  return createPrivateKey({ key: { kty: "OKP", crv: "X25519", d: Buffer.from(raw).toString("base64url"), x: PLACEHOLDER_X }, format: "jwk" });
}

function x25519Public(raw: Uint8Array): KeyObject {
  if (raw.length !== X25519_KEY_LENGTH) throw new RangeError(`X25519 public key must be ${X25519_KEY_LENGTH} bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(raw).toString("base64url") }, format: "jwk" });
}

function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const { x } = createPublicKey(privateKey).export({ format: "jwk" });
  if (x === undefined) throw new Error("X25519 public key export gave no x");
  return new Uint8Array(Buffer.from(x, "base64url"));
}

/** The raw public key of a raw X25519 private key (any 32 bytes; X25519 clamps them). */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return rawPublicKey(x25519Private(privateKey));
}

/** Which secret a box holds; bound into the key schedule. */
export interface SecretBoxContext {
  /** The owner address, any case (it is lowercased: EIP-55 is only a checksum). */
  readonly owner: string;
  /** The effective namespace ("main" when the request left it unset). */
  readonly namespace: string;
  readonly key: string;
}

export interface SealedSecret {
  /** The ephemeral X25519 public key (32 bytes). */
  readonly encapsulatedKey: Uint8Array;
  /** AES-256-GCM ciphertext with its 16-byte tag appended. */
  readonly ciphertext: Uint8Array;
}

export type OpenedSecret = { kind: "ok"; plaintext: Uint8Array } | { kind: "invalid"; reason: string };

/** The HKDF `info` of a box: the canonical layout above. */
export function secretBoxInfo(enclavePublicKey: Uint8Array, encapsulatedKey: Uint8Array, context: SecretBoxContext): Uint8Array {
  const info = new CanonicalWriter(SECRET_BOX_DOMAIN)
    .bytes(enclavePublicKey)
    .bytes(encapsulatedKey)
    .str(context.owner.toLowerCase())
    .str(context.namespace)
    .str(context.key)
    .finish();
  if (info.length > HKDF_INFO_MAX) throw new RangeError(`secret identity too long for the key schedule (${info.length} > ${HKDF_INFO_MAX} bytes)`);
  return info;
}

function keySchedule(dh: Uint8Array, info: Uint8Array): { key: Buffer; nonce: Buffer } {
  const okm = Buffer.from(hkdfSync("sha256", dh, new Uint8Array(0), info, 44));
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32, 44) };
}

function sharedSecret(privateKey: KeyObject, publicKey: KeyObject): Uint8Array | undefined {
  let dh: Buffer;
  try {
    dh = diffieHellman({ privateKey, publicKey });
  } catch {
    return undefined; // OpenSSL refuses an all-zero result itself on some versions
  }
  return dh.every((b) => b === 0) ? undefined : dh;
}

/**
 * Encrypts `plaintext` to `enclavePublicKey`. `ephemeralPrivateKey` must be 32 fresh random bytes,
 * never reused (reuse with the same enclave key and identity would reuse the AES-GCM key and nonce).
 * Throws RangeError on malformed keys or a low-order enclave key.
 */
export function sealSecret(
  enclavePublicKey: Uint8Array,
  plaintext: Uint8Array,
  context: SecretBoxContext,
  ephemeralPrivateKey: Uint8Array,
): SealedSecret {
  const ephemeral = x25519Private(ephemeralPrivateKey);
  const encapsulatedKey = rawPublicKey(ephemeral);
  const dh = sharedSecret(ephemeral, x25519Public(enclavePublicKey));
  if (dh === undefined) throw new RangeError("enclave public key is a low-order X25519 point");
  const { key, nonce } = keySchedule(dh, secretBoxInfo(enclavePublicKey, encapsulatedKey, context));
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { encapsulatedKey, ciphertext: new Uint8Array(body) };
}

/**
 * The enclave side: opens a box sealed to the public key of `enclavePrivateKey`, for the identity the
 * enclave asked for. Any mismatch (other key, other identity, altered bytes) is "invalid".
 */
export function openSecret(enclavePrivateKey: Uint8Array, sealed: SealedSecret, context: SecretBoxContext): OpenedSecret {
  if (sealed.encapsulatedKey.length !== X25519_KEY_LENGTH) {
    return { kind: "invalid", reason: `encapsulated key must be ${X25519_KEY_LENGTH} bytes, got ${sealed.encapsulatedKey.length}` };
  }
  if (sealed.ciphertext.length < SECRET_BOX_TAG_LENGTH) return { kind: "invalid", reason: "ciphertext is shorter than its tag" };
  let dh: Uint8Array | undefined;
  let enclavePublicKey: Uint8Array;
  try {
    const enclaveKey = x25519Private(enclavePrivateKey);
    enclavePublicKey = rawPublicKey(enclaveKey);
    dh = sharedSecret(enclaveKey, x25519Public(sealed.encapsulatedKey));
  } catch (error) {
    return { kind: "invalid", reason: error instanceof Error ? error.message : "malformed key" };
  }
  if (dh === undefined) return { kind: "invalid", reason: "encapsulated key is a low-order X25519 point" };
  let info: Uint8Array;
  try {
    info = secretBoxInfo(enclavePublicKey, sealed.encapsulatedKey, context);
  } catch (error) {
    return { kind: "invalid", reason: error instanceof Error ? error.message : "malformed identity" };
  }
  const { key, nonce } = keySchedule(dh, info);
  const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - SECRET_BOX_TAG_LENGTH);
  const tag = sealed.ciphertext.subarray(sealed.ciphertext.length - SECRET_BOX_TAG_LENGTH);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAuthTag(tag);
    return { kind: "ok", plaintext: new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()])) };
  } catch {
    return { kind: "invalid", reason: "authentication failed: wrong key, wrong secret identity, or altered ciphertext" };
  }
}
