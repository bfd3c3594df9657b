/**
 * The Vault's repository: `vault_secrets` (sealed secrets) and `vault_write_nonces` (accepted owner
 * nonces), migrations/0005_vault_secrets.sql. The store never sees a plaintext: callers hand it sealed
 * bytes (src/domain/vault/at-rest.ts), and `put` asks for them only once it knows the version they
 * must be bound to.
 *
 * One implementation over postgres.js serves PGlite and a Postgres server alike (src/store/db.ts);
 * ./vault-memory-store.ts is the in-memory twin for service tests and benchmarks, held to the same
 * contract by test/integration/vault/vault-store.test.ts.
 *
 * Concurrency without transactions (PGlite has one connection, and a transaction would hold it):
 * - nonces: one `insert … on conflict … do update … where expired` — a live nonce makes the
 *   statement return no row, atomically;
 * - versions: compare-and-set on the version read (`update … where version = $read`, or
 *   `insert … on conflict do nothing` for a new secret), retried a few times, so two concurrent
 *   writers get distinct versions and each ciphertext is bound to the version it is stored under.
 */
import { Code, ccrError } from "../domain/errors.js";
import type { Sql } from "./db.js";

/** (owner, namespace, key): the owner in EIP-55 form. */
export interface SecretIdentity {
  readonly owner: string;
  readonly namespace: string;
  readonly key: string;
}

export interface SealedSecretValue {
  readonly ciphertext: Uint8Array;
  readonly nonce: Uint8Array;
  readonly keyId: string;
}

export interface SecretMetadataRow {
  readonly namespace: string;
  readonly key: string;
  readonly version: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface StoredSecretRow extends SecretIdentity, SealedSecretValue {
  readonly version: number;
}

export type NonceOutcome = "fresh" | "replayed";

export interface VaultStore {
  /**
   * Records an owner's write nonce until `expiresAtMs`. "replayed" when the same nonce is already
   * recorded and not yet expired at `nowMs` (an expired record is replaced).
   */
  consumeNonce(owner: string, nonce: string, expiresAtMs: number, nowMs: number): Promise<NonceOutcome>;
  /** Deletes nonces expired at `nowMs`; returns how many. */
  pruneNonces(nowMs: number): Promise<number>;
  /**
   * Creates the secret (version 1) or overwrites it (version + 1). `seal` is called with the version
   * the value will be stored under, possibly more than once if another writer races.
   */
  put(id: SecretIdentity, seal: (version: number) => SealedSecretValue, nowMs: number): Promise<{ version: number }>;
  /** True when a secret was deleted. */
  delete(id: SecretIdentity): Promise<boolean>;
  /** The owner's secrets (optionally one namespace), sorted bytewise by (namespace, key). */
  list(owner: string, namespace: string | undefined): Promise<SecretMetadataRow[]>;
  /** The stored rows among `ids` (absent ones are simply missing), any order. */
  getMany(owner: string, ids: ReadonlyArray<{ readonly namespace: string; readonly key: string }>): Promise<StoredSecretRow[]>;
  /** Up to `limit` rows sealed under a key other than `keyId`, in identity order. */
  rowsNotUnderKey(keyId: string, limit: number): Promise<StoredSecretRow[]>;
  /**
   * Replaces the sealed value of `row` only if it still has `row.version` and `row.keyId` (a write in
   * between wins); true when replaced. Timestamps are left alone: re-sealing is not a write.
   */
  reseal(row: StoredSecretRow, sealed: SealedSecretValue): Promise<boolean>;
  /** How many rows each key id seals. */
  countByKeyId(): Promise<Map<string, number>>;
}

/** Attempts of the version compare-and-set before a write gives up with Aborted. */
export const PUT_ATTEMPTS = 5;

export function concurrentWriteError(id: SecretIdentity): Error {
  return ccrError(`secret ${id.namespace}/${id.key} is being written concurrently; retry with a new signature`, Code.Aborted);
}

interface Row {
  owner: string;
  namespace: string;
  key: string;
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  key_id: string;
  version: number;
}

function toStored(row: Row): StoredSecretRow {
  return {
    owner: row.owner,
    namespace: row.namespace,
    key: row.key,
    ciphertext: new Uint8Array(row.ciphertext),
    nonce: new Uint8Array(row.nonce),
    keyId: row.key_id,
    version: row.version,
  };
}

/** The Postgres/PGlite implementation. */
export function createPostgresVaultStore(sql: Sql): VaultStore {
  return Object.freeze({
    async consumeNonce(owner, nonce, expiresAtMs, nowMs) {
      const rows = await sql`
        insert into vault_write_nonces (owner, nonce, expires_at)
        values (${owner}, ${nonce}, ${new Date(expiresAtMs)})
        on conflict (owner, nonce) do update set expires_at = excluded.expires_at
          where vault_write_nonces.expires_at <= ${new Date(nowMs)}
        returning 1 as fresh`;
      return rows.length === 1 ? "fresh" : "replayed";
    },

    async pruneNonces(nowMs) {
      const result = await sql`delete from vault_write_nonces where expires_at <= ${new Date(nowMs)}`;
      return result.count;
    },

    async put(id, seal, nowMs) {
      const now = new Date(nowMs);
      for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
        const [current] = await sql<{ version: number }[]>`
          select version from vault_secrets
          where owner = ${id.owner} and namespace = ${id.namespace} and key = ${id.key}`;
        if (current === undefined) {
          const sealed = seal(1);
          const inserted = await sql`
            insert into vault_secrets (owner, namespace, key, ciphertext, nonce, key_id, version, created_at, updated_at)
            values (${id.owner}, ${id.namespace}, ${id.key}, ${sealed.ciphertext}, ${sealed.nonce}, ${sealed.keyId}, 1, ${now}, ${now})
            on conflict (owner, namespace, key) do nothing
            returning version`;
          if (inserted.length === 1) return { version: 1 };
        } else {
          const version = current.version + 1;
          const sealed = seal(version);
          const updated = await sql`
            update vault_secrets
            set ciphertext = ${sealed.ciphertext}, nonce = ${sealed.nonce}, key_id = ${sealed.keyId},
                version = ${version}, updated_at = ${now}
            where owner = ${id.owner} and namespace = ${id.namespace} and key = ${id.key} and version = ${current.version}
            returning version`;
          if (updated.length === 1) return { version };
        }
      }
      throw concurrentWriteError(id);
    },

    async delete(id) {
      const result = await sql`
        delete from vault_secrets where owner = ${id.owner} and namespace = ${id.namespace} and key = ${id.key}`;
      return result.count > 0;
    },

    async list(owner, namespace) {
      // COLLATE "C": bytewise order, identical on every server whatever its default collation.
      const rows = await sql<{ namespace: string; key: string; version: number; created_at: Date; updated_at: Date }[]>`
        select namespace, key, version, created_at, updated_at from vault_secrets
        where owner = ${owner} ${namespace === undefined ? sql`` : sql`and namespace = ${namespace}`}
        order by namespace collate "C", key collate "C"`;
      return rows.map((row) => ({
        namespace: row.namespace,
        key: row.key,
        version: row.version,
        createdAtMs: row.created_at.getTime(),
        updatedAtMs: row.updated_at.getTime(),
      }));
    },

    async getMany(owner, ids) {
      if (ids.length === 0) return [];
      const rows = await sql<Row[]>`
        select s.owner, s.namespace, s.key, s.ciphertext, s.nonce, s.key_id, s.version
        from vault_secrets s
        where s.owner = ${owner}
          and (s.namespace, s.key) in (
            select * from unnest(${sql.array(ids.map((id) => id.namespace))}::text[], ${sql.array(ids.map((id) => id.key))}::text[]))`;
      return rows.map(toStored);
    },

    async rowsNotUnderKey(keyId, limit) {
      const rows = await sql<Row[]>`
        select owner, namespace, key, ciphertext, nonce, key_id, version from vault_secrets
        where key_id <> ${keyId}
        order by owner collate "C", namespace collate "C", key collate "C"
        limit ${limit}`;
      return rows.map(toStored);
    },

    async reseal(row, sealed) {
      const updated = await sql`
        update vault_secrets set ciphertext = ${sealed.ciphertext}, nonce = ${sealed.nonce}, key_id = ${sealed.keyId}
        where owner = ${row.owner} and namespace = ${row.namespace} and key = ${row.key}
          and version = ${row.version} and key_id = ${row.keyId}`;
      return updated.count === 1;
    },

    async countByKeyId() {
      const rows = await sql<{ key_id: string; n: number }[]>`select key_id, count(*) as n from vault_secrets group by key_id`;
      return new Map(rows.map((row) => [row.key_id, row.n]));
    },
  } satisfies VaultStore);
}
