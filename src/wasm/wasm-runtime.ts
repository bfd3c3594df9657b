/**
 * The workflow WASM runtime, shared by the enclave host (ConfidentialWorkflows) and the workflow
 * node's WasmModule (issues 6 and 7): compile a guest once (memory-capped, checked against the ABI,
 * cached by SHA-256), then run it any number of times in the worker pool with the caller's host calls.
 *
 * It knows nothing of gateways, relays or services: callers convert protobuf messages at their edge
 * and map the outcomes (`timeout` → DeadlineExceeded, `at-capacity` → ResourceExhausted "enclave at
 * capacity", `trap`/`memory-limit` → an ExecutionResult error, …). docs/wasm-abi.md is the contract.
 */
import { createHash } from "node:crypto";
import { AS_ABORT_IMPORT, GUEST_EXPORTS, GUEST_IMPORT_MODULE, GUEST_IMPORTS, type GuestRequest, type HostCalls, type RunOutcome } from "./guest-abi.js";
import { GuestPool, type PoolStats } from "./guest-pool.js";
import { capMemory } from "./memory-limit.js";
import { ModuleCache, type ModuleCacheStats } from "./module-cache.js";
import { wasmRuntimeConfig, type WasmRuntimeConfig, type WasmRuntimeOptions } from "./runtime-config.js";
import { compileWasm, webAssembly, type WasmModule } from "./webassembly.js";

/** A guest ready to run: compiled from its memory-capped bytes and checked against the ABI. */
export interface CompiledGuest {
  /** SHA-256 of the bytes the caller supplied (before the memory cap rewrite), lowercase hex. */
  readonly sha256Hex: string;
  readonly byteLength: number;
  /** The memory maximum in force, in 64 KiB pages. */
  readonly maxPages: number;
  readonly module: WasmModule;
}

export type CompileOutcome =
  | { readonly kind: "ok"; readonly guest: CompiledGuest }
  | { readonly kind: "invalid-module"; readonly message: string }
  | { readonly kind: "memory-limit"; readonly message: string }
  | { readonly kind: "hash-mismatch"; readonly expectedSha256Hex: string; readonly actualSha256Hex: string };

export interface CompileOptions {
  /** When given, bytes whose SHA-256 differs are refused before anything is compiled. */
  readonly expectedSha256Hex?: string;
}

export interface RunLimits {
  /** Wall-clock limit of this execution, ms; default the runtime's `defaultTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Largest result accepted, bytes (e.g. ExecuteRequest.max_response_size); 0 or absent = the runtime's max, never above it. */
  readonly maxResultBytes?: number;
}

export interface RunInput {
  /** A compiled guest, or module bytes (compiled through the cache first). */
  readonly module: CompiledGuest | Uint8Array;
  readonly request: GuestRequest;
  readonly host: HostCalls;
  readonly limits?: RunLimits;
  /** Aborting ends the execution as `cancelled` (queued: dequeued; running: worker terminated). */
  readonly signal?: AbortSignal;
}

export interface WasmRuntimeStats extends PoolStats {
  readonly cache: ModuleCacheStats;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const ALLOWED_IMPORTS = new Set([...Object.values(GUEST_IMPORTS).map((n) => `${GUEST_IMPORT_MODULE}.${n}`), `${AS_ABORT_IMPORT.module}.${AS_ABORT_IMPORT.name}`]);

/** Checks the compiled module's imports and exports against docs/wasm-abi.md. */
function abiViolation(module: WasmModule): string | undefined {
  for (const imp of webAssembly.Module.imports(module)) {
    const name = `${imp.module}.${imp.name}`;
    if (!ALLOWED_IMPORTS.has(name) || imp.kind !== "function") {
      return `unsupported import "${name}" (${imp.kind}); a guest may import only the functions ${[...ALLOWED_IMPORTS].join(", ")}`;
    }
  }
  const exports = new Map(webAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  if (exports.get(GUEST_EXPORTS.memory) !== "memory") return `the module must export its memory as "${GUEST_EXPORTS.memory}"`;
  for (const fn of [GUEST_EXPORTS.alloc, GUEST_EXPORTS.execute]) {
    if (exports.get(fn) !== "function") return `the module must export a function "${fn}"`;
  }
  return undefined;
}

export class WasmRuntime {
  readonly config: WasmRuntimeConfig;
  private readonly cache: ModuleCache<CompileOutcome & { kind: "ok" }>;
  private readonly pool: GuestPool;

  constructor(options: WasmRuntimeOptions = {}) {
    this.config = wasmRuntimeConfig(options);
    this.cache = new ModuleCache(this.config.cache);
    this.pool = new GuestPool(this.config);
  }

  /** Hashes, caps the memory, compiles and checks the ABI — or answers from the cache. */
  async compile(bytes: Uint8Array, options: CompileOptions = {}): Promise<CompileOutcome> {
    const hash = sha256Hex(bytes);
    const expected = options.expectedSha256Hex?.toLowerCase();
    if (expected !== undefined && expected !== hash) return { kind: "hash-mismatch", expectedSha256Hex: expected, actualSha256Hex: hash };
    return this.cache.getOrLoad(
      hash,
      bytes.byteLength,
      async (): Promise<CompileOutcome> => {
        const capped = capMemory(bytes, this.config.memoryLimitPages);
        if (capped.kind === "invalid") return { kind: "invalid-module", message: capped.message };
        if (capped.kind === "memory-limit") return capped;
        const compiled = await compileWasm(capped.bytes);
        if (compiled.kind === "invalid") return { kind: "invalid-module", message: compiled.message };
        const violation = abiViolation(compiled.module);
        if (violation !== undefined) return { kind: "invalid-module", message: violation };
        return {
          kind: "ok",
          guest: Object.freeze({ sha256Hex: hash, byteLength: bytes.byteLength, maxPages: capped.maxPages, module: compiled.module }),
        };
      },
      (result) => (result.kind === "ok" ? result : undefined),
    );
  }

  /**
   * Runs one execution. Never rejects for anything the guest does; after `close` it answers
   * `cancelled`. Throws RangeError only for invalid `limits`.
   */
  async run(input: RunInput): Promise<RunOutcome> {
    let guest: CompiledGuest;
    if (input.module instanceof Uint8Array) {
      const compiled = await this.compile(input.module);
      if (compiled.kind === "invalid-module" || compiled.kind === "memory-limit") return compiled;
      if (compiled.kind !== "ok") throw new Error("unreachable: no expected hash was given");
      guest = compiled.guest;
    } else {
      guest = input.module;
    }
    const timeoutMs = input.limits?.timeoutMs ?? this.config.defaultTimeoutMs;
    if (!(Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) throw new RangeError(`limits.timeoutMs must be a positive integer, got ${String(timeoutMs)}`);
    const requested = input.limits?.maxResultBytes ?? 0;
    if (!(Number.isSafeInteger(requested) && requested >= 0)) throw new RangeError(`limits.maxResultBytes must be a non-negative integer, got ${String(requested)}`);
    const maxResultBytes = requested === 0 ? this.config.maxResultBytes : Math.min(requested, this.config.maxResultBytes);
    return this.pool.submit({
      module: guest.module,
      maxPages: guest.maxPages,
      request: input.request,
      host: input.host,
      timeoutMs,
      maxResultBytes,
      ...(input.signal === undefined ? {} : { signal: input.signal }),
    });
  }

  /** Starts every worker now (optional: workers also start on demand). */
  warmUp(): Promise<void> {
    return this.pool.warmUp();
  }

  stats(): WasmRuntimeStats {
    return { ...this.pool.stats(), cache: this.cache.stats() };
  }

  /** Cancels queued and running executions and stops the workers. */
  async close(): Promise<void> {
    await this.pool.close();
    this.cache.clear();
  }
}
