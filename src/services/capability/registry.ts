/**
 * The capability registry: executors addressed by `name@semver` (e.g. "http-fetch@1.0.0", or
 * "confidential-workflows@1.0.0-alpha" upstream), each describing itself for `List` with a
 * description and JSON Schemas (draft 2020-12) of its input and output.
 *
 * An executor splits its work in two, because the two halves fail differently:
 * - `parse` checks the payload. A bad payload is the caller's mistake → InvalidArgument, never
 *   memoized (the same bytes always fail the same way).
 * - `execute` runs the capability. Its own failures (a refused host, a timeout, an oversized
 *   response) are part of the answer → `{ kind: "failed", error }`, memoized like any answer so
 *   every relay node signs the same thing. Throwing is for bugs only (→ Internal, not memoized).
 */
import { Code, ccrError } from "../../domain/errors.js";

export type CapabilityOutcome = { readonly kind: "ok"; readonly payload: Uint8Array } | { readonly kind: "failed"; readonly error: string };

export type ParsedInput<I> = { readonly kind: "ok"; readonly input: I } | { readonly kind: "invalid"; readonly reason: string };

/** Who is calling (from the request metadata), for executors that log or scope by caller. */
export interface CapabilityCall {
  readonly workflowId: string;
  readonly owner: string;
  readonly executionId: string;
  readonly referenceId: string;
  /** Aborts when the service shuts down (not when one caller gives up: others may share the run). */
  readonly signal: AbortSignal;
}

export interface CapabilityExecutor<I = unknown> {
  /** `name@semver`. */
  readonly id: string;
  /** One sentence. */
  readonly description: string;
  /** JSON Schema (draft 2020-12) of the input payload. */
  readonly inputSchema: object;
  /** JSON Schema (draft 2020-12) of the output payload. */
  readonly outputSchema: object;
  /** Method names; the request's empty method means "Execute". Default ["Execute"]. */
  readonly methods?: readonly string[];
  parse(payload: Uint8Array, method: string): ParsedInput<I>;
  execute(input: I, call: CapabilityCall, method: string): Promise<CapabilityOutcome>;
}

/**
 * An executor of any input type, as the registry holds them. `any` rather than `unknown`: an
 * executor's input type is both produced (parse) and consumed (execute), so no narrower common type
 * exists; the registry only ever feeds an executor what its own parse produced.
 */
export type AnyCapabilityExecutor = CapabilityExecutor<any>;

/** name: lowercase letters, digits and dashes; version: semver 2.0.0 (prerelease allowed, no build). */
const CAPABILITY_ID = /^[a-z][a-z0-9-]{0,63}@(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export function isCapabilityId(id: string): boolean {
  return CAPABILITY_ID.test(id);
}

export class CapabilityRegistry {
  private readonly byId = new Map<string, CapabilityExecutor>();

  constructor(executors: ReadonlyArray<AnyCapabilityExecutor>) {
    for (const executor of executors) {
      if (!isCapabilityId(executor.id)) {
        throw ccrError(`capability id "${executor.id}" must be name@semver, e.g. "http-fetch@1.0.0"`, Code.InvalidArgument);
      }
      if (this.byId.has(executor.id)) throw ccrError(`capability ${executor.id} is registered twice`, Code.InvalidArgument);
      this.byId.set(executor.id, executor);
    }
  }

  get(id: string): CapabilityExecutor | undefined {
    return this.byId.get(id);
  }

  /** Every executor, sorted by id (bytewise), as `List` returns them. */
  list(): CapabilityExecutor[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

/** Parses a UTF-8 JSON payload; the reason says what is wrong. */
export function parseJsonPayload(payload: Uint8Array): ParsedInput<unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(payload);
  } catch {
    return { kind: "invalid", reason: "payload must be UTF-8 JSON" };
  }
  try {
    return { kind: "ok", input: JSON.parse(text) as unknown };
  } catch (error) {
    return { kind: "invalid", reason: `payload is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export function jsonBytes(value: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(value), "utf8"));
}
