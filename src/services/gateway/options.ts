/**
 * Gateway options in, validated and frozen config out (pure: defaults, clamps, and errors that name
 * the option key). The lead wires this into src/config/ and the CLI.
 *
 * Defaults follow upstream where it had them (chainlink-relay.md §3.8, §6.2): requestTimeoutMs 30 000,
 * nodeSendTimeoutMs 10 000 clamped to at most requestTimeoutMs. Ingress limits are ccr's own (upstream
 * had none on the user side, CL112-03).
 */
import { Code } from "@connectrpc/connect";
import { ccrError } from "../../domain/errors.js";
import type { IngressLimits } from "../../domain/ratelimit/ingress-limiter.js";
import { validateTokenBucketSpec, type TokenBucketSpec } from "../../domain/ratelimit/token-bucket.js";

export interface GatewayMemberOption {
  /** The member's ed25519 public key: 32 bytes, or 64 hex characters (optional 0x). */
  readonly publicKey: Uint8Array | string;
  /** A short label for logs and metrics; defaults to the key's first 8 hex characters. */
  readonly name?: string;
}

export interface GatewayOptions {
  /** This gateway's id; nodes sign it into their handshake, so a proof for one gateway is useless at another. */
  readonly gatewayId: string;
  /** The relay DON's id. */
  readonly donId: string;
  /** The DON members, in a fixed order. N = members.length. */
  readonly members: readonly (GatewayMemberOption | Uint8Array | string)[];
  /** Faulty members tolerated; quorum is F+1. Requires N ≥ 3F+1. */
  readonly f: number;
  /** Upper bound on a relay request's life at the gateway (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Upper bound on one send to one node (default 10 000; clamped to ≤ requestTimeoutMs). */
  readonly nodeSendTimeoutMs?: number;
  /** Taken off the client's own deadline so the handler answers before the transport gives up (default 50). */
  readonly deadlineMarginMs?: number;
  /**
   * The server's hard per-request limit, if the transport has one; requestTimeoutMs is clamped to
   * (this − deadlineMarginMs) so the gateway always answers first.
   */
  readonly serverHardLimitMs?: number;
  /** How long a node has between challenge and proof, and to send its hello (default 5 000). */
  readonly handshakeToleranceMs?: number;
  /** Gateway heartbeat period; a stream silent for 3 periods is dropped (default 10 000). */
  readonly heartbeatIntervalMs?: number;
  /** Per-node outbound queue bound, in messages (default 8 192). A full queue fails that node for that request. */
  readonly nodeQueueLimit?: number;
  /** Cap on requests in flight (default 10 000); beyond it, ResourceExhausted. */
  readonly maxInFlight?: number;
  /** Retry hint sent when the in-flight cap refuses a request (default 1 000). */
  readonly capacityRetryAfterMs?: number;
  /** Ingress token buckets (global default 1 000/s burst 2 000; per sender 100/s burst 200; 100 000 senders). */
  readonly ingress?: {
    readonly global?: Partial<TokenBucketSpec>;
    readonly perSender?: Partial<TokenBucketSpec>;
    readonly maxSenders?: number;
  };
  /** Per-node answer limit (default twice the global ingress rate and burst: each request yields ≤ 1 answer per node). */
  readonly nodeAnswerRate?: Partial<TokenBucketSpec>;
  /** JSON-RPC endpoint: largest accepted body (default 1 MiB, upstream GatewayIncomingPayloadSizeLimit). */
  readonly jsonRpcMaxBodyBytes?: number;
}

export interface GatewayMember {
  readonly publicKey: Uint8Array;
  readonly publicKeyHex: string;
  readonly name: string;
}

export interface GatewayConfig {
  readonly gatewayId: string;
  readonly donId: string;
  readonly members: readonly GatewayMember[];
  readonly f: number;
  readonly requiredQuorum: number;
  readonly requestTimeoutMs: number;
  readonly nodeSendTimeoutMs: number;
  readonly deadlineMarginMs: number;
  readonly handshakeToleranceMs: number;
  readonly heartbeatIntervalMs: number;
  readonly nodeQueueLimit: number;
  readonly maxInFlight: number;
  readonly capacityRetryAfterMs: number;
  readonly ingress: IngressLimits;
  readonly nodeAnswerRate: TokenBucketSpec;
  readonly jsonRpcMaxBodyBytes: number;
}

export const GATEWAY_DEFAULTS = Object.freeze({
  requestTimeoutMs: 30_000,
  nodeSendTimeoutMs: 10_000,
  deadlineMarginMs: 50,
  handshakeToleranceMs: 5_000,
  heartbeatIntervalMs: 10_000,
  nodeQueueLimit: 8_192,
  maxInFlight: 10_000,
  capacityRetryAfterMs: 1_000,
  globalIngress: Object.freeze({ ratePerSec: 1_000, burst: 2_000 }),
  perSenderIngress: Object.freeze({ ratePerSec: 100, burst: 200 }),
  maxSenders: 100_000,
  jsonRpcMaxBodyBytes: 1 << 20,
});

/** Longest request timeout accepted (10 min). */
const MAX_TIMEOUT_MS = 600_000;

function invalid(key: string, what: string, got: unknown): never {
  throw ccrError(`gateway option ${key} ${what}, got ${JSON.stringify(got) ?? String(got)}`, Code.InvalidArgument);
}

function int(key: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    invalid(key, `must be an integer between ${min} and ${max}`, value);
  }
  return value;
}

function nonEmpty(key: string, value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") invalid(key, "must be a non-empty string", value);
  return value;
}

function parseKey(key: string, value: Uint8Array | string): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== 32) invalid(key, "must be a 32-byte ed25519 public key", `${value.length} bytes`);
    return new Uint8Array(value);
  }
  if (typeof value === "string") {
    const hex = value.startsWith("0x") ? value.slice(2) : value;
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) invalid(key, "must be 64 hex characters (a 32-byte ed25519 public key)", value);
    return new Uint8Array(Buffer.from(hex, "hex"));
  }
  return invalid(key, "must be a 32-byte ed25519 public key", value);
}

function bucket(key: string, value: Partial<TokenBucketSpec> | undefined, fallback: TokenBucketSpec): TokenBucketSpec {
  const spec = { ratePerSec: value?.ratePerSec ?? fallback.ratePerSec, burst: value?.burst ?? fallback.burst };
  try {
    validateTokenBucketSpec(spec, key);
  } catch (e) {
    throw ccrError(`gateway option ${(e as Error).message}`, Code.InvalidArgument, e);
  }
  return Object.freeze(spec);
}

export function resolveGatewayOptions(options: GatewayOptions): Readonly<GatewayConfig> {
  const gatewayId = nonEmpty("gatewayId", options.gatewayId);
  const donId = nonEmpty("donId", options.donId);
  if (!Array.isArray(options.members) || options.members.length === 0) {
    invalid("members", "must list at least one DON member", options.members);
  }
  const seen = new Set<string>();
  const members = options.members.map((m, i): GatewayMember => {
    const entry = m instanceof Uint8Array || typeof m === "string" ? { publicKey: m } : m;
    const publicKey = parseKey(`members[${i}].publicKey`, entry.publicKey);
    const publicKeyHex = Buffer.from(publicKey).toString("hex");
    if (seen.has(publicKeyHex)) invalid(`members[${i}].publicKey`, "must not repeat another member's key", publicKeyHex);
    seen.add(publicKeyHex);
    const name = entry.name === undefined ? publicKeyHex.slice(0, 8) : nonEmpty(`members[${i}].name`, entry.name);
    return Object.freeze({ publicKey, publicKeyHex, name });
  });
  const n = members.length;
  if (options.f === undefined) invalid("f", "is required (faulty members tolerated)", options.f);
  const f = int("f", options.f, 0, 0, n);
  if (n < 3 * f + 1) invalid("f", `must satisfy N ≥ 3F+1 with N=${n} members`, f);

  const deadlineMarginMs = int("deadlineMarginMs", options.deadlineMarginMs, GATEWAY_DEFAULTS.deadlineMarginMs, 0, 10_000);
  let requestTimeoutMs = int("requestTimeoutMs", options.requestTimeoutMs, GATEWAY_DEFAULTS.requestTimeoutMs, 1, MAX_TIMEOUT_MS);
  if (options.serverHardLimitMs !== undefined) {
    const hard = int("serverHardLimitMs", options.serverHardLimitMs, 0, deadlineMarginMs + 1, 24 * 3_600_000);
    requestTimeoutMs = Math.min(requestTimeoutMs, hard - deadlineMarginMs);
  }
  // Upstream G4: the per-send bound never exceeds the request timeout (chainlink-relay.md §3.8).
  const nodeSendTimeoutMs = Math.min(
    int("nodeSendTimeoutMs", options.nodeSendTimeoutMs, GATEWAY_DEFAULTS.nodeSendTimeoutMs, 1, MAX_TIMEOUT_MS),
    requestTimeoutMs,
  );

  const global = bucket("ingress.global", options.ingress?.global, GATEWAY_DEFAULTS.globalIngress);
  const perSender = bucket("ingress.perSender", options.ingress?.perSender, GATEWAY_DEFAULTS.perSenderIngress);
  const maxSenders = int("ingress.maxSenders", options.ingress?.maxSenders, GATEWAY_DEFAULTS.maxSenders, 1, 10_000_000);
  const nodeAnswerRate = bucket("nodeAnswerRate", options.nodeAnswerRate, {
    ratePerSec: 2 * global.ratePerSec,
    burst: 2 * global.burst,
  });

  return Object.freeze({
    gatewayId,
    donId,
    members: Object.freeze(members),
    f,
    requiredQuorum: f + 1,
    requestTimeoutMs,
    nodeSendTimeoutMs,
    deadlineMarginMs,
    handshakeToleranceMs: int("handshakeToleranceMs", options.handshakeToleranceMs, GATEWAY_DEFAULTS.handshakeToleranceMs, 1, 600_000),
    heartbeatIntervalMs: int("heartbeatIntervalMs", options.heartbeatIntervalMs, GATEWAY_DEFAULTS.heartbeatIntervalMs, 1, 3_600_000),
    nodeQueueLimit: int("nodeQueueLimit", options.nodeQueueLimit, GATEWAY_DEFAULTS.nodeQueueLimit, 1, 10_000_000),
    maxInFlight: int("maxInFlight", options.maxInFlight, GATEWAY_DEFAULTS.maxInFlight, 1, 10_000_000),
    capacityRetryAfterMs: int("capacityRetryAfterMs", options.capacityRetryAfterMs, GATEWAY_DEFAULTS.capacityRetryAfterMs, 1, 3_600_000),
    ingress: Object.freeze({ global, perSender, maxSenders }),
    nodeAnswerRate,
    jsonRpcMaxBodyBytes: int("jsonRpcMaxBodyBytes", options.jsonRpcMaxBodyBytes, GATEWAY_DEFAULTS.jsonRpcMaxBodyBytes, 1_024, 64 << 20),
  });
}
