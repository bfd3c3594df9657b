/**
 * A bounded memo with single flight: the first caller for a key computes the value, callers arriving
 * while it runs share that one computation, and callers within `ttlMs` after it finished get the very
 * same value. This is what lets one Vault or Capability service stand in for a DON: every relay node
 * asking the same logical question within the window receives byte-identical answers, and the work
 * runs once (issue 5, "Determinism").
 *
 * Bounds: at most `maxEntries` values and at most `maxWeight` total weight (e.g. bytes; a value
 * heavier than the whole budget is returned but not kept). When full, an expired entry among the
 * oldest few is dropped, else the least recently used one. Failures are never memoized: the callers
 * waiting on a failed computation all get its error, and the next caller starts afresh.
 *
 * Time comes from the injected clock; there are no timers — expiry is checked on access.
 */
import type { Clock } from "../clock.js";

export interface MemoOptions<V> {
  /** How long a computed value is served, from the moment its computation finished. */
  readonly ttlMs: number;
  /** The most values kept at once. */
  readonly maxEntries: number;
  /** The most total weight kept at once (default: unbounded; then only maxEntries bounds it). */
  readonly maxWeight?: number;
  /** The weight of a value (default 1). */
  readonly weigh?: (value: V) => number;
  readonly clock: Clock;
}

/** Where a value came from: the memo, a computation already running, or a new computation. */
export type MemoSource = "hit" | "joined" | "computed";

export interface MemoResult<V> {
  readonly value: V;
  readonly source: MemoSource;
}

interface Entry<V> {
  readonly value: V;
  readonly expiresAtMs: number;
  readonly weight: number;
}

const EXPIRED_SCAN = 8;

export class Memo<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inFlight = new Map<string, Promise<V>>();
  private totalWeight = 0;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly maxWeight: number;
  private readonly weigh: (value: V) => number;
  private readonly clock: Clock;

  constructor(options: MemoOptions<V>) {
    if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0) throw new RangeError("ttlMs must be a non-negative number");
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");
    const maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
    if (!(maxWeight > 0)) throw new RangeError("maxWeight must be positive");
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries;
    this.maxWeight = maxWeight;
    this.weigh = options.weigh ?? (() => 1);
    this.clock = options.clock;
  }

  /** Values kept (expired ones not yet dropped included). */
  get size(): number {
    return this.entries.size;
  }

  /** Total weight of the values kept. */
  get weight(): number {
    return this.totalWeight;
  }

  /** Computations running now. */
  get running(): number {
    return this.inFlight.size;
  }

  /** The memoized value of `key`, or undefined; does not join a running computation. */
  peek(key: string): V | undefined {
    return this.lookup(key, this.clock.nowMs());
  }

  /** The value for `key`: memoized, joined, or computed now by `compute`. */
  async getOrCompute(key: string, compute: () => Promise<V>): Promise<MemoResult<V>> {
    const hit = this.lookup(key, this.clock.nowMs());
    if (hit !== undefined) return { value: hit, source: "hit" };
    const running = this.inFlight.get(key);
    if (running !== undefined) return { value: await running, source: "joined" };
    const computation = Promise.resolve()
      .then(compute)
      .then(
        (value) => {
          // In the same turn as the hand-over, so no caller can slip between the two maps.
          this.inFlight.delete(key);
          this.store(key, value, this.clock.nowMs());
          return value;
        },
        (error: unknown) => {
          this.inFlight.delete(key);
          throw error;
        },
      );
    this.inFlight.set(key, computation);
    return { value: await computation, source: "computed" };
  }

  /** Forgets `key`'s value (a running computation still completes and is kept). */
  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.totalWeight -= entry.weight;
  }

  clear(): void {
    this.entries.clear();
    this.totalWeight = 0;
  }

  private lookup(key: string, nowMs: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (nowMs >= entry.expiresAtMs) {
      this.totalWeight -= entry.weight;
      return undefined;
    }
    this.entries.set(key, entry); // most recently used goes last
    return entry.value;
  }

  private store(key: string, value: V, nowMs: number): void {
    this.delete(key);
    const weight = this.weigh(value);
    if (this.ttlMs === 0 || !(weight <= this.maxWeight)) return;
    while (this.entries.size > 0 && (this.entries.size >= this.maxEntries || this.totalWeight + weight > this.maxWeight)) {
      this.evictOne(nowMs);
    }
    this.entries.set(key, { value, expiresAtMs: nowMs + this.ttlMs, weight });
    this.totalWeight += weight;
  }

  private evictOne(nowMs: number): void {
    let scanned = 0;
    for (const [key, entry] of this.entries) {
      if (nowMs >= entry.expiresAtMs) {
        this.delete(key);
        return;
      }
      if (++scanned >= EXPIRED_SCAN) break;
    }
    const oldest = this.entries.keys().next();
    if (!oldest.done) this.delete(oldest.value);
  }
}
