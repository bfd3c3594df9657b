/**
 * In-memory stand-ins for the workflow node's repositories (the SQL ones are tested on both
 * databases in test/integration/workflow-node/stores.test.ts). They keep the same contracts: specs
 * upsert by id, executions refuse a second start of the same id, `finish` only moves 'started' rows.
 * `failNext` makes the next call of a method throw, for failure paths.
 */
import type { ExecutionFinish, ExecutionRecord, ExecutionStart, WorkflowExecutionsStore } from "../../../../src/store/workflow-executions.js";
import type { SpecStatus, WorkflowSpecRecord, WorkflowSpecRow, WorkflowSpecsStore } from "../../../../src/store/workflow-specs.js";

export class MemorySpecsStore implements WorkflowSpecsStore {
  readonly rows = new Map<string, WorkflowSpecRow>();
  readonly calls: string[] = [];
  private nextId = 1;
  private failing = new Set<string>();

  failNext(method: keyof WorkflowSpecsStore): void {
    this.failing.add(method);
  }

  private enter(method: string): void {
    this.calls.push(method);
    if (this.failing.delete(method)) throw new Error(`${method}: database unavailable`);
  }

  async upsertMany(specs: readonly WorkflowSpecRecord[], nowMs: number): Promise<void> {
    if (specs.length === 0) return;
    this.enter("upsertMany");
    for (const spec of specs) {
      const existing = this.rows.get(spec.workflowId);
      this.rows.set(spec.workflowId, { ...spec, id: existing?.id ?? this.nextId++, createdAtMs: existing?.createdAtMs ?? nowMs, updatedAtMs: nowMs });
    }
  }

  async getMany(workflowIds: readonly string[]): Promise<ReadonlyMap<string, WorkflowSpecRow>> {
    this.enter("getMany");
    const found = new Map<string, WorkflowSpecRow>();
    for (const id of workflowIds) {
      const row = this.rows.get(id);
      if (row !== undefined) found.set(id, row);
    }
    return found;
  }

  async get(workflowId: string): Promise<WorkflowSpecRow | undefined> {
    this.enter("get");
    return this.rows.get(workflowId);
  }

  async setStatusMany(workflowIds: readonly string[], status: SpecStatus, nowMs: number): Promise<number> {
    if (workflowIds.length === 0) return 0;
    this.enter("setStatusMany");
    let count = 0;
    for (const id of workflowIds) {
      const row = this.rows.get(id);
      if (row === undefined) continue;
      this.rows.set(id, { ...row, status, updatedAtMs: nowMs });
      count++;
    }
    return count;
  }

  async deleteMany(workflowIds: readonly string[]): Promise<number> {
    if (workflowIds.length === 0) return 0;
    this.enter("deleteMany");
    let count = 0;
    for (const id of workflowIds) if (this.rows.delete(id)) count++;
    return count;
  }

  async listIds(): Promise<readonly string[]> {
    this.enter("listIds");
    return [...this.rows.keys()].sort();
  }
}

export class MemoryExecutionsStore implements WorkflowExecutionsStore {
  readonly rows = new Map<string, ExecutionRecord>();

  async insertStarted(start: ExecutionStart): Promise<boolean> {
    if (this.rows.has(start.id)) return false;
    this.rows.set(start.id, {
      id: start.id,
      workflowId: start.workflowId,
      triggerId: start.triggerId,
      triggerKind: start.triggerKind,
      status: "started",
      result: null,
      error: null,
      startedAtMs: start.startedAtMs,
      finishedAtMs: null,
      durationMs: null,
      relaySigners: [],
    });
    return true;
  }

  async finish(finish: ExecutionFinish): Promise<ExecutionRecord | undefined> {
    const row = this.rows.get(finish.id);
    if (row === undefined || row.status !== "started") return undefined;
    const done: ExecutionRecord = {
      ...row,
      status: finish.status,
      result: finish.result,
      error: finish.error,
      finishedAtMs: finish.finishedAtMs,
      durationMs: Math.max(0, finish.finishedAtMs - row.startedAtMs),
      relaySigners: [...finish.relaySigners],
    };
    this.rows.set(finish.id, done);
    return done;
  }

  async get(id: string): Promise<ExecutionRecord | undefined> {
    return this.rows.get(id);
  }

  async listByWorkflow(workflowId: string, limit: number): Promise<readonly ExecutionRecord[]> {
    return [...this.rows.values()]
      .filter((row) => row.workflowId === workflowId)
      .sort((a, b) => b.startedAtMs - a.startedAtMs || a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  async cancelStarted(error: string, nowMs: number): Promise<number> {
    let count = 0;
    for (const [id, row] of this.rows) {
      if (row.status !== "started") continue;
      this.rows.set(id, { ...row, status: "cancelled", error, finishedAtMs: nowMs, durationMs: Math.max(0, nowMs - row.startedAtMs) });
      count++;
    }
    return count;
  }

  all(): ExecutionRecord[] {
    return [...this.rows.values()];
  }
}
