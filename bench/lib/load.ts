/**
 * Load generators for the end-to-end benchmarks.
 *
 * - closed loop: `concurrency` callers, each issuing its next call as soon as the last one answered,
 *   for a fixed time. The completion rate is the throughput the system sustains at that concurrency.
 * - open loop: calls issued on a fixed schedule (`ratePerSec`, evenly spaced) whatever the answers
 *   do. Latency is measured from each call's SCHEDULED start, so a stalled system (or a stalled load
 *   generator) shows as latency instead of silently lowering the offered rate (no coordinated
 *   omission).
 *
 * A call resolves to `undefined` when it succeeded, or to a short failure label (e.g. a Connect code
 * name) that is counted; it must not reject (a rejection is counted as "threw").
 */
import { performance } from "node:perf_hooks";
import { latencySummary, type LatencySummary } from "./stats.js";

export type Call = () => Promise<string | undefined>;

export interface LoadResult extends LatencySummary {
  /** Successful calls per second over the measured window. */
  readonly rps: number;
  /** Failed calls, by label. */
  readonly errors: Readonly<Record<string, number>>;
  readonly errorCount: number;
  readonly elapsedMs: number;
}

export interface OpenLoopResult extends LoadResult {
  readonly offeredRps: number;
  /** Calls not issued because `maxInFlight` were already pending (the system fell behind). */
  readonly skipped: number;
}

async function settle(call: Call): Promise<string | undefined> {
  try {
    return await call();
  } catch {
    return "threw";
  }
}

function tally(errors: Record<string, number>, label: string): void {
  errors[label] = (errors[label] ?? 0) + 1;
}

export async function closedLoop(call: Call, options: { readonly concurrency: number; readonly durationMs: number }): Promise<LoadResult> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let errorCount = 0;
  const start = performance.now();
  const end = start + options.durationMs;
  const caller = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const failure = await settle(call);
      if (failure === undefined) latencies.push(performance.now() - t0);
      else {
        errorCount++;
        tally(errors, failure);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, caller));
  const elapsedMs = performance.now() - start;
  return { ...latencySummary(latencies), rps: (latencies.length / elapsedMs) * 1000, errors, errorCount, elapsedMs };
}

export async function openLoop(
  call: Call,
  options: { readonly ratePerSec: number; readonly durationMs: number; readonly maxInFlight?: number; readonly drainTimeoutMs?: number },
): Promise<OpenLoopResult> {
  const maxInFlight = options.maxInFlight ?? 10_000;
  const intervalMs = 1000 / options.ratePerSec;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let errorCount = 0;
  let skipped = 0;
  let issued = 0;
  let inFlight = 0;
  let lastDoneAt = 0;
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  const total = Math.floor(options.durationMs / intervalMs);

  const issue = (scheduledAt: number): void => {
    if (inFlight >= maxInFlight) {
      skipped++;
      return;
    }
    inFlight++;
    const p: Promise<void> = settle(call).then((failure) => {
      inFlight--;
      pending.delete(p);
      lastDoneAt = performance.now();
      if (failure === undefined) latencies.push(lastDoneAt - scheduledAt);
      else {
        errorCount++;
        tally(errors, failure);
      }
    });
    pending.add(p);
  };

  while (issued < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
    while (issued < due) {
      issue(start + issued * intervalMs);
      issued++;
    }
    // Sleep until the next call is due (timers are coarse on a busy box; the loop catches up in batches).
    const nextAt = start + issued * intervalMs;
    await new Promise((r) => setTimeout(r, Math.max(0, nextAt - performance.now())));
  }
  const issuedUntil = performance.now();
  const drain = Promise.all([...pending]);
  const timeout = new Promise((r) => setTimeout(r, options.drainTimeoutMs ?? 30_000).unref());
  await Promise.race([drain, timeout]);
  if (inFlight > 0) {
    errorCount += inFlight;
    errors["unanswered"] = (errors["unanswered"] ?? 0) + inFlight;
  }
  // Successes over the window in which they were issued and answered.
  const elapsedMs = Math.max(issuedUntil, lastDoneAt) - start;
  return {
    ...latencySummary(latencies),
    rps: (latencies.length / elapsedMs) * 1000,
    offeredRps: options.ratePerSec,
    errors,
    errorCount,
    skipped,
    elapsedMs,
  };
}
