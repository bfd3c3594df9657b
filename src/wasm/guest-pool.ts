/**
 * The worker-thread pool that runs guest executions (issue 6, "Run").
 *
 * - At most `maxWorkers` executions run at once, one per worker; up to `maxQueued` more wait in FIFO
 *   order; beyond that `submit` answers `at-capacity` at once instead of queueing without bound.
 * - Each execution has a wall-clock limit. When it passes (or the caller's signal aborts) the worker
 *   is terminated — that interrupts a wasm loop and an `Atomics.wait` alike — and a fresh worker
 *   takes its place on demand. Any worker death ends only its own execution.
 * - Host calls arrive from the worker as messages; this side runs the caller's async `HostCalls`
 *   and writes the answer into the worker's shared buffer, then wakes it (docs/wasm-abi.md).
 * - Guest log lines pass a per-execution token bucket before reaching `HostCalls.log`; the worker has
 *   already cut long lines and capped the count.
 */
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { TokenBucket } from "../domain/ratelimit/token-bucket.js";
import {
  GUEST_LOG_LEVELS,
  type CapabilityResponse,
  type GuestRequest,
  type HostCalls,
  type RunOutcome,
  type SecretsResponse,
} from "./guest-abi.js";
import type { WasmRuntimeConfig } from "./runtime-config.js";
import type { WasmModule } from "./webassembly.js";
import { packagePath } from "../package-root.js";

// From the package root, not import.meta.url: the CLI runs this module compiled into a bundle chunk
// under node_modules/.cache (bin/compiled.js), while the worker stays its own plain-JS file here.
const WORKER_URL = pathToFileURL(packagePath("src", "wasm", "guest-worker.js"));

export interface PoolSubmission {
  readonly module: WasmModule;
  readonly maxPages: number;
  readonly request: GuestRequest;
  readonly host: HostCalls;
  readonly timeoutMs: number;
  readonly maxResultBytes: number;
  readonly signal?: AbortSignal;
}

export interface PoolStats {
  readonly workers: number;
  readonly busy: number;
  readonly queued: number;
  /** Workers terminated because an execution overran its time or was cancelled. */
  readonly workersReplaced: number;
}

interface Job extends PoolSubmission {
  readonly id: number;
  readonly resolve: (outcome: RunOutcome) => void;
  /** Aborted when the job ends, so a host call still in flight can stop. */
  readonly ended: AbortController;
  readonly logBucket: TokenBucket;
  logsRateDropped: number;
  slot: Slot | undefined;
  timer: NodeJS.Timeout | undefined;
  onCallerAbort: (() => void) | undefined;
  settled: boolean;
}

interface Slot {
  readonly worker: Worker;
  readonly ctrl: Int32Array;
  readonly answer: Buffer;
  readonly online: Promise<void>;
  isOnline: boolean;
  job: Job | undefined;
  dead: boolean;
}

/** Messages the worker sends (see guest-worker.js). */
type WorkerMessage =
  | { type: "log"; jobId: number; level: number; message: string }
  | { type: "host"; jobId: number; op: "capability"; request: { id: string; method: string; payload: Uint8Array } }
  | { type: "host"; jobId: number; op: "secrets"; request: { requests: Array<{ id: string; namespace: string }> } }
  | { type: "host"; jobId: number; op: "now" }
  | { type: "done"; jobId: number; outcome: RunOutcome; logsDropped: number };

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function capabilityAnswer(response: CapabilityResponse): string {
  if (response.kind === "payload" && response.payload instanceof Uint8Array) {
    const p = response.payload;
    return JSON.stringify({ payload: Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("base64") });
  }
  if (response.kind === "error") return JSON.stringify({ error: String(response.error) });
  return JSON.stringify({ error: "the host answered the capability call with a malformed response" });
}

function secretsAnswer(response: SecretsResponse): string {
  const responses = response.responses.map((r) =>
    r.kind === "secret" ? { id: r.id, namespace: r.namespace, value: r.value } : { id: r.id, namespace: r.namespace, error: r.error },
  );
  return JSON.stringify({ responses });
}

/** A view that does not span its whole buffer is copied: posting a view clones its entire ArrayBuffer. */
function compact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

function compactRequest(request: GuestRequest): GuestRequest {
  return request.kind === "subscribe"
    ? { kind: "subscribe", config: compact(request.config) }
    : { kind: "trigger", config: compact(request.config), triggerId: request.triggerId, payload: compact(request.payload) };
}

export class GuestPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextJobId = 1;
  private closed = false;
  private replaced = 0;

  constructor(private readonly config: WasmRuntimeConfig) {}

  submit(submission: PoolSubmission): Promise<RunOutcome> {
    // After close (shutdown), work is answered as cancelled rather than thrown at the caller.
    if (this.closed || submission.signal?.aborted) return Promise.resolve({ kind: "cancelled" });
    return new Promise<RunOutcome>((resolve) => {
      const job: Job = {
        ...submission,
        id: this.nextJobId++,
        resolve,
        ended: new AbortController(),
        logBucket: new TokenBucket({ burst: this.config.log.burst, ratePerSec: this.config.log.linesPerSecond }, this.config.clock.nowMs()),
        logsRateDropped: 0,
        slot: undefined,
        timer: undefined,
        onCallerAbort: undefined,
        settled: false,
      };
      const slot = this.freeSlot();
      if (slot !== undefined) {
        this.start(slot, job);
      } else if (this.queue.length < this.config.maxQueued) {
        this.queue.push(job);
      } else {
        job.settled = true;
        resolve({ kind: "at-capacity" });
        return;
      }
      if (submission.signal !== undefined) {
        job.onCallerAbort = () => this.abortJob(job, { kind: "cancelled" });
        submission.signal.addEventListener("abort", job.onCallerAbort, { once: true });
      }
    });
  }

  /** Starts every worker now, so the first executions do not pay for thread start-up. */
  async warmUp(): Promise<void> {
    while (!this.closed && this.slots.length < this.config.maxWorkers) this.spawn();
    await Promise.all(this.slots.map((s) => s.online));
  }

  stats(): PoolStats {
    return {
      workers: this.slots.length,
      busy: this.slots.filter((s) => s.job !== undefined).length,
      queued: this.queue.length,
      workersReplaced: this.replaced,
    };
  }

  /** Ends queued and running executions as `cancelled` and stops every worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) this.finish(job, { kind: "cancelled" });
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(async (slot) => {
        slot.dead = true;
        if (slot.job !== undefined) this.finish(slot.job, { kind: "cancelled" });
        await slot.worker.terminate();
      }),
    );
  }

  // -------------------------------------------------------------------------------------------

  private freeSlot(): Slot | undefined {
    const idle = this.slots.find((s) => s.job === undefined);
    if (idle !== undefined) return idle;
    return this.slots.length < this.config.maxWorkers ? this.spawn() : undefined;
  }

  private spawn(): Slot {
    const sab = new SharedArrayBuffer(8 + this.config.maxHostAnswerBytes);
    const worker = new Worker(WORKER_URL, {
      name: "ccr-guest",
      workerData: {
        sab,
        maxGuestRequestBytes: this.config.maxGuestRequestBytes,
        maxLogLineBytes: this.config.log.maxLineBytes,
        maxLogLinesPerExecution: this.config.log.maxLinesPerExecution,
      },
      resourceLimits: { maxOldGenerationSizeMb: this.config.workerHeapLimitMb, maxYoungGenerationSizeMb: 16 },
      // The worker is plain JS with node built-ins only: no loader flags, no environment.
      execArgv: [],
      env: {},
    });
    // Idle workers must not keep the process alive; a running job holds its own timer.
    worker.unref();
    const slot: Slot = {
      worker,
      ctrl: new Int32Array(sab, 0, 2),
      answer: Buffer.from(sab, 8),
      online: new Promise<void>((resolve) => worker.once("online", resolve)),
      isOnline: false,
      job: undefined,
      dead: false,
    };
    void slot.online.then(() => (slot.isOnline = true));
    worker.on("message", (message: WorkerMessage) => this.onMessage(slot, message));
    worker.on("error", (error: Error & { code?: string }) => this.onWorkerGone(slot, error));
    worker.on("exit", (code) => this.onWorkerGone(slot, new Error(`the guest worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private start(slot: Slot, job: Job): void {
    slot.job = job;
    job.slot = slot;
    const armTimer = () => {
      clearTimeout(job.timer);
      job.timer = setTimeout(() => this.abortJob(job, { kind: "timeout", timeoutMs: job.timeoutMs }), job.timeoutMs);
    };
    armTimer();
    // A replacement worker (after a timeout killed its predecessor) may still be starting: its
    // start-up is the pool's cost, not the guest's, and on a loaded machine it can take longer than a
    // short limit. So the wall clock restarts once the worker is online.
    if (!slot.isOnline) {
      void slot.online.then(() => {
        if (slot.job === job && !job.settled) armTimer();
      });
    }
    slot.worker.postMessage({
      type: "run",
      jobId: job.id,
      module: job.module,
      maxPages: job.maxPages,
      maxResultBytes: job.maxResultBytes,
      request: compactRequest(job.request),
    });
  }

  /** Ends a job early: dequeued if waiting; its worker terminated if running. */
  private abortJob(job: Job, outcome: RunOutcome): void {
    if (job.settled) return;
    const slot = job.slot;
    if (slot === undefined) {
      const i = this.queue.indexOf(job);
      if (i >= 0) this.queue.splice(i, 1);
      this.finish(job, outcome);
      return;
    }
    this.retire(slot);
    this.replaced++;
    void slot.worker.terminate();
    this.finish(job, outcome);
    this.dispatch();
  }

  private onWorkerGone(slot: Slot, error: Error & { code?: string }): void {
    if (slot.dead) return;
    this.retire(slot);
    const job = slot.job;
    if (job !== undefined) {
      this.finish(
        job,
        error.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? { kind: "memory-limit", message: `the guest worker ran out of JS heap (${this.config.workerHeapLimitMb} MiB)` }
          : { kind: "trap", message: `the guest worker died: ${error.message}` },
      );
    }
    void slot.worker.terminate();
    this.dispatch();
  }

  private retire(slot: Slot): void {
    slot.dead = true;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
  }

  private finish(job: Job, outcome: RunOutcome, logsDropped = 0): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (job.onCallerAbort !== undefined) job.signal?.removeEventListener("abort", job.onCallerAbort);
    job.ended.abort();
    const slot = job.slot;
    if (slot !== undefined && slot.job === job) slot.job = undefined;
    const dropped = logsDropped + job.logsRateDropped;
    if (dropped > 0) this.emitLog(job, "warn", `the runtime dropped ${dropped} guest log line(s) over the log limits`);
    job.resolve(outcome);
  }

  /** Hands queued jobs to free workers. */
  private dispatch(): void {
    while (!this.closed && this.queue.length > 0) {
      const slot = this.freeSlot();
      if (slot === undefined) return;
      this.start(slot, this.queue.shift() as Job);
    }
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    const job = slot.job;
    if (slot.dead || job === undefined || message.jobId !== job.id) return;
    switch (message.type) {
      case "log":
        if (job.logBucket.take(this.config.clock.nowMs()).kind === "allowed") {
          this.emitLog(job, GUEST_LOG_LEVELS[message.level] ?? "info", message.message);
        } else {
          job.logsRateDropped++;
        }
        return;
      case "host":
        void this.answerHostCall(slot, job, message);
        return;
      case "done":
        this.finish(job, message.outcome, message.logsDropped);
        this.dispatch();
        return;
    }
  }

  private emitLog(job: Job, level: (typeof GUEST_LOG_LEVELS)[number], message: string): void {
    try {
      job.host.log(level, message);
    } catch {
      // A failing logger must not end the execution.
    }
  }

  private async answerHostCall(slot: Slot, job: Job, message: Extract<WorkerMessage, { type: "host" }>): Promise<void> {
    let text: string;
    try {
      switch (message.op) {
        case "capability":
          text = capabilityAnswer(await job.host.callCapability(message.request, job.ended.signal));
          break;
        case "secrets":
          text = secretsAnswer(await job.host.getSecrets(message.request, job.ended.signal));
          break;
        case "now":
          text = String(job.host.nowMs());
          break;
      }
    } catch (error) {
      text = JSON.stringify({ error: errorMessage(error) });
    }
    // The execution may have ended (time limit, cancel) while the call was in flight.
    if (slot.dead || slot.job !== job) return;
    this.writeAnswer(slot, text);
  }

  private writeAnswer(slot: Slot, text: string): void {
    let answer = text;
    let length = Buffer.byteLength(answer, "utf8");
    if (length > slot.answer.length) {
      answer = JSON.stringify({ error: `the host answer is ${length} bytes, over the limit of ${slot.answer.length} bytes` });
      length = Buffer.byteLength(answer, "utf8");
    }
    slot.answer.write(answer, 0, "utf8");
    Atomics.store(slot.ctrl, 1, length);
    Atomics.store(slot.ctrl, 0, 1);
    Atomics.notify(slot.ctrl, 0);
  }
}
