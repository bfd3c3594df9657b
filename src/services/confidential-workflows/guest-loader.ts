/**
 * From (binary_url, binary_hash) to a compiled guest: fetch, check the SHA-256, compile (issue 6,
 * "Binary"; upstream BinaryFetcher, reference chainlink-workflows.md §6.4).
 *
 * Compiled guests are kept by binary hash (LRU, bounded in count and bytes like the runtime's own
 * module cache), so a warm execution does not fetch at all: the hash was checked when the entry was
 * made, and a guest compiled from bytes with that SHA-256 is the binary the request names wherever
 * its URL points now. Concurrent loads of one (hash, URL) share one fetch and compile. Failures are
 * never cached: a binary that was unreachable may be reachable on the next execution.
 */
import type { CompiledGuest, WasmRuntime } from "../../wasm/wasm-runtime.js";
import type { BinarySource } from "./binary-source.js";

export type GuestLoadOutcome =
  | { readonly kind: "ok"; readonly guest: CompiledGuest; readonly source: "cache" | "fetched" }
  | { readonly kind: "unreachable"; readonly message: string }
  | { readonly kind: "forbidden"; readonly message: string }
  | { readonly kind: "too-large"; readonly maxBytes: number }
  | { readonly kind: "hash-mismatch"; readonly expectedHex: string; readonly actualHex: string }
  /** Not a guest this runtime runs (not wasm, foreign import, missing export, initial memory over the cap). */
  | { readonly kind: "invalid-module"; readonly message: string };

export interface GuestLoaderOptions {
  readonly runtime: WasmRuntime;
  readonly source: BinarySource;
  readonly maxModules: number;
  readonly maxBytes: number;
}

export class GuestLoader {
  /** Binary hash (hex) → guest; Map order is recency order. */
  private readonly cache = new Map<string, CompiledGuest>();
  private cachedBytes = 0;
  private readonly inFlight = new Map<string, Promise<GuestLoadOutcome>>();
  /** Binaries fetched so far (cache misses that reached the source). */
  fetches = 0;

  constructor(private readonly options: GuestLoaderOptions) {}

  get size(): number {
    return this.cache.size;
  }

  load(url: URL, binaryHash: Uint8Array): Promise<GuestLoadOutcome> {
    const hashHex = Buffer.from(binaryHash).toString("hex");
    const hit = this.cache.get(hashHex);
    if (hit !== undefined) {
      this.cache.delete(hashHex);
      this.cache.set(hashHex, hit);
      return Promise.resolve({ kind: "ok", guest: hit, source: "cache" });
    }
    const key = `${hashHex} ${url.href}`;
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = this.fetchAndCompile(url, hashHex).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async fetchAndCompile(url: URL, hashHex: string): Promise<GuestLoadOutcome> {
    this.fetches++;
    const fetched = await this.options.source(url);
    if (fetched.kind !== "ok") return fetched;
    // The runtime hashes the bytes once and refuses a mismatch before compiling anything.
    const compiled = await this.options.runtime.compile(fetched.bytes, { expectedSha256Hex: hashHex });
    switch (compiled.kind) {
      case "hash-mismatch":
        return { kind: "hash-mismatch", expectedHex: compiled.expectedSha256Hex, actualHex: compiled.actualSha256Hex };
      case "invalid-module":
      case "memory-limit":
        return { kind: "invalid-module", message: compiled.message };
      case "ok":
        this.remember(hashHex, compiled.guest);
        return { kind: "ok", guest: compiled.guest, source: "fetched" };
    }
  }

  private remember(hashHex: string, guest: CompiledGuest): void {
    if (this.cache.has(hashHex)) return;
    if (guest.byteLength > this.options.maxBytes) return;
    this.cache.set(hashHex, guest);
    this.cachedBytes += guest.byteLength;
    for (const [oldest, old] of this.cache) {
      if (this.cache.size <= this.options.maxModules && this.cachedBytes <= this.options.maxBytes) break;
      this.cache.delete(oldest);
      this.cachedBytes -= old.byteLength;
    }
  }

  clear(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }
}
