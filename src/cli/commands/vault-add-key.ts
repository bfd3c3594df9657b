/**
 * `ccr vault add-key` (optional wiring): a key file with a fresh 32-byte master key added under a new
 * id and made active — the first step of a rotation. Without an existing file it starts a new one.
 * The caller writes the text to the key file (mode 0600) and restarts the vault.
 */
import { randomBytes } from "node:crypto";
import { formatVaultKeyFile, parseVaultKeyFile, resolveVaultKeyring, withActiveKey, VAULT_MASTER_KEY_LENGTH } from "../../domain/vault/keyring.js";

/** The new key file's text. `existing` is the current file's text, if there is one. */
export function vaultAddKey(existing: string | undefined, keyId: string, file = "vault key file"): string {
  const key = new Uint8Array(randomBytes(VAULT_MASTER_KEY_LENGTH));
  const keyring =
    existing === undefined
      ? resolveVaultKeyring({ activeKeyId: keyId, keys: { [keyId]: key } })
      : withActiveKey(parseVaultKeyFile(existing, file), keyId, key);
  return formatVaultKeyFile(keyring);
}
