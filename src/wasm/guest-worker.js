// @ts-check
/**
 * The guest worker: runs one guest execution at a time for the pool in `guest-pool.ts`.
 *
 * Plain ESM JavaScript on purpose: worker threads do not inherit the tsx/vitest loaders, and this
 * file must load the same way under vitest, under `tsx` (the CLI) and under plain node. It imports
 * only node built-ins.
 *
 * Each execution gets a fresh instance of the (already compiled, memory-capped) module: no state
 * survives between executions. Host calls are synchronous for the guest: the worker posts the call
 * to the main thread and blocks in `Atomics.wait` on the shared buffer until the main thread has
 * written the answer (docs/wasm-abi.md, "Host calls"). Everything a guest controls — pointers,
 * lengths, JSON — is checked here; a violation ends the execution as a trap.
 *
 * Protocol (main ⇄ worker), all via postMessage:
 *   → {type:"run", jobId, module, maxPages, maxResultBytes, request}
 *   ← {type:"host", jobId, op:"capability"|"secrets"|"now", request?}   (worker then blocks)
 *   ← {type:"log", jobId, level, message}
 *   ← {type:"done", jobId, outcome, logsDropped}
 * Shared buffer: Int32 [0] = answer-ready flag, Int32 [1] = answer length, bytes from offset 8 =
 * the answer (UTF-8 JSON).
 */
import { parentPort, workerData } from "node:worker_threads";

if (parentPort === null) throw new Error("guest-worker.js must run as a worker thread");
const port = parentPort;

/** @type {{ sab: SharedArrayBuffer, maxGuestRequestBytes: number, maxLogLineBytes: number, maxLogLinesPerExecution: number }} */
const config = workerData;
const ctrl = new Int32Array(config.sab, 0, 2);
const answer = new Uint8Array(config.sab, 8);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder("utf-8");
const utf8 = new TextEncoder();
const PAGE = 65536;

/** A broken ABI contract detected by the host: ends the execution as a trap. */
class GuestTrap extends Error {}
/** The guest called AssemblyScript's abort(). */
class GuestAbort extends Error {}

port.on("message", (msg) => {
  if (msg && msg.type === "run") port.postMessage(runJob(msg));
});

/**
 * @typedef {{ memory: any, alloc: ((len: number) => number) | null, jobId: number, logsPosted: number, logsDropped: number }} JobState
 */

/** @param {any} msg */
function runJob(msg) {
  /** @type {JobState} */
  const state = { memory: null, alloc: null, jobId: msg.jobId, logsPosted: 0, logsDropped: 0 };
  let outcome;
  try {
    outcome = execute(msg, state);
  } catch (error) {
    outcome = classifyFailure(error, state, msg.maxPages);
  }
  return { type: "done", jobId: msg.jobId, outcome, logsDropped: state.logsDropped };
}

/** @param {any} msg @param {JobState} state */
function execute(msg, state) {
  const imports = {
    ccr: {
      call_capability: (/** @type {number} */ ptr, /** @type {number} */ len) => capabilityCall(state, ptr, len),
      get_secrets: (/** @type {number} */ ptr, /** @type {number} */ len) => secretsCall(state, ptr, len),
      log: (/** @type {number} */ level, /** @type {number} */ ptr, /** @type {number} */ len) => guestLog(state, level, ptr, len),
      now: () => hostNow(state),
    },
    env: {
      abort: (/** @type {number} */ message, /** @type {number} */ file, /** @type {number} */ line, /** @type {number} */ column) => {
        throw new GuestAbort(`abort: ${readAsString(state, message)} at ${readAsString(state, file)}:${line}:${column}`);
      },
    },
  };
  const instance = new WebAssembly.Instance(msg.module, imports);
  const exports = instance.exports;
  if (!(exports.memory instanceof WebAssembly.Memory)) throw new GuestTrap("the guest does not export `memory`");
  if (typeof exports.alloc !== "function" || typeof exports.execute !== "function") {
    throw new GuestTrap("the guest does not export `alloc` and `execute` functions");
  }
  state.memory = exports.memory;
  state.alloc = /** @type {(len: number) => number} */ (exports.alloc);

  const requestBytes = utf8.encode(JSON.stringify(requestJson(msg.request, msg.maxResultBytes)));
  const inPtr = writeToGuest(state, requestBytes);
  const packed = /** @type {Function} */ (exports.execute)(inPtr, requestBytes.length);
  if (typeof packed !== "bigint") throw new GuestTrap("`execute` must return an i64 (result pointer << 32 | length)");
  const unsigned = BigInt.asUintN(64, packed);
  const ptr = Number(unsigned >> 32n);
  const len = Number(unsigned & 0xffffffffn);
  if (len > msg.maxResultBytes) {
    throw new GuestTrap(`the execution result is ${len} bytes, over the limit of ${msg.maxResultBytes} bytes (max_response_size)`);
  }
  return parseResult(readGuest(state, ptr, len, "execution result"));
}

/** The execute request as the guest sees it (docs/wasm-abi.md, "Execute"). */
function requestJson(/** @type {any} */ request, /** @type {number} */ maxResponseSize) {
  const config = Buffer.from(request.config.buffer, request.config.byteOffset, request.config.byteLength).toString("base64");
  if (request.kind === "subscribe") return { config, subscribe: true, maxResponseSize };
  const payload = Buffer.from(request.payload.buffer, request.payload.byteOffset, request.payload.byteLength).toString("base64");
  return { config, trigger: { id: String(request.triggerId), payload }, maxResponseSize };
}

/** @param {Uint8Array} bytes */
function parseResult(bytes) {
  let result;
  try {
    result = JSON.parse(strictUtf8.decode(bytes));
  } catch (error) {
    throw new GuestTrap(`the execution result is not UTF-8 JSON: ${errorMessage(error)}`);
  }
  if (!isRecord(result)) throw new GuestTrap("the execution result must be a JSON object");
  const keys = Object.keys(result);
  if (keys.length !== 1) throw new GuestTrap(`the execution result must have exactly one of "value", "error", "subscriptions"; got ${JSON.stringify(keys.slice(0, 5))}`);
  if ("value" in result) return { kind: "value", value: result.value };
  if ("error" in result) {
    if (typeof result.error !== "string") throw new GuestTrap('the execution result\'s "error" must be a string');
    return { kind: "error", message: result.error };
  }
  if ("subscriptions" in result) {
    const subs = result.subscriptions;
    if (!Array.isArray(subs)) throw new GuestTrap('"subscriptions" must be an array');
    const subscriptions = subs.map((s, i) => {
      if (!isRecord(s) || typeof s.id !== "string" || typeof s.method !== "string" || (s.payload !== undefined && typeof s.payload !== "string")) {
        throw new GuestTrap(`subscription ${i} must be {"id": string, "method": string, "payload"?: base64 string}`);
      }
      return { id: s.id, method: s.method, payload: base64Bytes(s.payload ?? "") };
    });
    return { kind: "subscriptions", subscriptions };
  }
  throw new GuestTrap(`the execution result must have exactly one of "value", "error", "subscriptions"; got ${JSON.stringify(keys)}`);
}

/** Turns whatever ended the execution into an outcome. @param {unknown} error @param {JobState} state @param {number} maxPages */
function classifyFailure(error, state, maxPages) {
  const message = errorMessage(error);
  if (error instanceof GuestAbort) {
    // AssemblyScript's allocator aborts this way for a single request over its block maximum.
    if (message.includes("allocation too large")) return { kind: "memory-limit", message: `the guest asked for an allocation too large for its memory limit (${message})` };
    return { kind: "trap", message };
  }
  if (error instanceof GuestTrap) return { kind: "trap", message: error.message };
  if (error instanceof RangeError && /out of memory|cannot allocate|could not allocate/i.test(message)) {
    return { kind: "memory-limit", message: `the guest's memory could not be allocated: ${message}` };
  }
  if (error instanceof WebAssembly.RuntimeError) {
    // A failed memory.grow is invisible (it answers -1); allocators then trap with `unreachable`.
    // So an `unreachable` trap with the memory at least a quarter full is reported as the limit
    // (docs/wasm-abi.md, "Limits": the classification is a documented heuristic).
    const pages = state.memory === null ? 0 : state.memory.buffer.byteLength / PAGE;
    if (/unreachable/i.test(message) && pages * 4 >= maxPages) {
      return {
        kind: "memory-limit",
        message: `the guest trapped (${message}) with its memory at ${pages} of ${maxPages} pages; it most likely ran out of memory`,
      };
    }
    return { kind: "trap", message: `wasm trap: ${message}` };
  }
  if (error instanceof RangeError && /call stack/i.test(message)) return { kind: "trap", message: "wasm trap: stack overflow" };
  if (error instanceof WebAssembly.LinkError) return { kind: "trap", message: `link error: ${message}` };
  return { kind: "trap", message };
}

// ---------------------------------------------------------------------------------------------
// Guest memory

/** @param {JobState} state @returns {Uint8Array} */
function guestBytes(state) {
  if (state.memory === null) throw new GuestTrap("host functions cannot be called from the start function");
  return new Uint8Array(state.memory.buffer);
}

/**
 * A view of guest memory [ptr, ptr+len), bounds-checked. Not a copy: callers decode it before any
 * guest code runs again (which could change or grow the memory).
 * @param {JobState} state @param {number} ptr @param {number} len @param {string} what
 */
function readGuest(state, ptr, len, what) {
  const mem = guestBytes(state);
  const p = ptr >>> 0;
  const l = len >>> 0;
  if (p + l > mem.length) throw new GuestTrap(`${what}: the buffer [${p}, ${p + l}) is outside the guest's ${mem.length}-byte memory`);
  return mem.subarray(p, p + l);
}

/** Copies bytes into a buffer the guest allocates; answers its pointer. @param {JobState} state @param {Uint8Array} bytes */
function writeToGuest(state, bytes) {
  if (state.alloc === null) throw new GuestTrap("host functions cannot be called from the start function");
  const ptr = state.alloc(bytes.length) >>> 0;
  const mem = guestBytes(state); // after alloc: it may have grown the memory
  if (ptr === 0 || ptr + bytes.length > mem.length) throw new GuestTrap(`alloc(${bytes.length}) returned an invalid pointer ${ptr}`);
  mem.set(bytes, ptr);
  return ptr;
}

/** Packs (ptr, len) the way imports answer: ptr << 32 | len. @param {number} ptr @param {number} len */
function pack(ptr, len) {
  return (BigInt(ptr) << 32n) | BigInt(len);
}

/** Reads an AssemblyScript string (UTF-16LE, byte length at ptr-4) for abort messages, bounded. */
function readAsString(/** @type {JobState} */ state, /** @type {number} */ ptr) {
  if (state.memory === null || ptr === 0) return "";
  const buf = state.memory.buffer;
  const p = ptr >>> 0;
  if (p < 4 || p > buf.byteLength) return "?";
  const byteLen = new DataView(buf).getUint32(p - 4, true);
  const n = Math.min(byteLen, 2048, buf.byteLength - p) & ~1;
  return Buffer.from(buf, p, n).toString("utf16le");
}

// ---------------------------------------------------------------------------------------------
// Host calls

/** Reads and parses a guest's JSON request, or returns an error answer for it. */
function guestRequest(/** @type {JobState} */ state, /** @type {number} */ ptr, /** @type {number} */ len, /** @type {string} */ what) {
  if ((len >>> 0) > config.maxGuestRequestBytes) {
    return { error: `${what} is ${len >>> 0} bytes, over the limit of ${config.maxGuestRequestBytes} bytes` };
  }
  const bytes = readGuest(state, ptr, len, what);
  try {
    return { value: JSON.parse(strictUtf8.decode(bytes)) };
  } catch (error) {
    return { error: `${what} is not UTF-8 JSON: ${errorMessage(error)}` };
  }
}

/** Answers the guest directly (no host round trip). */
function answerGuest(/** @type {JobState} */ state, /** @type {object} */ json) {
  const bytes = utf8.encode(JSON.stringify(json));
  return pack(writeToGuest(state, bytes), bytes.length);
}

/** Posts a call to the main thread and blocks until its answer is in the shared buffer. */
function roundTrip(/** @type {JobState} */ state, /** @type {object} */ message, /** @type {ArrayBuffer[]} */ transfer) {
  Atomics.store(ctrl, 0, 0);
  port.postMessage({ type: "host", jobId: state.jobId, ...message }, transfer);
  Atomics.wait(ctrl, 0, 0);
  const len = Atomics.load(ctrl, 1);
  return answer.subarray(0, len);
}

function capabilityCall(/** @type {JobState} */ state, /** @type {number} */ ptr, /** @type {number} */ len) {
  const req = guestRequest(state, ptr, len, "capability request");
  if (req.error !== undefined) return answerGuest(state, { error: req.error });
  const v = req.value;
  if (!isRecord(v) || typeof v.id !== "string" || typeof v.method !== "string" || (v.payload !== undefined && typeof v.payload !== "string")) {
    return answerGuest(state, { error: 'capability request must be {"id": string, "method": string, "payload": base64 string}' });
  }
  const payload = base64Bytes(v.payload ?? "");
  const reply = roundTrip(state, { op: "capability", request: { id: v.id, method: v.method, payload } }, [payload.buffer]);
  return pack(writeToGuest(state, reply), reply.length);
}

function secretsCall(/** @type {JobState} */ state, /** @type {number} */ ptr, /** @type {number} */ len) {
  const req = guestRequest(state, ptr, len, "secrets request");
  if (req.error !== undefined) return answerGuest(state, { error: req.error });
  const v = req.value;
  const shape = 'secrets request must be {"requests": [{"id": string, "namespace"?: string}, ...]}';
  if (!isRecord(v) || !Array.isArray(v.requests)) return answerGuest(state, { error: shape });
  const requests = [];
  for (const r of v.requests) {
    if (!isRecord(r) || typeof r.id !== "string" || (r.namespace !== undefined && typeof r.namespace !== "string")) {
      return answerGuest(state, { error: shape });
    }
    requests.push({ id: r.id, namespace: r.namespace === undefined || r.namespace === "" ? "main" : r.namespace });
  }
  const reply = roundTrip(state, { op: "secrets", request: { requests } }, []);
  return pack(writeToGuest(state, reply), reply.length);
}

function hostNow(/** @type {JobState} */ state) {
  guestBytes(state); // like every import: not from the start function
  const reply = roundTrip(state, { op: "now" }, []);
  return Number(lossyUtf8.decode(reply));
}

function guestLog(/** @type {JobState} */ state, /** @type {number} */ level, /** @type {number} */ ptr, /** @type {number} */ len) {
  const l = len >>> 0;
  const shown = Math.min(l, config.maxLogLineBytes);
  if ((ptr >>> 0) + l > guestBytes(state).length) throw new GuestTrap(`log line: the buffer is outside the guest's memory`);
  if (state.logsPosted >= config.maxLogLinesPerExecution) {
    state.logsDropped++;
    return;
  }
  state.logsPosted++;
  const bytes = readGuest(state, ptr, shown, "log line");
  const message = lossyUtf8.decode(bytes) + (l > shown ? ` …(truncated ${l - shown} bytes)` : "");
  port.postMessage({ type: "log", jobId: state.jobId, level, message });
}

// ---------------------------------------------------------------------------------------------

/** @param {unknown} v @returns {v is Record<string, any>} */
function isRecord(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** @param {string} text */
function base64Bytes(text) {
  const b = Buffer.from(text, "base64");
  // A fresh, exactly-sized ArrayBuffer, so it can be transferred without dragging a pool slab along.
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** @param {unknown} error */
function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}
