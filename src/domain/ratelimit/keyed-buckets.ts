/**
 * Token buckets per key (per sender), with bounded memory.
 *
 * A bucket that has refilled to full behaves exactly like a new one, so evicting it loses nothing:
 * every take first evicts up to a few least-recently-used buckets that are full again ("idle"
 * eviction, amortized O(1), no timer). A hard cap (`maxKeys`) bounds the map under a flood of distinct
 * keys: at the cap the least-recently-used bucket is dropped even if not yet full (that key then
 * starts over with a full bucket; the global bucket still bounds the total rate).
 */
import { TokenBucket, type RateDecision, type TokenBucketSpec } from "./token-bucket.js";

/** How many LRU buckets one take may examine for idle eviction. */
const EVICT_PER_TAKE = 4;

export class KeyedTokenBuckets {
  /** Insertion order = least recently used first (a take re-inserts its key). */
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly spec: TokenBucketSpec,
    readonly maxKeys: number,
  ) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
  }

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, nowMs: number): RateDecision {
    this.evictIdle(nowMs, EVICT_PER_TAKE);
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
      bucket = new TokenBucket(this.spec, nowMs);
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    return bucket.take(nowMs);
  }

  /** Gives back the token a take on `key` consumed (when a later check refused the request). */
  refund(key: string): void {
    this.buckets.get(key)?.refund();
  }

  /** Evicts least-recently-used buckets that are full again, up to `limit` examined. */
  evictIdle(nowMs: number, limit = Number.POSITIVE_INFINITY): number {
    let evicted = 0;
    let examined = 0;
    for (const [key, bucket] of this.buckets) {
      if (examined++ >= limit) break;
      if (bucket.fullAtMs() > nowMs) break;
      this.buckets.delete(key);
      evicted++;
    }
    return evicted;
  }
}
