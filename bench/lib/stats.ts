/**
 * Summary statistics for the benchmarks (issue 9: "All figures are medians of repeated runs, with min
 * and max, and each comparison is a ratio measured in the same run"). Pure: no I/O, no clock.
 */

/** Median, min and max of repeated runs, and how many runs there were. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

function finite(values: readonly number[]): number[] {
  return values.filter((v) => Number.isFinite(v));
}

/**
 * The median of `values` (the mean of the two middle values for an even count); NaN for none.
 * Non-finite values (NaN, ±Infinity) are ignored: a run that produced no figure is not a figure.
 */
export function median(values: readonly number[]): number {
  const s = finite(values).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median, min and max over the finite values (all NaN and n = 0 when there are none). */
export function summarize(values: readonly number[]): Summary {
  const s = finite(values).sort((a, b) => a - b);
  if (s.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
  return { median: median(s), min: s[0] as number, max: s[s.length - 1] as number, n: s.length };
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of an ascending-sorted sample, nearest-rank: the smallest value with at
 * least q of the sample at or below it. NaN for an empty sample.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (q <= 0) return sorted[0] as number;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

/** Latency figures of one run, in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function latencySummary(samplesMs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  return {
    count: sorted.length,
    p50Ms: quantileSorted(sorted, 0.5),
    p99Ms: quantileSorted(sorted, 0.99),
    maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] as number),
  };
}

/**
 * Per-run ratios a[i] / b[i] of two figures measured in the same run, summarized. Runs where either
 * side is missing or b is 0 are left out.
 */
export function pairedRatio(numerators: readonly number[], denominators: readonly number[]): Summary {
  if (numerators.length !== denominators.length) throw new RangeError(`pairedRatio: ${numerators.length} numerators for ${denominators.length} denominators`);
  const ratios: number[] = [];
  numerators.forEach((a, i) => {
    const b = denominators[i] as number;
    if (Number.isFinite(a) && Number.isFinite(b) && b !== 0) ratios.push(a / b);
  });
  return summarize(ratios);
}

/** Least-squares line y = intercept + slope·x, with R² (1 for a perfect fit; NaN when y is constant). */
export interface LinearFit {
  readonly intercept: number;
  readonly slope: number;
  readonly r2: number;
}

export function linearFit(points: readonly (readonly [number, number])[]): LinearFit {
  if (points.length < 2) throw new RangeError("linearFit needs at least two points");
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  if (sxx === 0) throw new RangeError("linearFit needs at least two distinct x values");
  const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
  const intercept = my - slope * mx;
  const ssRes = points.reduce((s, [x, y]) => s + (y - (intercept + slope * x)) ** 2, 0);
  const ssTot = points.reduce((s, [, y]) => s + (y - my) ** 2, 0);
  return { intercept, slope, r2: ssTot === 0 ? Number.NaN : 1 - ssRes / ssTot };
}

/** Rounds to `digits` significant digits (for JSON that stays readable); non-finite values unchanged. */
export function roundSig(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

/** A summary with every figure rounded to `digits` significant digits. */
export function roundSummary(s: Summary, digits = 4): Summary {
  return { median: roundSig(s.median, digits), min: roundSig(s.min, digits), max: roundSig(s.max, digits), n: s.n };
}
