/**
 * A bounded LRU map whose entries also expire at their own instant. Time is passed in by the caller
 * (no timers): an expired entry is dropped when it is looked up or when space is needed.
 * Map iteration order is insertion order, so re-inserting on a hit keeps the least recently used
 * entry first.
 */
export class ExpiringLru<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, or undefined when absent or expired at `nowMs` (expiry is exclusive). */
  get(key: string, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (nowMs >= entry.expiresAtMs) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, expiresAtMs: number, nowMs: number): void {
    this.entries.delete(key);
    if (nowMs >= expiresAtMs) return;
    if (this.entries.size >= this.capacity) this.evictOne(nowMs);
    this.entries.set(key, { value, expiresAtMs });
  }

  clear(): void {
    this.entries.clear();
  }

  /** Drops one expired entry among the oldest few if there is one, else the least recently used. */
  private evictOne(nowMs: number): void {
    let scanned = 0;
    for (const [key, entry] of this.entries) {
      if (nowMs >= entry.expiresAtMs) {
        this.entries.delete(key);
        return;
      }
      if (++scanned >= 8) break;
    }
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.entries.delete(oldest.value);
  }
}
