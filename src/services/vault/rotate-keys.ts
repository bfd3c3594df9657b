/**
 * Key rotation: re-seals every row that is not under the keyring's active key, in batches, so the
 * old key can then be retired. Rows stay readable throughout (each row names its key), a vault
 * serving meanwhile is unaffected, and a rotation can be interrupted and simply run again.
 *
 * Each row is re-sealed only if it is unchanged since it was read (compare-and-set on version and key
 * id): a concurrent PutSecret wins, and its row is already under the active key — provided the
 * serving vault has the new keyring. If another writer keeps sealing under an old key (a vault still
 * running with the old key file), a batch makes no progress and the rotation stops with that advice
 * instead of looping.
 */
import type { Logger } from "pino";
import type { RandomBytes } from "../../domain/clock.js";
import { Code, ccrError } from "../../domain/errors.js";
import { AT_REST_NONCE_LENGTH, openAtRest, sealAtRest } from "../../domain/vault/at-rest.js";
import type { VaultKeyring } from "../../domain/vault/keyring.js";
import type { VaultStore } from "../../store/vault-store.js";

export interface RotateVaultKeysDeps {
  readonly store: VaultStore;
  readonly keyring: VaultKeyring;
  readonly randomBytes: RandomBytes;
  readonly logger?: Pick<Logger, "info" | "debug">;
  /** Rows per batch (default 100). */
  readonly batchSize?: number;
}

export interface RotateVaultKeysResult {
  /** Rows re-sealed under the active key by this run. */
  readonly resealed: number;
  /** Rows skipped because a write changed them meanwhile (they were re-read in a later batch). */
  readonly raced: number;
  /** Rows per key id after the run (all under the active key on success). */
  readonly rowsByKeyId: ReadonlyMap<string, number>;
}

export async function rotateVaultKeys(deps: RotateVaultKeysDeps): Promise<RotateVaultKeysResult> {
  const { store, keyring, randomBytes, logger } = deps;
  const batchSize = deps.batchSize ?? 100;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw ccrError(`batchSize must be a positive integer (got ${batchSize})`, Code.InvalidArgument);
  let resealed = 0;
  let raced = 0;
  for (;;) {
    const rows = await store.rowsNotUnderKey(keyring.activeKeyId, batchSize);
    if (rows.length === 0) break;
    let progress = 0;
    for (const row of rows) {
      const opened = openAtRest(keyring, row, row);
      if (opened.kind === "unknown-key") {
        throw ccrError(
          `secret ${row.namespace}/${row.key} of ${row.owner} is sealed under key id "${row.keyId}", which is not in the keyring; add that key to the key file and run the rotation again`,
          Code.FailedPrecondition,
        );
      }
      if (opened.kind === "invalid") {
        throw ccrError(
          `secret ${row.namespace}/${row.key} of ${row.owner} (version ${row.version}, key id "${row.keyId}") fails authentication; the row was altered or the key under that id is wrong`,
          Code.DataLoss,
        );
      }
      const sealed = sealAtRest(keyring, row, opened.plaintext, randomBytes(AT_REST_NONCE_LENGTH));
      opened.plaintext.fill(0);
      if (await store.reseal(row, sealed)) {
        resealed++;
        progress++;
      } else {
        raced++;
      }
    }
    logger?.debug({ batch: rows.length, resealed }, "vault key rotation batch done");
    if (progress === 0) {
      throw ccrError(
        `key rotation made no progress: rows keep being rewritten under an old key; restart every vault with the key file whose active key is "${keyring.activeKeyId}", then run the rotation again`,
        Code.Aborted,
      );
    }
  }
  const rowsByKeyId = await store.countByKeyId();
  logger?.info({ resealed, raced, activeKeyId: keyring.activeKeyId }, "vault key rotation done");
  return Object.freeze({ resealed, raced, rowsByKeyId });
}
