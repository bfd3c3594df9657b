/**
 * `workflow_executions` (migrations 0004, 0008): one row per execution, inserted when it starts and
 * updated once when it finishes. The insert is `ON CONFLICT DO NOTHING`: execution ids are derived
 * from the trigger event (src/domain/workflow/execution-id.ts), so a trigger event that already ran
 * — e.g. a cron tick seen again after a restart — is refused by the primary key and not executed
 * twice. `relay_signers` (text[]) is written with the outcome: postgres.js sends and parses text[]
 * the same way on PGlite and a server (it learns the array types when it connects).
 */
import type { Sql } from "./db.js";

export type ExecutionStatus = "started" | "succeeded" | "failed" | "timed_out" | "cancelled";
export type FinishedStatus = Exclude<ExecutionStatus, "started">;

export interface ExecutionRecord {
  readonly id: string;
  readonly workflowId: string;
  /** The trigger subscription that fired, e.g. "cron-trigger@1.0.0#0". */
  readonly triggerId: string;
  /** "cron" or "manual". */
  readonly triggerKind: string;
  readonly status: ExecutionStatus;
  /** The workflow's value as UTF-8 JSON; null unless it succeeded. */
  readonly result: Uint8Array | null;
  readonly error: string | null;
  readonly startedAtMs: number;
  readonly finishedAtMs: number | null;
  readonly durationMs: number | null;
  /**
   * The relay DON members (ed25519 public keys, 64 lowercase hex digits, sorted, distinct) whose
   * quorum certificates vouched for the relay answers a confidential execution used; empty for a
   * local workflow, an execution that made no relay call, or one not finished.
   */
  readonly relaySigners: readonly string[];
}

export interface ExecutionStart {
  readonly id: string;
  readonly workflowId: string;
  readonly triggerId: string;
  readonly triggerKind: string;
  readonly startedAtMs: number;
}

export interface ExecutionFinish {
  readonly id: string;
  readonly status: FinishedStatus;
  readonly result: Uint8Array | null;
  readonly error: string | null;
  readonly finishedAtMs: number;
  /** See ExecutionRecord.relaySigners; the store writes them as given. */
  readonly relaySigners: readonly string[];
}

export interface WorkflowExecutionsStore {
  /** Records the start; false when an execution with this id already exists (nothing written). */
  insertStarted(start: ExecutionStart): Promise<boolean>;
  /** Records the outcome of a started execution; the duration is computed from its start. */
  finish(finish: ExecutionFinish): Promise<ExecutionRecord | undefined>;
  get(id: string): Promise<ExecutionRecord | undefined>;
  /** A workflow's executions, newest first. */
  listByWorkflow(workflowId: string, limit: number): Promise<readonly ExecutionRecord[]>;
  /** Marks every still-'started' execution cancelled (they were cut off by a stop); answers how many. */
  cancelStarted(error: string, nowMs: number): Promise<number>;
}

interface DbRow {
  id: string;
  workflow_id: string;
  trigger_id: string;
  trigger_kind: string;
  status: ExecutionStatus;
  result: Uint8Array | null;
  error: string | null;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  relay_signers: string[];
}

export function createWorkflowExecutionsStore(sql: Sql): WorkflowExecutionsStore {
  return Object.freeze({
    async insertStarted(start: ExecutionStart): Promise<boolean> {
      const rows = await sql`
        insert into workflow_executions (id, workflow_id, trigger_id, trigger_kind, status, started_at)
        values (${start.id}, ${start.workflowId}, ${start.triggerId}, ${start.triggerKind}, 'started', ${new Date(start.startedAtMs)})
        on conflict (id) do nothing
        returning id`;
      return rows.length === 1;
    },

    async finish(finish: ExecutionFinish): Promise<ExecutionRecord | undefined> {
      // greatest(0, …): a clock that stepped back must not violate the duration check.
      const [row] = await sql<DbRow[]>`
        update workflow_executions set
          status = ${finish.status},
          result = ${finish.result},
          error = ${finish.error},
          finished_at = ${new Date(finish.finishedAtMs)},
          duration_ms = greatest(0, ${finish.finishedAtMs}::int8 - (extract(epoch from started_at) * 1000)::int8),
          relay_signers = ${sql.array([...finish.relaySigners])}::text[]
        where id = ${finish.id} and status = 'started'
        returning *`;
      return row === undefined ? undefined : toRecord(row);
    },

    async get(id: string): Promise<ExecutionRecord | undefined> {
      const [row] = await sql<DbRow[]>`select * from workflow_executions where id = ${id}`;
      return row === undefined ? undefined : toRecord(row);
    },

    async listByWorkflow(workflowId: string, limit: number): Promise<readonly ExecutionRecord[]> {
      const rows = await sql<DbRow[]>`
        select * from workflow_executions where workflow_id = ${workflowId}
        order by started_at desc, id limit ${limit}`;
      return rows.map(toRecord);
    },

    async cancelStarted(error: string, nowMs: number): Promise<number> {
      const result = await sql`
        update workflow_executions set
          status = 'cancelled',
          error = ${error},
          finished_at = greatest(started_at, ${new Date(nowMs)}),
          duration_ms = greatest(0, ${nowMs}::int8 - (extract(epoch from started_at) * 1000)::int8)
        where status = 'started'`;
      return result.count;
    },
  });
}

function toRecord(row: DbRow): ExecutionRecord {
  return Object.freeze({
    id: row.id,
    workflowId: row.workflow_id,
    triggerId: row.trigger_id,
    triggerKind: row.trigger_kind,
    status: row.status,
    result: row.result === null ? null : new Uint8Array(row.result),
    error: row.error,
    startedAtMs: row.started_at.getTime(),
    finishedAtMs: row.finished_at === null ? null : row.finished_at.getTime(),
    durationMs: row.duration_ms,
    relaySigners: Object.freeze([...row.relay_signers]),
  });
}
