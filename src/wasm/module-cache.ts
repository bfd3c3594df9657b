/**
 * The compiled-module cache: keyed by the SHA-256 of the module bytes the caller supplied, bounded
 * by entry count AND by total bytes, least recently used evicted first (issue 6, "Binary").
 *
 * The byte bound counts the module's source bytes: V8 does not report the size of compiled code, and
 * it grows roughly with the source, so the source size is the accountable proxy.
 *
 * Concurrent requests for the same key share one compile (single flight); a failed compile is not
 * cached, so the next request compiles again.
 */

export interface ModuleCacheLimits {
  /** Most entries held at once (≥ 1). */
  readonly maxModules: number;
  /** Most source bytes held at once (≥ 1); an entry larger than this on its own is never cached. */
  readonly maxBytes: number;
}

export interface ModuleCacheStats {
  readonly modules: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

interface Entry<V> {
  readonly value: V;
  readonly bytes: number;
}

export class ModuleCache<V> {
  /** Map order is recency: first = least recently used. */
  private readonly entries = new Map<string, Entry<V>>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  private totalBytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(readonly limits: ModuleCacheLimits) {}

  /** The cached value, marking it most recently used. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * The cached value for `key`, or the result of `load` — which is cached only when `accept` says
   * the result is a value worth keeping (not an error outcome).
   */
  async getOrLoad<R>(key: string, bytes: number, load: () => Promise<R>, accept: (result: R) => V | undefined): Promise<R | V> {
    const cached = this.get(key);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    const pending = this.inflight.get(key) as Promise<R> | undefined;
    if (pending !== undefined) {
      this.hits++;
      return pending;
    }
    this.misses++;
    const promise = load().then((result) => {
      const value = accept(result);
      if (value !== undefined) this.set(key, value, bytes);
      return result;
    });
    this.inflight.set(key, promise);
    try {
      return await promise;
    } finally {
      this.inflight.delete(key);
    }
  }

  set(key: string, value: V, bytes: number): void {
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      this.entries.delete(key);
      this.totalBytes -= existing.bytes;
    }
    if (bytes > this.limits.maxBytes) return;
    this.entries.set(key, { value, bytes });
    this.totalBytes += bytes;
    for (const [oldKey, old] of this.entries) {
      if (this.entries.size <= this.limits.maxModules && this.totalBytes <= this.limits.maxBytes) break;
      this.entries.delete(oldKey);
      this.totalBytes -= old.bytes;
      this.evictions++;
    }
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }

  stats(): ModuleCacheStats {
    return { modules: this.entries.size, bytes: this.totalBytes, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }
}
