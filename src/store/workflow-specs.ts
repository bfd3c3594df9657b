/**
 * `workflow_specs_v2` (migrations 0002, 0003): the workflow node's record of each workflow it runs,
 * written by the syncer's Activated handler and removed on pause and delete. The queries are
 * upstream's ORM (reference chainlink-workflows.md §5.3) made set-based, so a tick that activates
 * thousands of workflows costs a handful of statements instead of thousands:
 * - `upsertMany`: INSERT … ON CONFLICT (workflow_id) DO UPDATE SET every column = EXCLUDED (attributes
 *   included, the #21641 change), in chunks bounded by row count and bytes; `created_at` keeps the
 *   first insert's value;
 * - `getMany`: one `workflow_id = any($1)` select;
 * - `deleteMany`: one delete, idempotent (deleting what is not there is not an error).
 *
 * Columns hold upstream's forms: `workflow` is the hex of the binary, `workflow_owner` the owner as
 * 40 lowercase hex digits without 0x, `config` the config text.
 */
import type { Sql } from "./db.js";

export type SpecStatus = "" | "active" | "paused";

export interface WorkflowSpecRecord {
  /** Hex of the binary artifact (upstream `Workflow`). */
  readonly workflow: string;
  readonly config: string;
  readonly workflowId: string;
  /** 40 lowercase hex digits, no 0x. */
  readonly workflowOwner: string;
  readonly workflowName: string;
  readonly workflowTag: string;
  readonly status: SpecStatus;
  readonly binaryUrl: string;
  readonly configUrl: string;
  /** "wasm_file" for every registry v2 workflow. */
  readonly specType: string;
  /** Raw attributes bytes; empty when none. */
  readonly attributes: Uint8Array;
}

export interface WorkflowSpecRow extends WorkflowSpecRecord {
  readonly id: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface WorkflowSpecsStore {
  upsertMany(specs: readonly WorkflowSpecRecord[], nowMs: number): Promise<void>;
  getMany(workflowIds: readonly string[]): Promise<ReadonlyMap<string, WorkflowSpecRow>>;
  get(workflowId: string): Promise<WorkflowSpecRow | undefined>;
  setStatusMany(workflowIds: readonly string[], status: SpecStatus, nowMs: number): Promise<number>;
  /** Deletes the rows that exist; answers how many did. */
  deleteMany(workflowIds: readonly string[]): Promise<number>;
  listIds(): Promise<readonly string[]>;
}

interface DbRow {
  id: number;
  workflow: string;
  config: string | null;
  workflow_id: string;
  workflow_owner: string;
  workflow_name: string;
  workflow_tag: string;
  status: string;
  binary_url: string | null;
  config_url: string | null;
  created_at: Date;
  updated_at: Date;
  spec_type: string | null;
  attributes: Uint8Array | null;
}

/** Rows per INSERT (13 parameters each, well under Postgres's 65 535) and bytes per INSERT. */
const MAX_ROWS_PER_STATEMENT = 500;
const MAX_BYTES_PER_STATEMENT = 16 * 1024 * 1024;

export function createWorkflowSpecsStore(sql: Sql): WorkflowSpecsStore {
  return Object.freeze({
    async upsertMany(specs: readonly WorkflowSpecRecord[], nowMs: number): Promise<void> {
      const now = new Date(nowMs);
      // One statement cannot touch a row twice (ON CONFLICT DO UPDATE): the last spec per id wins.
      const unique = [...new Map(specs.map((spec) => [spec.workflowId, spec])).values()];
      for (const chunk of chunks(unique)) {
        const rows = chunk.map((spec) => ({
          workflow: spec.workflow,
          config: spec.config,
          workflow_id: spec.workflowId,
          workflow_owner: spec.workflowOwner,
          workflow_name: spec.workflowName,
          workflow_tag: spec.workflowTag,
          status: spec.status,
          binary_url: spec.binaryUrl,
          config_url: spec.configUrl,
          created_at: now,
          updated_at: now,
          spec_type: spec.specType,
          attributes: spec.attributes,
        }));
        await sql`
          insert into workflow_specs_v2 ${sql(
            rows,
            "workflow",
            "config",
            "workflow_id",
            "workflow_owner",
            "workflow_name",
            "workflow_tag",
            "status",
            "binary_url",
            "config_url",
            "created_at",
            "updated_at",
            "spec_type",
            "attributes",
          )}
          on conflict (workflow_id) do update set
            workflow = excluded.workflow,
            config = excluded.config,
            workflow_owner = excluded.workflow_owner,
            workflow_name = excluded.workflow_name,
            workflow_tag = excluded.workflow_tag,
            status = excluded.status,
            binary_url = excluded.binary_url,
            config_url = excluded.config_url,
            updated_at = excluded.updated_at,
            spec_type = excluded.spec_type,
            attributes = excluded.attributes`;
      }
    },

    async getMany(workflowIds: readonly string[]): Promise<ReadonlyMap<string, WorkflowSpecRow>> {
      const found = new Map<string, WorkflowSpecRow>();
      if (workflowIds.length === 0) return found;
      const rows = await sql<DbRow[]>`select * from workflow_specs_v2 where workflow_id = any(${workflowIds as string[]}::text[])`;
      for (const row of rows) found.set(row.workflow_id, toRow(row));
      return found;
    },

    async get(workflowId: string): Promise<WorkflowSpecRow | undefined> {
      const [row] = await sql<DbRow[]>`select * from workflow_specs_v2 where workflow_id = ${workflowId}`;
      return row === undefined ? undefined : toRow(row);
    },

    async setStatusMany(workflowIds: readonly string[], status: SpecStatus, nowMs: number): Promise<number> {
      if (workflowIds.length === 0) return 0;
      const result = await sql`
        update workflow_specs_v2 set status = ${status}, updated_at = ${new Date(nowMs)}
        where workflow_id = any(${workflowIds as string[]}::text[])`;
      return result.count;
    },

    async deleteMany(workflowIds: readonly string[]): Promise<number> {
      if (workflowIds.length === 0) return 0;
      const result = await sql`delete from workflow_specs_v2 where workflow_id = any(${workflowIds as string[]}::text[])`;
      return result.count;
    },

    async listIds(): Promise<readonly string[]> {
      const rows = await sql<{ workflow_id: string }[]>`select workflow_id from workflow_specs_v2 order by workflow_id`;
      return rows.map((row) => row.workflow_id);
    },
  });
}

function* chunks(specs: readonly WorkflowSpecRecord[]): Generator<WorkflowSpecRecord[]> {
  let chunk: WorkflowSpecRecord[] = [];
  let bytes = 0;
  for (const spec of specs) {
    const size = spec.workflow.length + spec.config.length + spec.attributes.length;
    if (chunk.length > 0 && (chunk.length >= MAX_ROWS_PER_STATEMENT || bytes + size > MAX_BYTES_PER_STATEMENT)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(spec);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

function toRow(row: DbRow): WorkflowSpecRow {
  return Object.freeze({
    id: row.id,
    workflow: row.workflow,
    config: row.config ?? "",
    workflowId: row.workflow_id,
    workflowOwner: row.workflow_owner,
    workflowName: row.workflow_name,
    workflowTag: row.workflow_tag,
    status: row.status as SpecStatus,
    binaryUrl: row.binary_url ?? "",
    configUrl: row.config_url ?? "",
    specType: row.spec_type ?? "",
    // NULL scans as nil upstream and means "no attributes", like ''.
    attributes: row.attributes === null ? new Uint8Array(0) : new Uint8Array(row.attributes),
    createdAtMs: row.created_at.getTime(),
    updatedAtMs: row.updated_at.getTime(),
  });
}
