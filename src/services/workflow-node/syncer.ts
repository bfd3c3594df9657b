/**
 * The workflow registry syncer (reference chainlink-workflows.md §8.2–8.3): polling reconciliation.
 * Every `syncIntervalMs` (default 12 s, upstream `defaultTickInterval`), per source:
 *   1. list the source's workflows — on failure skip this source for this tick: nothing is deleted
 *      because a listing failed;
 *   2. plan Activated / Paused / Deleted events against the running engines (domain/reconcile.ts);
 *   3. handle the events that are due — pauses and deletes first, then activations — deferring the
 *      ones still backing off; a failed event is kept pending with its retry count and waits
 *      min(2ⁿ × 12 s, 5 min) before its next attempt.
 * Ticks never overlap: a tick requested while one runs starts right after it. Time and timers are
 * injected, so tests drive ticks on a fake clock (or call `tick()` directly).
 *
 * After a restart the engine registry is empty, so the first tick activates every active workflow
 * again from the registry, reusing the stored specs; the engine registry refuses a second engine for
 * the same id, and execution ids derived from trigger events keep a re-fired event from running
 * twice.
 */
import type { Clock } from "../../domain/clock.js";
import { afterFailure, isDue, planReconciliation, type PendingEvent, type WorkflowMetadata } from "../../domain/workflow/reconcile.js";
import type { EngineRegistry } from "./engine-registry.js";
import type { Engine } from "./engine.js";
import type { WorkflowEventHandler } from "./handler.js";
import type { WorkflowNodeLogger } from "./module.js";
import { silentLogger } from "./module.js";
import type { Scheduler, TimerHandle } from "./scheduler.js";

/** Where workflows come from (the registry table here; a contract-backed source could replace it). */
export interface WorkflowSource {
  readonly id: string;
  list(): Promise<readonly WorkflowMetadata[]>;
}

export interface SourceTickReport {
  readonly source: string;
  /** Set when listing failed (and nothing else happened for this source). */
  readonly listError?: string;
  readonly listed: number;
  readonly handled: number;
  readonly failed: number;
  /** Still backing off. */
  readonly deferred: number;
}

export interface SyncTickReport {
  readonly startedAtMs: number;
  readonly sources: readonly SourceTickReport[];
}

export interface WorkflowSyncerConfig {
  readonly sources: readonly WorkflowSource[];
  readonly handler: WorkflowEventHandler;
  readonly engines: EngineRegistry<Engine>;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly syncIntervalMs: number;
  readonly logger?: WorkflowNodeLogger;
}

export class WorkflowSyncer {
  private readonly pendingBySource = new Map<string, ReadonlyMap<string, PendingEvent>>();
  /** Per source: workflow id → why its pending event last failed. */
  private readonly errorsBySource = new Map<string, ReadonlyMap<string, string>>();
  private running: Promise<SyncTickReport> | undefined;
  private again: Promise<SyncTickReport> | undefined;
  private timer: TimerHandle | undefined;
  private started = false;
  private closed = false;
  private readonly logger: WorkflowNodeLogger;

  constructor(private readonly config: WorkflowSyncerConfig) {
    this.logger = (config.logger ?? silentLogger).child({ component: "workflow_syncer" });
  }

  /** Ticks after `firstDelayMs` (default now) and then every `syncIntervalMs` after each tick ends. */
  start(firstDelayMs = 0): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.schedule(firstDelayMs);
  }

  /** Stops ticking and waits for a running tick to end. Engines are the caller's to close. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.config.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([this.running, this.again]);
  }

  /**
   * Runs one tick. If one is running, the answer is a tick that starts after it (so a change made
   * before the call is always seen).
   */
  tick(): Promise<SyncTickReport> {
    if (this.closed) return Promise.resolve({ startedAtMs: this.config.clock.nowMs(), sources: [] });
    if (this.running === undefined) {
      const run = this.runTick().finally(() => {
        this.running = undefined;
      });
      this.running = run;
      return run;
    }
    this.again ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.again = undefined;
        return this.tick();
      });
    return this.again;
  }

  /** A source's pending (failed) events, by workflow id. */
  pending(source: string): ReadonlyMap<string, PendingEvent> {
    return this.pendingBySource.get(source) ?? new Map();
  }

  /** Why a workflow's last event failed, if it did and is still pending. */
  lastError(workflowId: string): string | undefined {
    for (const errors of this.errorsBySource.values()) {
      const error = errors.get(workflowId);
      if (error !== undefined) return error;
    }
    return undefined;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = this.config.scheduler.setTimeout(() => {
      this.timer = undefined;
      void this.tick()
        .catch((error: unknown) => this.logger.error({ err: error instanceof Error ? error.message : String(error) }, "sync tick failed"))
        .finally(() => this.schedule(this.config.syncIntervalMs));
    }, delayMs);
  }

  private async runTick(): Promise<SyncTickReport> {
    const startedAtMs = this.config.clock.nowMs();
    const reports: SourceTickReport[] = [];
    for (const source of this.config.sources) reports.push(await this.syncSource(source, startedAtMs));
    return { startedAtMs, sources: reports };
  }

  private async syncSource(source: WorkflowSource, nowMs: number): Promise<SourceTickReport> {
    let listed: readonly WorkflowMetadata[];
    try {
      listed = await source.list();
    } catch (error) {
      const listError = error instanceof Error ? error.message : String(error);
      this.logger.warn({ source: source.id, err: listError }, "failed to list workflows; skipping this source for this tick");
      return { source: source.id, listError, listed: 0, handled: 0, failed: 0, deferred: 0 };
    }
    const plan = planReconciliation({
      source: source.id,
      listed,
      engines: this.config.engines.sources(),
      pending: this.pending(source.id),
    });
    const due: PendingEvent[] = [];
    const nextPending = new Map<string, PendingEvent>();
    for (const event of plan.events) {
      if (isDue(event, nowMs)) due.push(event);
      else nextPending.set(event.event.workflowId, event);
    }
    let failed = 0;
    const previousErrors = this.errorsBySource.get(source.id) ?? new Map<string, string>();
    const errors = new Map<string, string>();
    for (const id of nextPending.keys()) {
      const error = previousErrors.get(id);
      if (error !== undefined) errors.set(id, error);
    }
    if (due.length > 0) {
      const outcomes = await this.config.handler.handleBatch(due.map((event) => event.event));
      due.forEach((event, index) => {
        const outcome = outcomes[index];
        const id = event.event.workflowId;
        if (outcome?.kind === "failed") {
          failed += 1;
          const retry = afterFailure(event, nowMs);
          nextPending.set(id, retry);
          errors.set(id, outcome.error);
          this.logger.warn(
            { source: source.id, workflowId: id, event: event.event.type, retryCount: retry.retryCount, nextRetryAtMs: retry.nextRetryAtMs, err: outcome.error },
            "workflow event failed; will retry",
          );
        }
      });
    }
    this.pendingBySource.set(source.id, nextPending);
    this.errorsBySource.set(source.id, errors);
    if (due.length > 0) {
      this.logger.info({ source: source.id, listed: listed.length, handled: due.length, failed, deferred: plan.events.length - due.length }, "sync tick");
    }
    return { source: source.id, listed: listed.length, handled: due.length, failed, deferred: plan.events.length - due.length };
  }
}
