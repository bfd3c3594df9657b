import { describe, expect, it } from "vitest";
import { latencySummary, linearFit, median, pairedRatio, quantileSorted, roundSig, summarize } from "../../../bench/lib/stats.js";

describe("median and summarize", () => {
  it("takes the middle value of an odd count and the mean of the two middle values of an even count", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("reports median, min, max and the number of runs, whatever the input order", () => {
    expect(summarize([30, 10, 20])).toEqual({ median: 20, min: 10, max: 30, n: 3 });
  });

  it("ignores runs that produced no figure (NaN, Infinity) instead of letting them poison the summary", () => {
    expect(summarize([Number.NaN, 2, Number.POSITIVE_INFINITY, 4])).toEqual({ median: 3, min: 2, max: 4, n: 2 });
  });

  it("says NaN with n = 0 when no run produced a figure", () => {
    const s = summarize([Number.NaN]);
    expect(s.n).toBe(0);
    expect(s.median).toBeNaN();
    expect(median([])).toBeNaN();
  });
});

describe("quantileSorted (nearest rank)", () => {
  const sample = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  it("gives p50 = 50 and p99 = 99 over 1..100", () => {
    expect(quantileSorted(sample, 0.5)).toBe(50);
    expect(quantileSorted(sample, 0.99)).toBe(99);
  });

  it("gives the largest value for p99 of a small sample, never an index past the end", () => {
    expect(quantileSorted([1, 2, 3], 0.99)).toBe(3);
    expect(quantileSorted([7], 0.5)).toBe(7);
  });

  it("is NaN for an empty sample", () => {
    expect(quantileSorted([], 0.5)).toBeNaN();
  });
});

describe("latencySummary", () => {
  it("sorts the samples itself and reports count, p50, p99 and max", () => {
    const samples = Array.from({ length: 200 }, (_, i) => 200 - i); // 200..1, unsorted
    expect(latencySummary(samples)).toEqual({ count: 200, p50Ms: 100, p99Ms: 198, maxMs: 200 });
  });
});

describe("pairedRatio", () => {
  it("divides each run's figure by the baseline of the SAME run, then summarizes the ratios", () => {
    // Run 2 is slow for both sides (a busy machine): its ratio is unaffected.
    expect(pairedRatio([50, 25, 60], [100, 50, 100])).toEqual({ median: 0.5, min: 0.5, max: 0.6, n: 3 });
  });

  it("leaves out runs where a side is missing or the baseline is zero", () => {
    expect(pairedRatio([1, Number.NaN, 3], [2, 2, 0])).toEqual({ median: 0.5, min: 0.5, max: 0.5, n: 1 });
  });

  it("refuses lists of different lengths (figures from different runs cannot be paired)", () => {
    expect(() => pairedRatio([1, 2], [1])).toThrow(RangeError);
  });
});

describe("linearFit", () => {
  it("recovers an exact line with R² = 1", () => {
    const fit = linearFit([
      [4, 14],
      [7, 23],
      [16, 50],
    ]);
    expect(fit.slope).toBeCloseTo(3, 12);
    expect(fit.intercept).toBeCloseTo(2, 12);
    expect(fit.r2).toBeCloseTo(1, 12);
  });

  it("gives R² well below 1 when cost does not grow linearly", () => {
    expect(linearFit([[1, 1], [2, 8], [3, 1], [4, 8]]).r2).toBeLessThan(0.5);
  });

  it("refuses fewer than two points or a single x value", () => {
    expect(() => linearFit([[1, 1]])).toThrow(RangeError);
    expect(() => linearFit([[2, 1], [2, 3]])).toThrow(RangeError);
  });
});

describe("roundSig", () => {
  it("keeps significant digits, not decimals, so small and large figures both stay readable", () => {
    expect(roundSig(0.000123456, 3)).toBe(0.000123);
    expect(roundSig(123456, 3)).toBe(123000);
    expect(roundSig(Number.NaN)).toBeNaN();
  });
});
