/**
 * The enclave's two boot-time keys (issue 6, "Attestation producer"):
 *  - X25519 encryption key: the Vault seals every secret to its public half
 *    (docs/secret-encryption.md); only this process can open them.
 *  - ed25519 session key: signs each relay request's binding hash in binding mode (b)
 *    (docs/attestation.md §4).
 * Both public halves go into the attestation document's `public_key` (ccr-enclave-keys-v1). The
 * private halves never leave this closure: no getter returns them, so no log line, error or metric
 * can carry them by accident.
 */
import type { KeyObject } from "node:crypto";
import type { RandomBytes } from "../../domain/clock.js";
import { encodeEnclaveSessionKeys, signSessionBinding } from "../../domain/attestation/index.js";
import { ed25519PrivateKeyFromSeed, ed25519RawPublicKey } from "../../domain/crypto/ed25519.js";
import { openSecret, x25519PublicKey, type OpenedSecret, type SealedSecret, type SecretBoxContext } from "../../domain/crypto/secret-box.js";

export interface EnclaveKeys {
  /** X25519 public key (32 bytes): `enclave_public_key` of every secrets request. */
  readonly encryptionPublicKey: Uint8Array;
  /** ed25519 session public key (32 bytes). */
  readonly sessionPublicKey: Uint8Array;
  /** The document's `public_key`: "ccr-enclave-keys-v1" ‖ session key ‖ encryption key (83 bytes). */
  readonly attestedKeyBlock: Uint8Array;
  /** Opens a secret box sealed to this enclave, for the identity the enclave asked for. */
  open(sealed: SealedSecret, context: SecretBoxContext): OpenedSecret;
  /** The session signature over a request's binding hash (mode b). */
  signBinding(bindingHash: Uint8Array): Uint8Array;
}

/** The raw secrets keys are made from; for tests that pin them (e.g. the Vault's documented vectors). */
export interface EnclaveKeyMaterial {
  /** 32 bytes; X25519 clamps them. */
  readonly encryptionPrivateKey: Uint8Array;
  /** 32-byte ed25519 seed. */
  readonly sessionSeed: Uint8Array;
}

export function enclaveKeysFrom(material: EnclaveKeyMaterial): EnclaveKeys {
  const encryptionPrivateKey = Uint8Array.from(material.encryptionPrivateKey);
  if (encryptionPrivateKey.length !== 32) throw new RangeError("encryptionPrivateKey must be 32 bytes");
  const sessionKey: KeyObject = ed25519PrivateKeyFromSeed(material.sessionSeed);
  const encryptionPublicKey = x25519PublicKey(encryptionPrivateKey);
  const sessionPublicKey = ed25519RawPublicKey(sessionKey);
  const attestedKeyBlock = encodeEnclaveSessionKeys({ sessionPublicKey, encryptionPublicKey });
  return Object.freeze({
    encryptionPublicKey,
    sessionPublicKey,
    attestedKeyBlock,
    open: (sealed: SealedSecret, context: SecretBoxContext) => openSecret(encryptionPrivateKey, sealed, context),
    signBinding: (bindingHash: Uint8Array) => signSessionBinding(sessionKey, bindingHash),
  });
}

/** Fresh keys from the injected randomness (the boot path). */
export function generateEnclaveKeys(randomBytes: RandomBytes): EnclaveKeys {
  return enclaveKeysFrom({ encryptionPrivateKey: randomBytes(32), sessionSeed: randomBytes(32) });
}
