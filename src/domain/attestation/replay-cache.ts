/**
 * Remembers accepted binding hashes until the request could no longer be accepted anyway (its
 * timestamp leaves the freshness window), so the same request is served once.
 *
 * Bounded, and fail-closed when full: evicting a live entry would reopen a replay, so instead the
 * new request is refused ("replay cache full") until entries expire. Size it above the expected
 * request rate × the freshness window (e.g. 200 000 ≈ 660 requests/s for 5 minutes).
 */
export type ReplayOutcome = "fresh" | "replayed" | "full";

export class ReplayCache {
  private readonly expiries = new Map<string, number>();
  private lastSweepMs = Number.NEGATIVE_INFINITY;

  /** @param sweepIntervalMs how often, at most, a full O(n) sweep runs while the cache is full. */
  constructor(
    readonly capacity: number,
    private readonly sweepIntervalMs = 1000,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  get size(): number {
    return this.expiries.size;
  }

  /** Records `key` until `expiresAtMs` unless it is already there and unexpired. */
  checkAndRecord(key: string, expiresAtMs: number, nowMs: number): ReplayOutcome {
    const seen = this.expiries.get(key);
    if (seen !== undefined) {
      if (nowMs < seen) return "replayed";
      this.expiries.delete(key);
    }
    if (this.expiries.size >= this.capacity && !this.makeRoom(nowMs)) return "full";
    this.expiries.set(key, expiresAtMs);
    return "fresh";
  }

  private makeRoom(nowMs: number): boolean {
    // Entries mostly arrive in expiry order: drop expired ones from the front first.
    for (const [key, expiresAtMs] of this.expiries) {
      if (nowMs < expiresAtMs) break;
      this.expiries.delete(key);
    }
    if (this.expiries.size < this.capacity) return true;
    if (nowMs - this.lastSweepMs < this.sweepIntervalMs) return false;
    this.lastSweepMs = nowMs;
    for (const [key, expiresAtMs] of this.expiries) if (nowMs >= expiresAtMs) this.expiries.delete(key);
    return this.expiries.size < this.capacity;
  }
}
