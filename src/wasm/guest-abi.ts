/**
 * The runtime's public types: what a caller hands a guest and what comes back (docs/wasm-abi.md).
 *
 * Plain TypeScript, not generated protobuf types: the services convert at their edge. Byte fields
 * (config, trigger and capability payloads) are `Uint8Array`, as in `proto/ccr/sdk/v1/sdk.proto`;
 * the guest sees them base64-encoded inside its JSON messages.
 */

/** A JSON value as `JSON.parse` produces it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Module and names of the host functions a guest may import (docs/wasm-abi.md, "Imports"). */
export const GUEST_IMPORT_MODULE = "ccr";
export const GUEST_IMPORTS = Object.freeze({
  callCapability: "call_capability",
  getSecrets: "get_secrets",
  log: "log",
  now: "now",
});
/** AssemblyScript's `abort(message, file, line, column)`, accepted so AS guests link unchanged. */
export const AS_ABORT_IMPORT = Object.freeze({ module: "env", name: "abort" });

/** Exports every guest must provide. */
export const GUEST_EXPORTS = Object.freeze({ memory: "memory", alloc: "alloc", execute: "execute" });

/** One call of a guest: the subscribe phase or one trigger event (sdk.proto `ExecuteRequest`). */
export type GuestRequest =
  | { readonly kind: "subscribe"; readonly config: Uint8Array }
  | {
      readonly kind: "trigger";
      readonly config: Uint8Array;
      /** Index of the subscription that fired (uint64; kept as text across the boundary). */
      readonly triggerId: bigint | number | string;
      readonly payload: Uint8Array;
    };

/** Guest → host capability call (sdk.proto `CapabilityRequest`, without callback_id: calls block). */
export interface CapabilityRequest {
  readonly id: string;
  readonly method: string;
  readonly payload: Uint8Array;
}

export type CapabilityResponse =
  | { readonly kind: "payload"; readonly payload: Uint8Array }
  | { readonly kind: "error"; readonly error: string };

/** Guest → host secrets request; an empty namespace has already been replaced by "main". */
export interface SecretsRequest {
  readonly requests: ReadonlyArray<{ readonly id: string; readonly namespace: string }>;
}

export type SecretAnswer =
  | { readonly kind: "secret"; readonly id: string; readonly namespace: string; readonly value: string }
  | { readonly kind: "error"; readonly id: string; readonly namespace: string; readonly error: string };

/** One answer per requested secret, in request order. */
export interface SecretsResponse {
  readonly responses: readonly SecretAnswer[];
}

export type GuestLogLevel = "debug" | "info" | "warn" | "error";
/** Wire codes of the `log` import's level argument, in order. */
export const GUEST_LOG_LEVELS: readonly GuestLogLevel[] = Object.freeze(["debug", "info", "warn", "error"]);

/**
 * What the caller lends one execution. The async calls run on the caller's thread while the guest's
 * worker blocks; a rejection reaches the guest as `{"error": message}` (so keep secrets out of
 * messages). `signal` aborts when the execution ends early (time limit, cancel).
 */
export interface HostCalls {
  callCapability(request: CapabilityRequest, signal: AbortSignal): Promise<CapabilityResponse>;
  getSecrets(request: SecretsRequest, signal: AbortSignal): Promise<SecretsResponse>;
  /** Already rate-limited and size-bounded by the runtime. */
  log(level: GuestLogLevel, message: string): void;
  /** The `now` import's answer, ms since the Unix epoch (upstream `GetNodeTime`). */
  nowMs(): number;
}

export interface TriggerSubscription {
  readonly id: string;
  readonly method: string;
  readonly payload: Uint8Array;
}

/**
 * How one execution ended. The first three are the guest's own answer (sdk.proto `ExecutionResult`);
 * the rest are the runtime's verdicts, which callers map to an `ExecutionResult.error` or an RPC
 * error (`timeout` → DeadlineExceeded, `at-capacity` → ResourceExhausted "enclave at capacity").
 */
export type RunOutcome =
  | { readonly kind: "value"; readonly value: JsonValue }
  /** The guest reported a workflow error. */
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "subscriptions"; readonly subscriptions: readonly TriggerSubscription[] }
  /** The guest crashed: a wasm trap, an AssemblyScript abort, or a broken ABI contract (bad pointer, malformed or oversize result). */
  | { readonly kind: "trap"; readonly message: string }
  /** The wall-clock limit passed; the worker was terminated and replaced. */
  | { readonly kind: "timeout"; readonly timeoutMs: number }
  /** The guest ran out of linear memory (or its worker out of heap) under the configured cap. */
  | { readonly kind: "memory-limit"; readonly message: string }
  /** Every worker is busy and the queue is full; nothing ran. */
  | { readonly kind: "at-capacity" }
  /** The bytes are not a module this runtime can run (only when `run` was given bytes). */
  | { readonly kind: "invalid-module"; readonly message: string }
  /** The caller's signal aborted before the guest finished, or the runtime was closed. */
  | { readonly kind: "cancelled" };
