/**
 * The running engines, by workflow id (reference chainlink-workflows.md §4.5): one engine per id,
 * with the source that listed it. `add` refuses a duplicate ("attempting to register duplicate
 * engine") — the syncer's invariant that a workflow never runs twice on a node.
 */
import { Code, ccrError } from "../../domain/errors.js";
import type { Engine } from "./engine.js";

export interface RegisteredEngine<E extends Engine = Engine> {
  readonly workflowId: string;
  readonly source: string;
  readonly engine: E;
}

export const ERR_ALREADY_EXISTS = "attempting to register duplicate engine";
export const ERR_NOT_FOUND = "engine not found";

export class EngineRegistry<E extends Engine = Engine> {
  private readonly engines = new Map<string, RegisteredEngine<E>>();

  add(workflowId: string, source: string, engine: E): void {
    const existing = this.engines.get(workflowId);
    if (existing !== undefined) {
      throw ccrError(`${ERR_ALREADY_EXISTS}: workflow ${workflowId} (source ${existing.source}; attempted ${source})`, Code.AlreadyExists);
    }
    this.engines.set(workflowId, Object.freeze({ workflowId, source, engine }));
  }

  get(workflowId: string): RegisteredEngine<E> | undefined {
    return this.engines.get(workflowId);
  }

  has(workflowId: string): boolean {
    return this.engines.has(workflowId);
  }

  getAll(): readonly RegisteredEngine<E>[] {
    return [...this.engines.values()];
  }

  getBySource(source: string): readonly RegisteredEngine<E>[] {
    return this.getAll().filter((entry) => entry.source === source);
  }

  /** workflow id → source, for the reconciliation plan. */
  sources(): ReadonlyMap<string, string> {
    const map = new Map<string, string>();
    for (const [id, entry] of this.engines) map.set(id, entry.source);
    return map;
  }

  size(): number {
    return this.engines.size;
  }

  pop(workflowId: string): RegisteredEngine<E> {
    const entry = this.engines.get(workflowId);
    if (entry === undefined) throw ccrError(`pop failed: ${ERR_NOT_FOUND}: workflow ${workflowId}`, Code.NotFound);
    this.engines.delete(workflowId);
    return entry;
  }

  popAll(): readonly RegisteredEngine<E>[] {
    const all = this.getAll();
    this.engines.clear();
    return all;
  }
}
