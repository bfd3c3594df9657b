// The raw guest ABI (docs/wasm-abi.md): the host imports, the `alloc` export, and the buffer
// conventions. Guest code normally uses the typed helpers in secrets.ts, capabilities.ts, log.ts.

@external("ccr", "call_capability")
declare function ccr_call_capability(ptr: usize, len: i32): u64;

@external("ccr", "get_secrets")
declare function ccr_get_secrets(ptr: usize, len: i32): u64;

@external("ccr", "log")
declare function ccr_log(level: i32, ptr: usize, len: i32): void;

@external("ccr", "now")
declare function ccr_now(): f64;

/**
 * Export this from the workflow's entry file (`export { alloc } from ".../sdk/assemblyscript"`).
 * The host calls it to obtain guest memory for the execute request and for host-call answers. The
 * block is unmanaged (heap.alloc), so the garbage collector cannot move or free it while the host
 * writes; the SDK frees it once it has read the bytes.
 */
export function alloc(len: i32): usize {
  return heap.alloc(len > 0 ? <usize>len : 1);
}

/** Reads (and frees) an answer the host wrote into an `alloc`ed block: `ptr << 32 | len`. */
function takeAnswer(packed: u64): string {
  const ptr = <usize>(packed >>> 32);
  const len = <usize>(packed & 0xffffffff);
  const text = String.UTF8.decodeUnsafe(ptr, len);
  heap.free(ptr);
  return text;
}

/** Sends a JSON request to `call_capability`; answers the host's JSON text. */
export function rawCallCapability(requestJson: string): string {
  const buf = String.UTF8.encode(requestJson);
  return takeAnswer(ccr_call_capability(changetype<usize>(buf), buf.byteLength));
}

/** Sends a JSON request to `get_secrets`; answers the host's JSON text. */
export function rawGetSecrets(requestJson: string): string {
  const buf = String.UTF8.encode(requestJson);
  return takeAnswer(ccr_get_secrets(changetype<usize>(buf), buf.byteLength));
}

/** Log levels of the `log` import. */
export enum LogLevel {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

export function rawLog(level: LogLevel, message: string): void {
  const buf = String.UTF8.encode(message);
  ccr_log(<i32>level, changetype<usize>(buf), buf.byteLength);
}

/** The host's clock: milliseconds since the Unix epoch. */
export function now(): f64 {
  return ccr_now();
}
