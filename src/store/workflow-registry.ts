/**
 * The workflow registry table (`workflow_registry`, migration 0001): the WorkflowRegistry 2.0.0
 * contract's stand-in. This repository does the storage half of the contract's mutators —
 * `upsertWorkflow`, `pauseWorkflow`, `activateWorkflow`, `deleteWorkflow` — each in one transaction;
 * the id derivation and input checks happen before (src/services/workflow-node/registry.ts).
 *
 * Outcomes the contract reverts on are returned as tagged unions, not thrown.
 */
import type { Sql, TransactionSql } from "./db.js";

export type RegistryStatus = "active" | "paused";

export interface RegistryRow {
  readonly workflowId: string;
  /** EIP-55. */
  readonly owner: string;
  readonly name: string;
  readonly tag: string;
  readonly status: RegistryStatus;
  readonly donFamily: string;
  readonly binaryUrl: string;
  readonly configUrl: string;
  readonly secretsUrl: string;
  /** SHA-256 of the binary artifact, when the deployer recorded it. */
  readonly binaryHash: Uint8Array | null;
  readonly attributes: Uint8Array;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface RegistryUpsertInput {
  readonly workflowId: string;
  readonly owner: string;
  readonly name: string;
  readonly tag: string;
  readonly status: RegistryStatus;
  readonly donFamily: string;
  readonly binaryUrl: string;
  readonly configUrl: string;
  readonly secretsUrl: string;
  readonly binaryHash: Uint8Array | null;
  readonly attributes: Uint8Array;
  /** Create path only: keep the other active versions of (owner, name) running. */
  readonly keepAlive: boolean;
}

export type RegistryUpsertOutcome =
  | { readonly kind: "created"; readonly workflowId: string; readonly pausedWorkflowIds: readonly string[] }
  | { readonly kind: "updated"; readonly workflowId: string; readonly previousWorkflowId: string }
  /** WorkflowIDAlreadyExists: ids are unique across the whole registry. */
  | { readonly kind: "id-exists"; readonly workflowId: string }
  /** CannotChangeStatusOnUpdate: status changes go through pause/activate. */
  | { readonly kind: "status-change"; readonly workflowId: string; readonly currentStatus: RegistryStatus }
  /** CannotChangeDONFamilyOnUpdate. */
  | { readonly kind: "don-family-change"; readonly workflowId: string; readonly currentDonFamily: string };

export type RegistryChangeOutcome =
  | { readonly kind: "changed"; readonly row: RegistryRow }
  | { readonly kind: "unchanged"; readonly row: RegistryRow }
  | { readonly kind: "not-found" }
  | { readonly kind: "not-owner"; readonly owner: string };

export interface RegistryListFilter {
  readonly owner?: string;
  readonly donFamily?: string;
}

export interface WorkflowRegistryStore {
  upsert(input: RegistryUpsertInput, nowMs: number): Promise<RegistryUpsertOutcome>;
  /** Pause or activate; `owner` must own the workflow (CallerIsNotWorkflowOwner). */
  setStatus(workflowId: string, owner: string, status: RegistryStatus, nowMs: number): Promise<RegistryChangeOutcome>;
  delete(workflowId: string, owner: string): Promise<RegistryChangeOutcome>;
  get(workflowId: string): Promise<RegistryRow | undefined>;
  /** Every matching row in one query, oldest first (`workflow list`). */
  list(filter?: RegistryListFilter): Promise<readonly RegistryRow[]>;
  /**
   * Every matching workflow's id, status and last change, oldest first: the cheap listing the
   * syncer runs each tick (every mutation here bumps `updated_at`, so an unchanged row need not be
   * read again).
   */
  listVersions(filter?: RegistryListFilter): Promise<readonly RegistryVersion[]>;
  /** The rows of these ids, in one query. */
  getMany(workflowIds: readonly string[]): Promise<readonly RegistryRow[]>;
}

export interface RegistryVersion {
  readonly workflowId: string;
  readonly status: RegistryStatus;
  readonly updatedAtMs: number;
}

interface DbRow {
  workflow_id: string;
  owner: string;
  name: string;
  tag: string;
  status: RegistryStatus;
  don_family: string;
  binary_url: string;
  config_url: string;
  secrets_url: string;
  binary_hash: Uint8Array | null;
  attributes: Uint8Array;
  created_at: Date;
  updated_at: Date;
}

const UNIQUE_VIOLATION = "23505";

export function createWorkflowRegistryStore(sql: Sql): WorkflowRegistryStore {
  return Object.freeze({
    async upsert(input: RegistryUpsertInput, nowMs: number): Promise<RegistryUpsertOutcome> {
      const now = new Date(nowMs);
      for (let attempt = 1; ; attempt++) {
        try {
          return await sql.begin((tx) => upsertIn(tx, input, now));
        } catch (error) {
          // A concurrent upsert took the id first (the transaction checked before it inserted).
          if (isUniqueViolation(error, "workflow_registry_pkey")) return { kind: "id-exists", workflowId: input.workflowId };
          // A concurrent create of the same (owner, name, tag) won: run again, now as an update.
          if (attempt === 1 && isUniqueViolation(error, "workflow_registry_owner_name_tag_key")) continue;
          throw error;
        }
      }
    },

    async setStatus(workflowId: string, owner: string, status: RegistryStatus, nowMs: number): Promise<RegistryChangeOutcome> {
      return sql.begin(async (tx) => {
        const [row] = await tx<DbRow[]>`select * from workflow_registry where workflow_id = ${workflowId} for update`;
        if (row === undefined) return { kind: "not-found" } as const;
        if (!sameOwner(row.owner, owner)) return { kind: "not-owner", owner: row.owner } as const;
        if (row.status === status) return { kind: "unchanged", row: toRow(row) } as const;
        const [updated] = await tx<DbRow[]>`
          update workflow_registry set status = ${status}, updated_at = ${new Date(nowMs)}
          where workflow_id = ${workflowId} returning *`;
        return { kind: "changed", row: toRow(updated ?? row) } as const;
      });
    },

    async delete(workflowId: string, owner: string): Promise<RegistryChangeOutcome> {
      return sql.begin(async (tx) => {
        const [row] = await tx<DbRow[]>`select * from workflow_registry where workflow_id = ${workflowId} for update`;
        if (row === undefined) return { kind: "not-found" } as const;
        if (!sameOwner(row.owner, owner)) return { kind: "not-owner", owner: row.owner } as const;
        await tx`delete from workflow_registry where workflow_id = ${workflowId}`;
        return { kind: "changed", row: toRow(row) } as const;
      });
    },

    async get(workflowId: string): Promise<RegistryRow | undefined> {
      const [row] = await sql<DbRow[]>`select * from workflow_registry where workflow_id = ${workflowId}`;
      return row === undefined ? undefined : toRow(row);
    },

    async list(filter: RegistryListFilter = {}): Promise<readonly RegistryRow[]> {
      const { owner, donFamily } = filter;
      const rows = await sql<DbRow[]>`
        select * from workflow_registry
        where (${owner ?? null}::text is null or lower(owner) = lower(${owner ?? null}::text))
          and (${donFamily ?? null}::text is null or don_family = ${donFamily ?? null}::text)
        order by created_at, workflow_id`;
      return rows.map(toRow);
    },

    async listVersions(filter: RegistryListFilter = {}): Promise<readonly RegistryVersion[]> {
      const { owner, donFamily } = filter;
      const rows = await sql<{ workflow_id: string; status: RegistryStatus; updated_ms: number }[]>`
        select workflow_id, status, floor(extract(epoch from updated_at) * 1000)::int8 as updated_ms
        from workflow_registry
        where (${owner ?? null}::text is null or lower(owner) = lower(${owner ?? null}::text))
          and (${donFamily ?? null}::text is null or don_family = ${donFamily ?? null}::text)
        order by created_at, workflow_id`;
      return rows.map((row) => ({ workflowId: row.workflow_id, status: row.status, updatedAtMs: row.updated_ms }));
    },

    async getMany(workflowIds: readonly string[]): Promise<readonly RegistryRow[]> {
      if (workflowIds.length === 0) return [];
      const rows = await sql<DbRow[]>`select * from workflow_registry where workflow_id = any(${workflowIds as string[]}::text[])`;
      return rows.map(toRow);
    },
  });
}

async function upsertIn(tx: TransactionSql, input: RegistryUpsertInput, now: Date): Promise<RegistryUpsertOutcome> {
  const [taken] = await tx<{ workflow_id: string }[]>`
    select workflow_id from workflow_registry where workflow_id = ${input.workflowId}`;
  if (taken !== undefined) return { kind: "id-exists", workflowId: input.workflowId };

  const [existing] = await tx<DbRow[]>`
    select * from workflow_registry
    where owner = ${input.owner} and name = ${input.name} and tag = ${input.tag}
    for update`;

  if (existing !== undefined) {
    // Update path: same record (owner, name, tag), new id; status and DON family cannot change here.
    if (existing.status !== input.status) return { kind: "status-change", workflowId: existing.workflow_id, currentStatus: existing.status };
    if (existing.don_family !== input.donFamily) {
      return { kind: "don-family-change", workflowId: existing.workflow_id, currentDonFamily: existing.don_family };
    }
    await tx`
      update workflow_registry set
        workflow_id = ${input.workflowId},
        binary_url = ${input.binaryUrl},
        config_url = ${input.configUrl},
        secrets_url = ${input.secretsUrl},
        binary_hash = ${input.binaryHash},
        attributes = ${input.attributes},
        updated_at = ${now}
      where workflow_id = ${existing.workflow_id}`;
    return { kind: "updated", workflowId: input.workflowId, previousWorkflowId: existing.workflow_id };
  }

  // Create path: unless keep-alive, every active version of (owner, name) is paused first.
  const paused = input.keepAlive
    ? []
    : await tx<{ workflow_id: string }[]>`
        update workflow_registry set status = 'paused', updated_at = ${now}
        where owner = ${input.owner} and name = ${input.name} and status = 'active'
        returning workflow_id`;
  await tx`
    insert into workflow_registry (
      workflow_id, owner, name, tag, status, don_family, binary_url, config_url, secrets_url,
      binary_hash, attributes, created_at, updated_at
    ) values (
      ${input.workflowId}, ${input.owner}, ${input.name}, ${input.tag}, ${input.status}, ${input.donFamily},
      ${input.binaryUrl}, ${input.configUrl}, ${input.secretsUrl}, ${input.binaryHash}, ${input.attributes},
      ${now}, ${now}
    )`;
  return { kind: "created", workflowId: input.workflowId, pausedWorkflowIds: paused.map((row) => row.workflow_id).sort() };
}

function toRow(row: DbRow): RegistryRow {
  return Object.freeze({
    workflowId: row.workflow_id,
    owner: row.owner,
    name: row.name,
    tag: row.tag,
    status: row.status,
    donFamily: row.don_family,
    binaryUrl: row.binary_url,
    configUrl: row.config_url,
    secretsUrl: row.secrets_url,
    binaryHash: row.binary_hash === null ? null : new Uint8Array(row.binary_hash),
    attributes: new Uint8Array(row.attributes),
    createdAtMs: row.created_at.getTime(),
    updatedAtMs: row.updated_at.getTime(),
  });
}

function sameOwner(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: unknown; constraint_name?: unknown } | null;
  return e !== null && typeof e === "object" && e.code === UNIQUE_VIOLATION && e.constraint_name === constraint;
}
