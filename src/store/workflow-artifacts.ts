/**
 * `workflow_artifacts` (migration 0007): the artifact store's bytes, content-addressed by SHA-256.
 * `put` is idempotent (same bytes → same key, one row).
 */
import { createHash } from "node:crypto";
import type { Sql } from "./db.js";

export interface StoredArtifact {
  /** SHA-256 of the content, 64 lowercase hex digits. */
  readonly sha256: string;
  readonly sizeBytes: number;
}

export interface WorkflowArtifactsStore {
  put(content: Uint8Array, nowMs: number): Promise<StoredArtifact>;
  get(sha256: string): Promise<Uint8Array | undefined>;
}

export function createWorkflowArtifactsStore(sql: Sql): WorkflowArtifactsStore {
  return Object.freeze({
    async put(content: Uint8Array, nowMs: number): Promise<StoredArtifact> {
      const sha256 = createHash("sha256").update(content).digest("hex");
      await sql`
        insert into workflow_artifacts (sha256, content, size_bytes, created_at)
        values (${sha256}, ${content}, ${content.length}, ${new Date(nowMs)})
        on conflict (sha256) do nothing`;
      return Object.freeze({ sha256, sizeBytes: content.length });
    },

    async get(sha256: string): Promise<Uint8Array | undefined> {
      const [row] = await sql<{ content: Uint8Array }[]>`select content from workflow_artifacts where sha256 = ${sha256}`;
      return row === undefined ? undefined : new Uint8Array(row.content.buffer, row.content.byteOffset, row.content.byteLength);
    },
  });
}
