/**
 * The workflow engine: one per active workflow (reference chainlink-workflows.md §2.5). It does not
 * know where the guest runs — that is the module's business (WasmModule here, ConfidentialModule in
 * the enclave) — and treats both alike:
 *
 * - `start()`: module.start(), then `Subscribe` (ExecuteRequest{subscribe}, execution id "",
 *   capability and secret calls refused), which must answer trigger subscriptions ("failed to
 *   execute subscribe: <error>", "subscribe result is nil"); the triggers are checked and armed.
 *   Resolves when initialized; rejects with the reason otherwise (the caller closes the engine).
 * - each trigger event → one execution: ExecuteRequest{trigger{id: subscription index, payload}}.
 *   The execution id is derived from the trigger event (upstream GenerateExecutionID), the start
 *   and the outcome are recorded in `workflow_executions` (status succeeded / failed / timed_out,
 *   the value as UTF-8 JSON or the error, timings, and the relay signers the module reported through
 *   the helper — ConfidentialModule's receipts; none for a local guest). An event whose id is
 *   already recorded is not run again.
 * - at most `maxConcurrentExecutions` run at once; further events wait in a bounded queue (a cron
 *   fire that finds it full is dropped and logged; a manual trigger is refused with
 *   ResourceExhausted).
 * - each execution has a deadline (`executionTimeoutMs`): the module's signal is aborted and the
 *   execution is recorded timed_out even if the module never returns.
 * - `close()`: stops the triggers, drops queued events that have not started, waits for the running
 *   executions to finish (drain), then closes the module. Idempotent.
 */
import { create, toJsonString } from "@bufbuild/protobuf";
import { EmptySchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { sdk } from "../../contract/index.js";
import type { Clock, RandomBytes } from "../../domain/clock.js";
import { Code, ccrError } from "../../domain/errors.js";
import { deriveExecutionId } from "../../domain/workflow/execution-id.js";
import type { ExecutionRecord, FinishedStatus, WorkflowExecutionsStore } from "../../store/workflow-executions.js";
import { capabilityError, refuseLocalSecrets, type CapabilityCaller } from "./capability-caller.js";
import type { ExecutionHelper, ModuleV2, WorkflowNodeLogger } from "./module.js";
import { silentLogger } from "./module.js";
import type { Scheduler, TimerHandle } from "./scheduler.js";
import { cronEventPayload, MANUAL_TRIGGER_ID, parseTriggerSubscriptions, type ParsedTrigger, type TriggerKind } from "./triggers.js";

export interface EngineLimits {
  readonly maxConcurrentExecutions: number;
  readonly maxQueuedExecutions: number;
  readonly executionTimeoutMs: number;
  /** ExecuteRequest.max_response_size. */
  readonly maxResponseSizeBytes: number;
}

export interface WorkflowEngineConfig {
  readonly workflowId: string;
  /** EIP-55 owner address. */
  readonly owner: string;
  readonly name: string;
  readonly tag: string;
  /** The config artifact, exactly as stored. */
  readonly config: Uint8Array;
  readonly module: ModuleV2;
  /** True when the module runs the guest in the enclave (for logs and `describe()`). */
  readonly confidential: boolean;
  readonly executions: WorkflowExecutionsStore;
  readonly capabilities: CapabilityCaller;
  readonly limits: EngineLimits;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly randomBytes: RandomBytes;
  readonly logger?: WorkflowNodeLogger;
}

export interface TriggerRequest {
  /** The subscription to fire; default the first manual-trigger subscription. */
  readonly subscriptionIndex?: number;
  /** The event payload (manual: the caller's input; default `{}`). */
  readonly payload?: Uint8Array;
  /** Names the event for the execution id; default a random one (every call is a new event). */
  readonly eventId?: string;
}

export interface TriggeredExecution {
  readonly executionId: string;
  /** Resolves with the final record (or the existing one, if this event already ran). */
  readonly finished: Promise<ExecutionRecord>;
}

/** The engine as the syncer and the engine registry see it. */
export interface Engine {
  readonly workflowId: string;
  start(): Promise<void>;
  close(): Promise<void>;
  ready(): boolean;
}

type EngineState = "new" | "starting" | "running" | "failed" | "closing" | "closed";

interface QueuedEvent {
  readonly trigger: ParsedTrigger;
  readonly payload: Uint8Array;
  readonly eventId: string;
  readonly resolve: (record: ExecutionRecord) => void;
  readonly reject: (error: unknown) => void;
}

const MANUAL_DEFAULT_PAYLOAD = new TextEncoder().encode("{}");
const USER_LOG_MAX_CHARS = 1024;
/** A relay signer as recorded: an ed25519 public key, 64 lowercase hex digits. */
const ED25519_KEY_HEX = /^[0-9a-f]{64}$/;

export class WorkflowEngine implements Engine {
  readonly workflowId: string;
  private state: EngineState = "new";
  private triggers: readonly ParsedTrigger[] = [];
  private readonly cronTimers = new Map<number, TimerHandle>();
  private readonly queue: QueuedEvent[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly logger: WorkflowNodeLogger;
  private idleWaiters: Array<() => void> = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly config: WorkflowEngineConfig) {
    this.workflowId = config.workflowId;
    this.logger = (config.logger ?? silentLogger).child({ workflowId: config.workflowId, workflowName: config.name });
  }

  ready(): boolean {
    return this.state === "running";
  }

  /** The armed triggers, in subscription order. */
  subscriptions(): readonly { readonly index: number; readonly id: string; readonly kind: TriggerKind }[] {
    return this.triggers.map(({ index, id, kind }) => ({ index, id, kind }));
  }

  /** Executions running now plus those waiting for a slot. */
  inFlight(): number {
    return this.running.size + this.queue.length;
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.inFlight() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async start(): Promise<void> {
    if (this.state !== "new") throw ccrError(`engine for workflow ${this.workflowId} was already started`, Code.FailedPrecondition);
    this.state = "starting";
    try {
      await this.config.module.start();
      const request = create(sdk.ExecuteRequestSchema, {
        config: this.config.config,
        request: { case: "subscribe", value: create(EmptySchema) },
        maxResponseSize: BigInt(this.config.limits.maxResponseSizeBytes),
      });
      const result = await this.withDeadline((signal) => this.config.module.execute(request, this.subscribeHelper(), { signal }));
      if (result.kind === "timed-out") throw new Error(`subscribe exceeded the execution time limit of ${this.config.limits.executionTimeoutMs} ms`);
      const outcome = result.value.result;
      if (outcome.case === "error") throw new Error(`failed to execute subscribe: ${outcome.value}`);
      if (outcome.case !== "triggerSubscriptions") throw new Error("subscribe result is nil");
      const parsed = parseTriggerSubscriptions(outcome.value.subscriptions);
      if (parsed.kind !== "ok") throw new Error(parsed.reason);
      if (this.state !== "starting") throw new Error("engine closed during initialization");
      this.triggers = parsed.triggers;
      this.state = "running";
      for (const trigger of this.triggers) if (trigger.kind === "cron") this.armCron(trigger, this.config.clock.nowMs());
      this.logger.info(
        { confidential: this.config.confidential, triggers: this.triggers.map((t) => `${t.id}#${t.index}`) },
        "workflow engine started",
      );
    } catch (error) {
      if (this.state === "starting") this.state = "failed";
      throw error instanceof ConnectError ? error : ccrError(messageOf(error), Code.FailedPrecondition, error);
    }
  }

  /** Fires a subscription now (the manual trigger, or any subscription by index). */
  async trigger(request: TriggerRequest = {}): Promise<TriggeredExecution> {
    if (this.state !== "running") {
      throw ccrError(`workflow ${this.workflowId} is not running on this node (engine ${this.state})`, Code.FailedPrecondition);
    }
    const trigger =
      request.subscriptionIndex === undefined
        ? this.triggers.find((t) => t.id === MANUAL_TRIGGER_ID)
        : this.triggers.find((t) => t.index === request.subscriptionIndex);
    if (trigger === undefined) {
      const available = this.triggers.map((t) => `${t.index}: ${t.id}`).join(", ") || "none";
      throw ccrError(
        request.subscriptionIndex === undefined
          ? `workflow ${this.workflowId} has no ${MANUAL_TRIGGER_ID} subscription; pick one by index (subscriptions: ${available})`
          : `workflow ${this.workflowId} has no subscription ${request.subscriptionIndex} (subscriptions: ${available})`,
        Code.FailedPrecondition,
      );
    }
    if (this.queue.length >= this.config.limits.maxQueuedExecutions && this.running.size >= this.config.limits.maxConcurrentExecutions) {
      throw ccrError(
        `workflow ${this.workflowId} has ${this.running.size} executions running and ${this.queue.length} waiting (the limit); try again later`,
        Code.ResourceExhausted,
      );
    }
    const eventId = request.eventId ?? `manual:${Buffer.from(this.config.randomBytes(16)).toString("hex")}`;
    const payload = request.payload ?? (trigger.kind === "manual" ? MANUAL_DEFAULT_PAYLOAD : new Uint8Array(0));
    const executionId = deriveExecutionId(this.workflowId, `${trigger.id}#${trigger.index}:${eventId}`);
    const finished = new Promise<ExecutionRecord>((resolve, reject) => this.enqueue({ trigger, payload, eventId, resolve, reject }));
    return { executionId, finished };
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wasRunning = this.state === "running";
    this.state = "closing";
    for (const timer of this.cronTimers.values()) this.config.scheduler.clearTimeout(timer);
    this.cronTimers.clear();
    for (const queued of this.queue.splice(0)) {
      queued.reject(ccrError(`workflow ${this.workflowId} stopped before the execution started`, Code.Unavailable));
    }
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    this.notifyIdle();
    try {
      await this.config.module.close();
    } catch (error) {
      this.logger.warn({ err: messageOf(error) }, "module close failed");
    }
    this.state = "closed";
    if (wasRunning) this.logger.info({}, "workflow engine stopped");
  }

  // --- triggers ------------------------------------------------------------------------------

  private armCron(trigger: Extract<ParsedTrigger, { kind: "cron" }>, afterMs: number): void {
    if (this.state !== "running") return;
    let dueMs: number;
    try {
      dueMs = trigger.schedule.nextAfter(afterMs);
    } catch (error) {
      this.logger.error({ trigger: trigger.index, err: messageOf(error) }, "cron schedule has no next fire time; trigger stopped");
      return;
    }
    const delayMs = Math.max(0, dueMs - this.config.clock.nowMs());
    const timer = this.config.scheduler.setTimeout(() => {
      this.cronTimers.delete(trigger.index);
      if (this.state !== "running") return;
      // Fire for the scheduled time; re-arm from now so a stalled process does not replay a backlog.
      this.fireCron(trigger, dueMs);
      this.armCron(trigger, Math.max(dueMs, this.config.clock.nowMs()));
    }, delayMs);
    this.cronTimers.set(trigger.index, timer);
  }

  private fireCron(trigger: Extract<ParsedTrigger, { kind: "cron" }>, scheduledTimeMs: number): void {
    if (this.queue.length >= this.config.limits.maxQueuedExecutions && this.running.size >= this.config.limits.maxConcurrentExecutions) {
      this.logger.warn(
        { trigger: trigger.index, scheduledTimeMs, running: this.running.size, queued: this.queue.length },
        "cron event dropped: the workflow's execution queue is full",
      );
      return;
    }
    const finished = new Promise<ExecutionRecord>((resolve, reject) =>
      this.enqueue({ trigger, payload: cronEventPayload(scheduledTimeMs), eventId: `cron:${scheduledTimeMs}`, resolve, reject }),
    );
    finished.catch(() => undefined); // failures are logged where they happen
  }

  // --- executions ----------------------------------------------------------------------------

  private enqueue(event: QueuedEvent): void {
    this.queue.push(event);
    this.pump();
  }

  private pump(): void {
    while (this.state === "running" && this.running.size < this.config.limits.maxConcurrentExecutions && this.queue.length > 0) {
      const event = this.queue.shift() as QueuedEvent;
      const run = this.runExecution(event).then(event.resolve, event.reject);
      const tracked = run.finally(() => {
        this.running.delete(tracked);
        this.pump();
        this.notifyIdle();
      });
      this.running.add(tracked);
    }
  }

  private notifyIdle(): void {
    if (this.inFlight() > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async runExecution(event: QueuedEvent): Promise<ExecutionRecord> {
    const { trigger, payload } = event;
    const triggerId = `${trigger.id}#${trigger.index}`;
    const executionId = deriveExecutionId(this.workflowId, `${triggerId}:${event.eventId}`);
    const log = this.logger.child({ executionId, trigger: triggerId });
    const executions = this.config.executions;
    const startedAtMs = this.config.clock.nowMs();
    const inserted = await executions.insertStarted({ id: executionId, workflowId: this.workflowId, triggerId, triggerKind: trigger.kind, startedAtMs });
    if (!inserted) {
      log.info({}, "trigger event already executed; not running it again");
      const existing = await executions.get(executionId);
      if (existing === undefined) throw ccrError(`execution ${executionId} vanished`, Code.Internal);
      return existing;
    }
    const request = create(sdk.ExecuteRequestSchema, {
      config: this.config.config,
      request: { case: "trigger", value: { id: BigInt(trigger.index), payload } },
      maxResponseSize: BigInt(this.config.limits.maxResponseSizeBytes),
    });

    let status: FinishedStatus;
    let result: Uint8Array | null = null;
    let error: string | null = null;
    const relaySigners = new Set<string>();
    try {
      const outcome = await this.withDeadline((signal) =>
        this.config.module.execute(request, this.executionHelper(executionId, signal, log, relaySigners), { signal }),
      );
      if (outcome.kind === "timed-out") {
        status = "timed_out";
        error = `execution exceeded the time limit of ${this.config.limits.executionTimeoutMs} ms`;
      } else {
        const r = outcome.value.result;
        if (r.case === "value") {
          status = "succeeded";
          result = new TextEncoder().encode(toJsonString(ValueSchema, r.value));
        } else if (r.case === "error") {
          status = "failed";
          error = r.value;
        } else {
          status = "failed";
          error = r.case === "triggerSubscriptions" ? "execution answered with trigger subscriptions instead of a value" : "execution result is nil";
        }
      }
    } catch (thrown) {
      // The module's own time limit (e.g. the WASM runtime's) counts as timing out too.
      status = thrown instanceof ConnectError && thrown.code === Code.DeadlineExceeded ? "timed_out" : "failed";
      error = messageOf(thrown);
    }
    const finishedAtMs = this.config.clock.nowMs();
    const record = await executions.finish({ id: executionId, status, result, error, finishedAtMs, relaySigners: [...relaySigners].sort() });
    if (status === "succeeded") log.info({ durationMs: finishedAtMs - startedAtMs }, "execution succeeded");
    else log.warn({ status, error, durationMs: finishedAtMs - startedAtMs }, "execution did not succeed");
    if (record === undefined) throw ccrError(`execution ${executionId} was finished by someone else`, Code.Internal);
    return record;
  }

  /** Runs `fn` with the execution deadline: its signal aborts, and the race ends, at the deadline. */
  private async withDeadline<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<{ kind: "ok"; value: T } | { kind: "timed-out" }> {
    const controller = new AbortController();
    let timer: TimerHandle | undefined;
    const deadline = new Promise<{ kind: "timed-out" }>((resolve) => {
      timer = this.config.scheduler.setTimeout(() => {
        controller.abort(ccrError("execution deadline exceeded", Code.DeadlineExceeded));
        resolve({ kind: "timed-out" });
      }, this.config.limits.executionTimeoutMs);
    });
    try {
      const work = fn(controller.signal).then((value) => ({ kind: "ok" as const, value }));
      // A module that throws after the deadline has passed is ignored: the outcome is decided.
      work.catch(() => undefined);
      return await Promise.race([work, deadline]);
    } finally {
      if (timer !== undefined) this.config.scheduler.clearTimeout(timer);
    }
  }

  private subscribeHelper(): ExecutionHelper {
    const refused = "capability calls are not allowed during subscribe";
    return {
      getWorkflowExecutionId: () => "",
      callCapability: async () => capabilityError(refused),
      getSecrets: async (request) => refuseLocalSecrets(request, this.config.owner),
      getNodeTimeMs: () => this.config.clock.nowMs(),
      emitUserLog: (line) => this.userLog(this.logger, line),
      // Subscribe is not an execution: there is no row to record signers on (and no relay calls).
      recordRelaySigners: () => undefined,
    };
  }

  private executionHelper(executionId: string, signal: AbortSignal, log: WorkflowNodeLogger, relaySigners: Set<string>): ExecutionHelper {
    let calls = 0;
    return {
      getWorkflowExecutionId: () => executionId,
      callCapability: (request) => {
        calls += 1;
        return this.config.capabilities(request, {
          workflowId: this.workflowId,
          owner: this.config.owner,
          executionId,
          referenceId: String(calls),
          signal,
        });
      },
      getSecrets: async (request) => refuseLocalSecrets(request, this.config.owner),
      getNodeTimeMs: () => this.config.clock.nowMs(),
      emitUserLog: (line) => this.userLog(log, line),
      recordRelaySigners: (signers) => {
        for (const signer of signers) {
          // The column holds 64-hex keys only (migration 0008): anything else would fail the row's write.
          if (ED25519_KEY_HEX.test(signer)) relaySigners.add(signer);
          else log.warn({ signer: signer.slice(0, 80) }, "module reported a relay signer that is not a 64-hex ed25519 key; not recorded");
        }
      },
    };
  }

  private userLog(log: WorkflowNodeLogger, line: string): void {
    const text = line.length > USER_LOG_MAX_CHARS ? `${line.slice(0, USER_LOG_MAX_CHARS)}… (${line.length} chars)` : line;
    log.info({ userLog: text }, "workflow log");
  }
}

function messageOf(error: unknown): string {
  if (error instanceof ConnectError) return error.rawMessage;
  return error instanceof Error ? error.message : String(error);
}
