/**
 * Bounded load loops for the fault-injection suite. Every loop stops by itself: a closed loop at
 * its `maxDurationMs` (or `maxCalls`, or an earlier `stop()`), an open loop once its schedule is
 * issued and the calls still out have drained (or `drainTimeoutMs` has passed, when the ones still
 * out are counted as "unanswered"). Nothing here can run on after a failed test.
 *
 * - closed loop: `concurrency` callers, each starting its next call when the last one answered.
 *   Latency is from the call's start.
 * - open loop: calls issued on a fixed schedule (`ratePerSec`) whatever the answers do; latency is
 *   from each call's SCHEDULED time, so a stalled system shows as latency rather than as a lower
 *   offered rate (no coordinated omission). `maxInFlight` bounds the calls out at once; a call that
 *   would exceed it is not issued and counted as "skipped" (the load generator's own protection).
 *
 * A call resolves to an outcome label ("ok", or why it failed, e.g. a Connect code name) and must
 * not reject; a rejection is recorded as "threw: <message>".
 */
import { performance } from "node:perf_hooks";

export interface CallOutcome {
  /** "ok", or a failure label such as a Connect code name ("Unavailable", "ResourceExhausted"). */
  readonly outcome: string;
  /** A short explanation of a failure (first of its kind is kept in reports). */
  readonly detail?: string;
  /** For a certified answer: the DON members (hex public keys) whose signatures the client counted. */
  readonly signers?: readonly string[];
}

export type Call = () => Promise<CallOutcome>;

export interface CallRecord extends CallOutcome {
  /** When the call was due (open loop) or started (closed loop), on `performance.now()`. */
  readonly startMs: number;
  /** When the load generator actually started it (later than `startMs` if it fell behind). */
  readonly issuedMs: number;
  readonly doneMs: number;
  readonly latencyMs: number;
}

export interface LoadRun {
  readonly records: readonly CallRecord[];
  readonly startedMs: number;
  readonly endedMs: number;
  /** Open loop only: calls not issued because `maxInFlight` were out. */
  readonly skipped: number;
  /** Calls still unanswered when the loop gave up waiting (open loop drain timeout). */
  readonly unanswered: number;
}

async function settle(call: Call): Promise<CallOutcome> {
  try {
    return await call();
  } catch (error) {
    return { outcome: "threw", detail: error instanceof Error ? error.message : String(error) };
  }
}

export interface ClosedLoopOptions {
  readonly concurrency: number;
  /** Hard bound: no call starts after this. */
  readonly maxDurationMs: number;
  /** Stop after this many calls have started. */
  readonly maxCalls?: number;
  /**
   * A caller waits this long after a failed call before its next one (default 0), as a client backs
   * off: keeps a loop whose calls fail in microseconds (a gateway that is down) from spinning.
   */
  readonly pauseAfterFailureMs?: number;
  /** A caller waits this long after every call (default 0): a paced trickle that can be stopped. */
  readonly pauseAfterCallMs?: number;
}

/** A closed loop running in the background until it stops by itself or `stop()` is called. */
export interface RunningLoop {
  /** Calls finished so far. */
  completed(): number;
  /** Resolves once `count` calls have finished (or the loop has ended, whichever is first). */
  whenCompleted(count: number): Promise<void>;
  /** No new calls start; resolves with the run once those out have answered. */
  stop(): Promise<LoadRun>;
  /** The run, once the loop ends on its own bound (or after `stop()`). */
  readonly done: Promise<LoadRun>;
  /** The calls finished so far (live view). */
  readonly records: readonly CallRecord[];
}

export function startClosedLoop(call: Call, options: ClosedLoopOptions): RunningLoop {
  if (!(options.concurrency >= 1) || !(options.maxDurationMs > 0)) throw new Error("closed loop: concurrency ≥ 1 and maxDurationMs > 0 required");
  const records: CallRecord[] = [];
  const startedMs = performance.now();
  const endMs = startedMs + options.maxDurationMs;
  const maxCalls = options.maxCalls ?? Number.POSITIVE_INFINITY;
  let started = 0;
  let stopped = false;
  const waiters: { count: number; resolve: () => void }[] = [];
  const wake = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i] as { count: number; resolve: () => void };
      if (records.length >= w.count || ended) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };
  let ended = false;
  const caller = async (): Promise<void> => {
    while (!stopped && started < maxCalls && performance.now() < endMs) {
      started++;
      const t0 = performance.now();
      const result = await settle(call);
      const t1 = performance.now();
      records.push({ ...result, startMs: t0, issuedMs: t0, doneMs: t1, latencyMs: t1 - t0 });
      wake();
      const pauseMs = Math.max(options.pauseAfterCallMs ?? 0, result.outcome === "ok" ? 0 : (options.pauseAfterFailureMs ?? 0));
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency }, caller)).then((): LoadRun => {
    ended = true;
    wake();
    return { records, startedMs, endedMs: performance.now(), skipped: 0, unanswered: 0 };
  });
  return {
    completed: () => records.length,
    whenCompleted: (count) => (records.length >= count || ended ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))),
    stop: () => {
      stopped = true;
      return done;
    },
    done,
    records,
  };
}

/** A closed loop run to its bound. */
export function closedLoop(call: Call, options: ClosedLoopOptions): Promise<LoadRun> {
  return startClosedLoop(call, options).done;
}

export interface OpenLoopOptions {
  readonly ratePerSec: number;
  readonly durationMs: number;
  /** Calls out at once before further ones are skipped (default 10 000). */
  readonly maxInFlight?: number;
  /** How long to wait for the calls still out after the schedule ends (default 35 s). */
  readonly drainTimeoutMs?: number;
}

export async function openLoop(call: Call, options: OpenLoopOptions): Promise<LoadRun> {
  if (!(options.ratePerSec > 0) || !(options.durationMs > 0)) throw new Error("open loop: ratePerSec > 0 and durationMs > 0 required");
  const maxInFlight = options.maxInFlight ?? 10_000;
  const intervalMs = 1000 / options.ratePerSec;
  const total = Math.floor(options.durationMs / intervalMs);
  const records: CallRecord[] = [];
  const pending = new Set<Promise<void>>();
  let skipped = 0;
  let issued = 0;
  const startedMs = performance.now();

  const issue = (scheduledMs: number): void => {
    if (pending.size >= maxInFlight) {
      skipped++;
      return;
    }
    const issuedMs = performance.now();
    const p: Promise<void> = settle(call).then((result) => {
      pending.delete(p);
      const t1 = performance.now();
      records.push({ ...result, startMs: scheduledMs, issuedMs, doneMs: t1, latencyMs: t1 - scheduledMs });
    });
    pending.add(p);
  };

  while (issued < total) {
    const due = Math.min(total, Math.floor((performance.now() - startedMs) / intervalMs) + 1);
    while (issued < due) {
      issue(startedMs + issued * intervalMs);
      issued++;
    }
    // Timers are coarse on a busy box: the loop catches up in batches, at the scheduled times.
    const nextMs = startedMs + issued * intervalMs;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextMs - performance.now())));
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([...pending]),
    new Promise((resolve) => (timer = setTimeout(resolve, options.drainTimeoutMs ?? 35_000))),
  ]);
  clearTimeout(timer);
  return { records, startedMs, endedMs: performance.now(), skipped, unanswered: pending.size };
}

/** The records of a run with a given outcome. */
export function withOutcome(run: LoadRun | readonly CallRecord[], outcome: string): CallRecord[] {
  const records = "records" in run ? run.records : run;
  return records.filter((r) => r.outcome === outcome);
}

/** One example detail per failure label, for assertion messages and reports. */
export function failureExamples(records: readonly CallRecord[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of records) if (r.outcome !== "ok" && !(r.outcome in out)) out[r.outcome] = (r.detail ?? "").slice(0, 240);
  return out;
}
