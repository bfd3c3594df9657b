/**
 * Secrets at rest: AES-256-GCM under the keyring's active master key, a fresh 12-byte nonce per
 * write, and associated data that binds the row's identity (docs/vault.md, "Storage"):
 *
 *   aad = canonical("ccr.v1.vault.at-rest": str(lowercase(owner)) ‖ str(namespace) ‖ str(key) ‖
 *                   u64(version) ‖ str(key_id))
 *
 * Binding owner, namespace and key means a database writer cannot swap two rows' ciphertexts (one
 * owner's secret would fail to open under another's name); binding the version stops an old
 * ciphertext of the same secret from being put back; binding the key id stops a row from being
 * relabelled to another key.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { CanonicalWriter } from "../canonical.js";
import type { VaultKeyring } from "./keyring.js";

export const AT_REST_NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

export interface RowIdentity {
  readonly owner: string;
  readonly namespace: string;
  readonly key: string;
  readonly version: number;
}

export interface SealedRow {
  /** Ciphertext with the 16-byte GCM tag appended. */
  readonly ciphertext: Uint8Array;
  /** The 12-byte GCM nonce. */
  readonly nonce: Uint8Array;
  readonly keyId: string;
}

export type OpenedRow =
  | { kind: "ok"; plaintext: Uint8Array }
  | { kind: "unknown-key"; keyId: string }
  | { kind: "invalid"; reason: string };

export function atRestAad(row: RowIdentity, keyId: string): Uint8Array {
  return new CanonicalWriter("ccr.v1.vault.at-rest")
    .str(row.owner.toLowerCase())
    .str(row.namespace)
    .str(row.key)
    .u64(row.version)
    .str(keyId)
    .finish();
}

/** Seals `plaintext` for `row` under the active key; `nonce` must be 12 fresh random bytes. */
export function sealAtRest(keyring: VaultKeyring, row: RowIdentity, plaintext: Uint8Array, nonce: Uint8Array): SealedRow {
  if (nonce.length !== AT_REST_NONCE_LENGTH) throw new RangeError(`at-rest nonce must be ${AT_REST_NONCE_LENGTH} bytes`);
  const keyId = keyring.activeKeyId;
  const key = keyring.keys.get(keyId);
  if (key === undefined) throw new RangeError(`active key id "${keyId}" is not in the keyring`);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(atRestAad(row, keyId));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext: new Uint8Array(ciphertext), nonce: new Uint8Array(nonce), keyId };
}

/** Opens a stored row with the key its key id names. */
export function openAtRest(keyring: VaultKeyring, row: RowIdentity, sealed: SealedRow): OpenedRow {
  const key = keyring.keys.get(sealed.keyId);
  if (key === undefined) return { kind: "unknown-key", keyId: sealed.keyId };
  if (sealed.nonce.length !== AT_REST_NONCE_LENGTH || sealed.ciphertext.length < TAG_LENGTH) {
    return { kind: "invalid", reason: "stored nonce or ciphertext has the wrong length" };
  }
  const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_LENGTH);
  const tag = sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_LENGTH);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.nonce);
    decipher.setAAD(atRestAad(row, sealed.keyId));
    decipher.setAuthTag(tag);
    return { kind: "ok", plaintext: new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()])) };
  } catch {
    return { kind: "invalid", reason: "authentication failed: the row was altered, moved to another identity or version, or the key is wrong" };
  }
}
