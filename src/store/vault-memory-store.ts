/**
 * The in-memory VaultStore: the same contract as the Postgres one (held to it by the shared store
 * suite), for service tests and benchmarks that should not pay for a database. Not for production:
 * nothing survives the process.
 */
import { PUT_ATTEMPTS, concurrentWriteError, type NonceOutcome, type SecretMetadataRow, type StoredSecretRow, type VaultStore } from "./vault-store.js";

interface MemoryRow extends StoredSecretRow {
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

const SEP = "\u0000";

function idKey(owner: string, namespace: string, key: string): string {
  return [owner, namespace, key].join(SEP);
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function copy(row: StoredSecretRow): StoredSecretRow {
  return {
    owner: row.owner,
    namespace: row.namespace,
    key: row.key,
    ciphertext: new Uint8Array(row.ciphertext),
    nonce: new Uint8Array(row.nonce),
    keyId: row.keyId,
    version: row.version,
  };
}

export interface MemoryVaultStore extends VaultStore {
  /** The stored rows as they are, for tests that inspect what is "on disk". */
  rawRows(): StoredSecretRow[];
}

export function createMemoryVaultStore(): MemoryVaultStore {
  const rows = new Map<string, MemoryRow>();
  const nonces = new Map<string, number>();

  return {
    async consumeNonce(owner, nonce, expiresAtMs, nowMs): Promise<NonceOutcome> {
      const k = owner + SEP + nonce;
      const seen = nonces.get(k);
      if (seen !== undefined && seen > nowMs) return "replayed";
      nonces.set(k, expiresAtMs);
      return "fresh";
    },

    async pruneNonces(nowMs) {
      let n = 0;
      for (const [k, expiresAtMs] of nonces) {
        if (expiresAtMs <= nowMs) {
          nonces.delete(k);
          n++;
        }
      }
      return n;
    },

    async put(id, seal, nowMs) {
      const k = idKey(id.owner, id.namespace, id.key);
      for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
        const current = rows.get(k);
        const version = (current?.version ?? 0) + 1;
        const sealed = seal(version);
        // `seal` is synchronous, so nothing can interleave here; the loop mirrors the SQL store.
        if (rows.get(k) !== current) continue;
        rows.set(k, {
          ...id,
          ciphertext: new Uint8Array(sealed.ciphertext),
          nonce: new Uint8Array(sealed.nonce),
          keyId: sealed.keyId,
          version,
          createdAtMs: current?.createdAtMs ?? nowMs,
          updatedAtMs: nowMs,
        });
        return { version };
      }
      throw concurrentWriteError(id);
    },

    async delete(id) {
      return rows.delete(idKey(id.owner, id.namespace, id.key));
    },

    async list(owner, namespace): Promise<SecretMetadataRow[]> {
      return [...rows.values()]
        .filter((row) => row.owner === owner && (namespace === undefined || row.namespace === namespace))
        .sort((a, b) => byteCompare(a.namespace, b.namespace) || byteCompare(a.key, b.key))
        .map((row) => ({ namespace: row.namespace, key: row.key, version: row.version, createdAtMs: row.createdAtMs, updatedAtMs: row.updatedAtMs }));
    },

    async getMany(owner, ids) {
      const out: StoredSecretRow[] = [];
      const seen = new Set<string>();
      for (const id of ids) {
        const k = idKey(owner, id.namespace, id.key);
        const row = rows.get(k);
        if (row !== undefined && !seen.has(k)) {
          seen.add(k);
          out.push(copy(row));
        }
      }
      return out;
    },

    async rowsNotUnderKey(keyId, limit) {
      return [...rows.values()]
        .filter((row) => row.keyId !== keyId)
        .sort((a, b) => byteCompare(a.owner, b.owner) || byteCompare(a.namespace, b.namespace) || byteCompare(a.key, b.key))
        .slice(0, limit)
        .map(copy);
    },

    async reseal(row, sealed) {
      const k = idKey(row.owner, row.namespace, row.key);
      const current = rows.get(k);
      if (current === undefined || current.version !== row.version || current.keyId !== row.keyId) return false;
      rows.set(k, { ...current, ciphertext: new Uint8Array(sealed.ciphertext), nonce: new Uint8Array(sealed.nonce), keyId: sealed.keyId });
      return true;
    },

    async countByKeyId() {
      const counts = new Map<string, number>();
      for (const row of rows.values()) counts.set(row.keyId, (counts.get(row.keyId) ?? 0) + 1);
      return counts;
    },

    rawRows() {
      return [...rows.values()].map(copy);
    },
  };
}
