/**
 * Latency and outcome statistics for the fault-injection suite. Pure: no I/O, no clock.
 *
 * Percentiles are nearest-rank (the smallest sample with at least q of the samples at or below it),
 * so a p99 over 200 samples is the 198th smallest, never an interpolation between two: the same
 * `quantileSorted` the benchmarks use (bench/lib/stats.ts, tested in test/unit/bench/stats.test.ts).
 */
import { quantileSorted } from "../../../bench/lib/stats.js";

/** Latency figures of a set of calls, in ms (rounded to 0.1 ms for reports). */
export interface LatencyStats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

const round1 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 10) / 10 : x);

export function latencyStats(samplesMs: readonly number[]): LatencyStats {
  const sorted = Float64Array.from(samplesMs).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    count: sorted.length,
    p50Ms: round1(quantileSorted(sorted, 0.5)),
    p90Ms: round1(quantileSorted(sorted, 0.9)),
    p99Ms: round1(quantileSorted(sorted, 0.99)),
    maxMs: round1(sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number)),
    meanMs: round1(sorted.length === 0 ? Number.NaN : sum / sorted.length),
  };
}

/** How many calls ended with each outcome label ("ok", a Connect code name, …). */
export function countOutcomes(outcomes: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

/**
 * Successes per window of `windowMs`, from `fromMs` to `toMs` (both on the load's clock): the
 * throughput curve used to see when a system is back to normal after an overload.
 */
export function throughputWindows(
  doneAtMs: readonly number[],
  options: { readonly fromMs: number; readonly toMs: number; readonly windowMs: number },
): number[] {
  const count = Math.max(0, Math.ceil((options.toMs - options.fromMs) / options.windowMs));
  const windows = new Array<number>(count).fill(0);
  for (const t of doneAtMs) {
    const i = Math.floor((t - options.fromMs) / options.windowMs);
    if (i >= 0 && i < count) windows[i] = (windows[i] as number) + 1;
  }
  return windows;
}
