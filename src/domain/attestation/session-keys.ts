/**
 * Binding mode (b): the enclave attests its session keys once, in the document's `public_key`, and
 * signs each request's binding hash with the ed25519 session key. The enclave side builds these
 * bytes with the same functions, so both sides share one definition (docs/attestation.md).
 *
 * `public_key` layout, version 1 (83 bytes, fixed):
 *
 *   "ccr-enclave-keys-v1" (19 ASCII bytes) ‖ ed25519 session public key (32) ‖ x25519 encryption public key (32)
 *
 * Signed payload (57 bytes):
 *
 *   "ccr.v1.session-signature\0" (25 bytes) ‖ binding hash (32)
 *
 * The tag makes the signature useless in any other protocol that signs 32-byte values with the
 * same key; a new layout gets a new version string, never a reinterpretation of this one.
 */
import { sign, type KeyObject } from "node:crypto";
import { ed25519Verify } from "../crypto/ed25519.js";

const encoder = new TextEncoder();

export const ENCLAVE_KEYS_V1_TAG: Uint8Array = encoder.encode("ccr-enclave-keys-v1");
export const ENCLAVE_KEYS_V1_LENGTH = ENCLAVE_KEYS_V1_TAG.length + 32 + 32;
export const SESSION_SIGNATURE_TAG: Uint8Array = encoder.encode("ccr.v1.session-signature\0");
export const BINDING_HASH_BYTES = 32;
export const SESSION_SIGNATURE_BYTES = 64;

export interface EnclaveSessionKeys {
  /** Raw ed25519 public key, 32 bytes. */
  readonly sessionPublicKey: Uint8Array;
  /** Raw X25519 public key, 32 bytes (secrets are encrypted to it). */
  readonly encryptionPublicKey: Uint8Array;
}

export function encodeEnclaveSessionKeys(keys: EnclaveSessionKeys): Uint8Array {
  if (keys.sessionPublicKey.length !== 32) throw new RangeError("sessionPublicKey must be 32 bytes");
  if (keys.encryptionPublicKey.length !== 32) throw new RangeError("encryptionPublicKey must be 32 bytes");
  const out = new Uint8Array(ENCLAVE_KEYS_V1_LENGTH);
  out.set(ENCLAVE_KEYS_V1_TAG, 0);
  out.set(keys.sessionPublicKey, ENCLAVE_KEYS_V1_TAG.length);
  out.set(keys.encryptionPublicKey, ENCLAVE_KEYS_V1_TAG.length + 32);
  return out;
}

/** Null when `publicKey` is not a v1 key block (e.g. a mode (a) document). */
export function parseEnclaveSessionKeys(publicKey: Uint8Array | null): EnclaveSessionKeys | null {
  if (publicKey === null || publicKey.length !== ENCLAVE_KEYS_V1_LENGTH) return null;
  for (let i = 0; i < ENCLAVE_KEYS_V1_TAG.length; i++) {
    if (publicKey[i] !== ENCLAVE_KEYS_V1_TAG[i]) return null;
  }
  const at = ENCLAVE_KEYS_V1_TAG.length;
  return Object.freeze({
    sessionPublicKey: publicKey.slice(at, at + 32),
    encryptionPublicKey: publicKey.slice(at + 32, at + 64),
  });
}

export function sessionSignaturePayload(bindingHash: Uint8Array): Uint8Array {
  if (bindingHash.length !== BINDING_HASH_BYTES) throw new RangeError("binding hash must be 32 bytes");
  const out = new Uint8Array(SESSION_SIGNATURE_TAG.length + BINDING_HASH_BYTES);
  out.set(SESSION_SIGNATURE_TAG, 0);
  out.set(bindingHash, SESSION_SIGNATURE_TAG.length);
  return out;
}

/** Enclave side: the session signature over a request's binding hash. */
export function signSessionBinding(sessionPrivateKey: KeyObject, bindingHash: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, sessionSignaturePayload(bindingHash), sessionPrivateKey));
}

/** Node side: the raw 32-byte session public key from the attested document (libsodium, ed25519.ts). */
export function verifySessionSignature(
  sessionPublicKey: Uint8Array,
  bindingHash: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== SESSION_SIGNATURE_BYTES || bindingHash.length !== BINDING_HASH_BYTES) return false;
  return ed25519Verify(sessionPublicKey, sessionSignaturePayload(bindingHash), signature);
}
