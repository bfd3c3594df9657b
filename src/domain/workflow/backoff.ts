/**
 * The syncer's retry schedule for a failed event (reference chainlink-workflows.md §8.2 "Dispatch"):
 * on the n-th consecutive failure (`retryCount` = n after the increment) the event waits
 * min(2ⁿ × 12 s, 5 min) — 24 s, 48 s, 96 s, 192 s, then 300 s for every later failure.
 */
export const RETRY_BASE_DELAY_MS = 12_000;
export const RETRY_MAX_DELAY_MS = 300_000;

export function retryDelayMs(retryCount: number): number {
  if (!Number.isInteger(retryCount) || retryCount < 0) throw new RangeError(`retryCount must be a non-negative integer (got ${retryCount})`);
  // 2^5 × 12 s already exceeds the cap; stop doubling before the float grows for nothing.
  if (retryCount >= 5) return RETRY_MAX_DELAY_MS;
  return Math.min(2 ** retryCount * RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS);
}
