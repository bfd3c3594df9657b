/**
 * The Vault's master keys: a keyring {key id → 32-byte AES-256 key} with one active id. New and
 * rewritten secrets are sealed under the active key; every row records its key id, so rows under an
 * older key stay readable until a rotation has re-sealed them (docs/vault.md, "Key rotation").
 *
 * The key file (the lead's config points at it) is JSON:
 *
 *   { "activeKeyId": "2026-11", "keys": { "2026-11": "<base64 or hex of 32 bytes>", "2025-06": "…" } }
 *
 * To rotate: add a new key, make it active, restart the vault, run `ccr vault rotate-key`, and only
 * then remove the old key.
 */
import { Code, ccrError } from "../errors.js";

export const VAULT_MASTER_KEY_LENGTH = 32;
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface VaultKeyring {
  readonly activeKeyId: string;
  readonly keys: ReadonlyMap<string, Uint8Array>;
}

/** What a keyring looks like in a config object or key file, before validation. */
export interface VaultKeyringInput {
  readonly activeKeyId: string;
  readonly keys: Readonly<Record<string, string | Uint8Array>> | ReadonlyMap<string, string | Uint8Array>;
}

function invalid(message: string): Error {
  return ccrError(message, Code.InvalidArgument);
}

/**
 * Validates a keyring; `path` names it in messages (e.g. "vault.keyring"). Messages name the key id
 * at fault but never show key material.
 */
export function resolveVaultKeyring(input: unknown, path = "vault.keyring"): VaultKeyring {
  if (typeof input !== "object" || input === null) throw invalid(`${path} must be an object {activeKeyId, keys}`);
  const { activeKeyId, keys } = input as Partial<VaultKeyringInput>;
  if (typeof activeKeyId !== "string" || !KEY_ID.test(activeKeyId)) {
    throw invalid(`${path}.activeKeyId must be 1–64 characters of A-Z, a-z, 0-9, "_", "." or "-"`);
  }
  if (typeof keys !== "object" || keys === null) throw invalid(`${path}.keys must be an object {keyId: base64 or hex key}`);
  const entries = keys instanceof Map ? [...(keys as ReadonlyMap<string, unknown>)] : Object.entries(keys);
  const out = new Map<string, Uint8Array>();
  for (const [id, value] of entries) {
    if (!KEY_ID.test(id)) throw invalid(`${path}.keys: key id "${id.slice(0, 70)}" must be 1–64 characters of A-Z, a-z, 0-9, "_", "." or "-"`);
    out.set(id, decodeKey(value, `${path}.keys.${id}`));
  }
  if (!out.has(activeKeyId)) throw invalid(`${path}.activeKeyId "${activeKeyId}" must name a key in ${path}.keys`);
  return Object.freeze({ activeKeyId, keys: out });
}

/** Parses the JSON key file's text (`file` names it in messages). */
export function parseVaultKeyFile(text: string, file = "vault key file"): VaultKeyring {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(`${file} must be JSON {"activeKeyId": "...", "keys": {"<id>": "<base64 32 bytes>"}}`);
  }
  return resolveVaultKeyring(value, file);
}

/** A key file's text for a keyring (for `ccr vault` tooling that adds a key). */
export function formatVaultKeyFile(keyring: VaultKeyring): string {
  const keys: Record<string, string> = {};
  for (const [id, key] of keyring.keys) keys[id] = Buffer.from(key).toString("base64");
  return `${JSON.stringify({ activeKeyId: keyring.activeKeyId, keys }, null, 2)}\n`;
}

/** The keyring with `key` added under `keyId` and made active (the first step of a rotation). */
export function withActiveKey(keyring: VaultKeyring, keyId: string, key: Uint8Array): VaultKeyring {
  if (keyring.keys.has(keyId)) throw invalid(`key id "${keyId}" is already in the keyring; choose a new id`);
  const keys = new Map(keyring.keys);
  keys.set(keyId, key);
  return resolveVaultKeyring({ activeKeyId: keyId, keys });
}

function decodeKey(value: unknown, path: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  if (value instanceof Uint8Array) bytes = new Uint8Array(value);
  else if (typeof value === "string") {
    const text = value.trim();
    if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) bytes = new Uint8Array(Buffer.from(text.replace(/^0x/, ""), "hex"));
    else if (/^[A-Za-z0-9+/]{43}=$/.test(text)) bytes = new Uint8Array(Buffer.from(text, "base64"));
  }
  if (bytes === undefined || bytes.length !== VAULT_MASTER_KEY_LENGTH) {
    throw invalid(`${path} must be ${VAULT_MASTER_KEY_LENGTH} bytes, as 44 characters of base64 or 64 hex digits`);
  }
  return bytes;
}
