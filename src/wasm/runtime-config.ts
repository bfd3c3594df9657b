/**
 * Options of the WASM runtime in, validated and frozen config out. Every limit has a default sized
 * for a 2-core box; docs/wasm-abi.md ("Limits") lists them.
 */
import { availableParallelism } from "node:os";
import { systemClock, type Clock } from "../domain/clock.js";
import { WASM_PAGE_BYTES } from "./memory-limit.js";

export interface WasmRuntimeOptions {
  /** Worker threads running guests at once. Default: the machine's available parallelism. */
  readonly maxWorkers?: number;
  /** Executions waiting for a worker; beyond it `run` answers `at-capacity`. 0 = no queue. Default 4 × maxWorkers. */
  readonly maxQueued?: number;
  /** Cap on each guest's linear memory, bytes (rounded down to 64 KiB pages). Default 64 MiB. */
  readonly memoryLimitBytes?: number;
  /** Cap on each worker's JS heap (V8 old generation), MiB; guards the host glue, not the guest. Default 64. */
  readonly workerHeapLimitMb?: number;
  /** Wall-clock limit per execution when the run names none, ms. Default 30 000. */
  readonly defaultTimeoutMs?: number;
  /** Largest execution result (the guest's result JSON) when the run names none, bytes. Default 4 MiB. */
  readonly maxResultBytes?: number;
  /** Largest host-call answer written back to a guest, bytes; larger answers become an error. Default 4 MiB. */
  readonly maxHostAnswerBytes?: number;
  /** Largest capability or secrets request a guest may send, bytes. Default 1 MiB. */
  readonly maxGuestRequestBytes?: number;
  readonly log?: {
    /** A longer line is cut and marked. Default 2048. */
    readonly maxLineBytes?: number;
    /** Lines a guest may log at once before the rate applies. Default 50. */
    readonly burst?: number;
    /** Sustained lines per second per execution. Default 10. */
    readonly linesPerSecond?: number;
    /** Hard cap on lines one execution may send to the host at all. Default 1000. */
    readonly maxLinesPerExecution?: number;
  };
  readonly cache?: {
    /** Compiled modules held. Default 32. */
    readonly maxModules?: number;
    /** Total source bytes of the modules held. Default 256 MiB. */
    readonly maxBytes?: number;
  };
  /** For the log rate limit. */
  readonly clock?: Clock;
}

export interface WasmRuntimeConfig {
  readonly maxWorkers: number;
  readonly maxQueued: number;
  readonly memoryLimitPages: number;
  readonly workerHeapLimitMb: number;
  readonly defaultTimeoutMs: number;
  readonly maxResultBytes: number;
  readonly maxHostAnswerBytes: number;
  readonly maxGuestRequestBytes: number;
  readonly log: {
    readonly maxLineBytes: number;
    readonly burst: number;
    readonly linesPerSecond: number;
    readonly maxLinesPerExecution: number;
  };
  readonly cache: { readonly maxModules: number; readonly maxBytes: number };
  readonly clock: Clock;
}

const MiB = 1024 * 1024;

function integer(value: number | undefined, fallback: number, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RangeError(`wasm runtime option ${key} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return v;
}

export function wasmRuntimeConfig(options: WasmRuntimeOptions = {}): WasmRuntimeConfig {
  const maxWorkers = integer(options.maxWorkers, Math.max(1, availableParallelism()), "maxWorkers", 1, 256);
  const memoryLimitBytes = integer(options.memoryLimitBytes, 64 * MiB, "memoryLimitBytes", WASM_PAGE_BYTES, 4 * 1024 * MiB);
  const log = options.log ?? {};
  const cache = options.cache ?? {};
  const linesPerSecond = log.linesPerSecond ?? 10;
  if (!(Number.isFinite(linesPerSecond) && linesPerSecond > 0)) {
    throw new RangeError(`wasm runtime option log.linesPerSecond must be a positive number, got ${String(linesPerSecond)}`);
  }
  return Object.freeze({
    maxWorkers,
    maxQueued: integer(options.maxQueued, 4 * maxWorkers, "maxQueued", 0, 1_000_000),
    memoryLimitPages: Math.floor(memoryLimitBytes / WASM_PAGE_BYTES),
    workerHeapLimitMb: integer(options.workerHeapLimitMb, 64, "workerHeapLimitMb", 8, 16_384),
    defaultTimeoutMs: integer(options.defaultTimeoutMs, 30_000, "defaultTimeoutMs", 1, 24 * 3600_000),
    maxResultBytes: integer(options.maxResultBytes, 4 * MiB, "maxResultBytes", 64, 1024 * MiB),
    maxHostAnswerBytes: integer(options.maxHostAnswerBytes, 4 * MiB, "maxHostAnswerBytes", 256, 1024 * MiB),
    maxGuestRequestBytes: integer(options.maxGuestRequestBytes, MiB, "maxGuestRequestBytes", 64, 1024 * MiB),
    log: Object.freeze({
      maxLineBytes: integer(log.maxLineBytes, 2048, "log.maxLineBytes", 16, MiB),
      burst: integer(log.burst, 50, "log.burst", 1, 1_000_000),
      linesPerSecond,
      maxLinesPerExecution: integer(log.maxLinesPerExecution, 1000, "log.maxLinesPerExecution", 1, 10_000_000),
    }),
    cache: Object.freeze({
      maxModules: integer(cache.maxModules, 32, "cache.maxModules", 1, 100_000),
      maxBytes: integer(cache.maxBytes, 256 * MiB, "cache.maxBytes", 1, Number.MAX_SAFE_INTEGER),
    }),
    clock: options.clock ?? systemClock,
  });
}
