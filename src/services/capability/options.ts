/**
 * The Capability service's options: validated once, frozen, every error naming the option at fault.
 * The lead's config layer (src/config/) reads files and the environment and hands the values here.
 */
import { Code, ccrError } from "../../domain/errors.js";
import { parseHostRule, type HostRule } from "./host-allowlist.js";

export interface CapabilityOptionsInput {
  /** Identical calls within ttlMs get identical bytes and run once. */
  readonly memo?: {
    /** Default 300 000 (5 minutes): covers a relay fan-out and the enclave's retries. */
    readonly ttlMs?: number;
    /** Default 10 000 answers. */
    readonly maxEntries?: number;
    /** Default 64 MiB of payloads. */
    readonly maxBytes?: number;
  };
  /** Largest request payload. Default 1 MiB. */
  readonly maxPayloadBytes?: number;
  readonly httpFetch?: {
    /** Hosts http-fetch may call ("host", "host:port", "*.domain"); default none. */
    readonly allowedHosts?: readonly string[];
    /** Allow plain http (default false: https only). */
    readonly allowInsecureHttp?: boolean;
    /** Whole-request deadline: connect, send, headers and body. Default 10 000. */
    readonly timeoutMs?: number;
    /** Largest response body. Default 1 MiB. */
    readonly maxResponseBytes?: number;
  };
}

export interface CapabilityOptions {
  readonly memo: { readonly ttlMs: number; readonly maxEntries: number; readonly maxBytes: number };
  readonly maxPayloadBytes: number;
  readonly httpFetch: {
    readonly allowedHosts: readonly HostRule[];
    readonly allowInsecureHttp: boolean;
    readonly timeoutMs: number;
    readonly maxResponseBytes: number;
  };
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw ccrError(`${name} must be an integer from ${min} to ${max} (got ${String(value)})`, Code.InvalidArgument);
  }
  return value;
}

export function resolveCapabilityOptions(input: CapabilityOptionsInput = {}): CapabilityOptions {
  const memo = input.memo ?? {};
  const fetch = input.httpFetch ?? {};
  const hosts = fetch.allowedHosts ?? [];
  if (!Array.isArray(hosts)) throw ccrError("capability.httpFetch.allowedHosts must be a list of host names", Code.InvalidArgument);
  if (fetch.allowInsecureHttp !== undefined && typeof fetch.allowInsecureHttp !== "boolean") {
    throw ccrError("capability.httpFetch.allowInsecureHttp must be true or false", Code.InvalidArgument);
  }
  return Object.freeze({
    memo: Object.freeze({
      ttlMs: integer("capability.memo.ttlMs", memo.ttlMs, 300_000, 0, 24 * 3_600_000),
      maxEntries: integer("capability.memo.maxEntries", memo.maxEntries, 10_000, 1, 10_000_000),
      maxBytes: integer("capability.memo.maxBytes", memo.maxBytes, 64 * 1024 * 1024, 1024, 2 ** 40),
    }),
    maxPayloadBytes: integer("capability.maxPayloadBytes", input.maxPayloadBytes, 1024 * 1024, 1, 64 * 1024 * 1024),
    httpFetch: Object.freeze({
      allowedHosts: Object.freeze(hosts.map((entry, i) => parseHostRule(String(entry), `capability.httpFetch.allowedHosts[${i}]`))),
      allowInsecureHttp: fetch.allowInsecureHttp ?? false,
      timeoutMs: integer("capability.httpFetch.timeoutMs", fetch.timeoutMs, 10_000, 1, 10 * 60_000),
      maxResponseBytes: integer("capability.httpFetch.maxResponseBytes", fetch.maxResponseBytes, 1024 * 1024, 1, 64 * 1024 * 1024),
    }),
  });
}
