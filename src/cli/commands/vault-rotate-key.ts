/**
 * `ccr vault rotate-key`: re-seals every stored secret under the key file's active key
 * (docs/vault.md, "Master keys and rotation"). The lead's command wiring reads the config (database,
 * key file) and calls `vaultRotateKey`; this module only runs the rotation and reports.
 */
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { VaultKeyring } from "../../domain/vault/keyring.js";
import { rotateVaultKeys } from "../../services/vault/rotate-keys.js";
import type { Db } from "../../store/db.js";
import { createPostgresVaultStore } from "../../store/vault-store.js";

export interface VaultRotateKeyIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface VaultRotateKeyDeps {
  /** An open, migrated database. */
  readonly db: Db;
  /** The keyring from the key file, its new key already active. */
  readonly keyring: VaultKeyring;
  readonly batchSize?: number;
  readonly logger?: Pick<Logger, "info" | "debug">;
}

/** Runs the rotation; resolves to the exit code (0 done, 1 refused with the reason on stderr). */
export async function vaultRotateKey(deps: VaultRotateKeyDeps, io: VaultRotateKeyIo): Promise<number> {
  try {
    const result = await rotateVaultKeys({
      store: createPostgresVaultStore(deps.db.sql),
      keyring: deps.keyring,
      randomBytes: (n) => new Uint8Array(randomBytes(n)),
      ...(deps.batchSize === undefined ? {} : { batchSize: deps.batchSize }),
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
    });
    const byKey = [...result.rowsByKeyId].map(([id, n]) => `${id}=${n}`).join(", ") || "none";
    io.stdout(`re-sealed ${result.resealed} secret(s) under key "${deps.keyring.activeKeyId}"; secrets by key: ${byKey}\n`);
    const stale = [...result.rowsByKeyId.keys()].filter((id) => id !== deps.keyring.activeKeyId);
    if (stale.length === 0) {
      const retired = [...deps.keyring.keys.keys()].filter((id) => id !== deps.keyring.activeKeyId);
      if (retired.length > 0) io.stdout(`no secret uses ${retired.map((id) => `"${id}"`).join(", ")} any more; it can be removed from the key file\n`);
    }
    return 0;
  } catch (error) {
    io.stderr(`ccr vault rotate-key: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
