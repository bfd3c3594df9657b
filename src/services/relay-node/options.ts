/**
 * Relay node options in → validated, frozen config out. The lead's composition root maps files and
 * env onto `RelayNodeOptions`; every bad value stops start-up with a message naming the key.
 *
 * The config holds the node's key seed: never log it (log `nodePublicKey` instead).
 */
import { createAttestationPolicy, type AttestationPolicyOptions } from "../../domain/attestation/policy.js";
import { createDonConfig, type DonConfig } from "../../domain/authorization/don-config.js";
import { ed25519SignerFromSeed } from "../../domain/crypto/ed25519.js";
import { Code, ccrError } from "../../domain/errors.js";

export interface GatewayEndpoint {
  /** Base URL of the gateway's gRPC/Connect server (h2c or TLS), e.g. "http://127.0.0.1:7400". */
  readonly url: string;
  /** The gateway's id; the node refuses a challenge naming another. */
  readonly gatewayId: string;
}

/** Reconnect delays: min(maxDelayMs, initialDelayMs · multiplier^attempt), minus up to jitterRatio of it. */
export interface BackoffConfig {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** 0..1: the share of each delay drawn at random, so a restarted gateway is not hit by all nodes at once. */
  readonly jitterRatio: number;
}

export interface RelayNodeOptions {
  /** The node's ed25519 seed: 32 bytes, or 64 hex characters. */
  readonly nodeKeySeed: Uint8Array | string;
  /** The relay DON this node is a member of (its own key must be among the signers). */
  readonly don: { readonly donId: string; readonly signers: readonly (Uint8Array | string)[]; readonly f: number };
  /** Gateways to dial; none means the node serves only its unary API. */
  readonly gateways?: readonly GatewayEndpoint[];
  /** ed25519 public keys of the workflow nodes whose signatures authorize executions (PRIV-433). */
  readonly workflowNodeKeys: readonly (Uint8Array | string)[];
  /** Distinct workflow-node signatures required; default 1. */
  readonly authorizationThreshold?: number;
  /** Vault and Capability base URLs, used when the caller does not inject clients. */
  readonly vaultUrl?: string;
  readonly capabilityUrl?: string;
  /** Upper bound on one request's work, whatever the gateway's `timeout_ms`; default 30 s. */
  readonly maxRequestTimeoutMs?: number;
  /**
   * Requests in flight per gateway stream before answering ResourceExhausted; default 10 000, the
   * gateway's own `maxInFlight` default: every request the gateway admits is fanned out to every
   * node, so a smaller node limit would refuse what the gateway accepted and make the DON's capacity
   * the node's, not the gateway's. The bound keeps memory per gateway finite
   * (`npm run bench:relay-node-memory` measures a node at 10 000 in flight).
   */
  readonly maxInFlightPerGateway?: number;
  /** Time allowed from dialing to HandshakeAccepted; default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** How far the gateway's challenge timestamp may be from the node's clock; default 30 s. */
  readonly handshakeClockToleranceMs?: number;
  /** Heartbeat interval used when the gateway announces 0; default 10 s. */
  readonly defaultHeartbeatIntervalMs?: number;
  readonly reconnect?: Partial<BackoffConfig>;
  /** Passed through to the attestation verifier. */
  readonly attestation?: AttestationPolicyOptions;
}

export interface RelayNodeConfig {
  readonly nodeKeySeed: Uint8Array;
  readonly nodePublicKey: Uint8Array;
  readonly don: DonConfig;
  readonly gateways: readonly GatewayEndpoint[];
  readonly workflowNodeKeys: readonly Uint8Array[];
  readonly authorizationThreshold: number;
  readonly vaultUrl: string | undefined;
  readonly capabilityUrl: string | undefined;
  readonly maxRequestTimeoutMs: number;
  readonly maxInFlightPerGateway: number;
  readonly handshakeTimeoutMs: number;
  readonly handshakeClockToleranceMs: number;
  readonly defaultHeartbeatIntervalMs: number;
  readonly reconnect: BackoffConfig;
  readonly attestation: AttestationPolicyOptions | undefined;
}

export const RELAY_NODE_DEFAULTS = Object.freeze({
  authorizationThreshold: 1,
  maxRequestTimeoutMs: 30_000,
  maxInFlightPerGateway: 10_000,
  handshakeTimeoutMs: 10_000,
  handshakeClockToleranceMs: 30_000,
  defaultHeartbeatIntervalMs: 10_000,
  reconnect: Object.freeze({ initialDelayMs: 250, maxDelayMs: 30_000, multiplier: 2, jitterRatio: 0.5 }),
});

function fail(key: string, expected: string): never {
  throw ccrError(`relay node config: ${key} ${expected}`, Code.InvalidArgument);
}

function key32(value: unknown, key: string, what: string): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== 32) fail(key, `must be a 32-byte ${what}, got ${value.length} bytes`);
    return Uint8Array.from(value);
  }
  if (typeof value === "string") {
    const text = value.startsWith("0x") ? value.slice(2) : value;
    if (!/^[0-9a-fA-F]{64}$/.test(text)) fail(key, `must be a 32-byte ${what} as 64 hex characters`);
    return new Uint8Array(Buffer.from(text, "hex"));
  }
  fail(key, `must be a 32-byte ${what} (bytes or hex)`);
}

function positiveInt(value: unknown, key: string, fallback: number, max = 24 * 60 * 60 * 1000): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
    fail(key, `must be an integer in 1..${max}`);
  }
  return value;
}

function url(value: unknown, key: string): string {
  if (typeof value !== "string") fail(key, "must be an http(s) URL");
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    fail(key, `must be an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") fail(key, `must be an http(s) URL, got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, "");
}

function resolveBackoff(input: Partial<BackoffConfig> | undefined): BackoffConfig {
  const d = RELAY_NODE_DEFAULTS.reconnect;
  const initialDelayMs = positiveInt(input?.initialDelayMs, "reconnect.initialDelayMs", d.initialDelayMs);
  const maxDelayMs = positiveInt(input?.maxDelayMs, "reconnect.maxDelayMs", Math.max(d.maxDelayMs, initialDelayMs));
  if (maxDelayMs < initialDelayMs) fail("reconnect.maxDelayMs", "must be at least reconnect.initialDelayMs");
  const multiplier = input?.multiplier ?? d.multiplier;
  if (typeof multiplier !== "number" || !Number.isFinite(multiplier) || multiplier < 1 || multiplier > 10) {
    fail("reconnect.multiplier", "must be a number in 1..10");
  }
  const jitterRatio = input?.jitterRatio ?? d.jitterRatio;
  if (typeof jitterRatio !== "number" || !(jitterRatio >= 0 && jitterRatio <= 1)) {
    fail("reconnect.jitterRatio", "must be a number in 0..1");
  }
  return Object.freeze({ initialDelayMs, maxDelayMs, multiplier, jitterRatio });
}

export function resolveRelayNodeOptions(options: RelayNodeOptions): Readonly<RelayNodeConfig> {
  const nodeKeySeed = key32(options.nodeKeySeed, "nodeKeySeed", "ed25519 seed");
  const nodePublicKey = ed25519SignerFromSeed(nodeKeySeed).publicKey;

  if (typeof options.don !== "object" || options.don === null) fail("don", "is required ({donId, signers, f})");
  if (typeof options.don.donId !== "string" || options.don.donId === "") fail("don.donId", "is required");
  if (!Array.isArray(options.don.signers) || options.don.signers.length === 0) fail("don.signers", "must list the DON members' keys");
  if (typeof options.don.f !== "number" || !Number.isSafeInteger(options.don.f) || options.don.f < 0) {
    fail("don.f", "must be a non-negative integer");
  }
  const signers = options.don.signers.map((s, i) => key32(s, `don.signers[${i}]`, "ed25519 public key"));
  let don: DonConfig;
  try {
    don = createDonConfig({ donId: options.don.donId, signers, f: options.don.f });
  } catch (err) {
    fail("don", (err as Error).message);
  }
  if (!don.signers.some((s) => Buffer.compare(s, nodePublicKey) === 0)) {
    fail("nodeKeySeed", `gives public key ${Buffer.from(nodePublicKey).toString("hex")}, which is not among don.signers`);
  }

  const gateways = (options.gateways ?? []).map((g, i) => {
    if (typeof g !== "object" || g === null) fail(`gateways[${i}]`, "must be {url, gatewayId}");
    if (typeof g.gatewayId !== "string" || g.gatewayId === "") fail(`gateways[${i}].gatewayId`, "is required");
    return Object.freeze({ url: url(g.url, `gateways[${i}].url`), gatewayId: g.gatewayId });
  });
  const ids = new Set<string>();
  gateways.forEach((g, i) => {
    if (ids.has(g.gatewayId)) fail(`gateways[${i}].gatewayId`, `duplicates ${JSON.stringify(g.gatewayId)}`);
    ids.add(g.gatewayId);
  });

  if (!Array.isArray(options.workflowNodeKeys) || options.workflowNodeKeys.length === 0) {
    fail("workflowNodeKeys", "must list at least one workflow node's ed25519 public key");
  }
  const workflowNodeKeys = options.workflowNodeKeys.map((k, i) => key32(k, `workflowNodeKeys[${i}]`, "ed25519 public key"));
  const distinct = new Set(workflowNodeKeys.map((k) => Buffer.from(k).toString("hex"))).size;
  const authorizationThreshold = positiveInt(options.authorizationThreshold, "authorizationThreshold", 1, 1024);
  if (authorizationThreshold > distinct) {
    fail("authorizationThreshold", `is ${authorizationThreshold} but only ${distinct} distinct workflowNodeKeys are configured`);
  }

  if (options.attestation !== undefined) {
    try {
      createAttestationPolicy(options.attestation); // validated now, built again by the verifier
    } catch (err) {
      fail("attestation", (err as { rawMessage?: string }).rawMessage ?? String(err));
    }
  }

  return Object.freeze({
    nodeKeySeed,
    nodePublicKey,
    don,
    gateways: Object.freeze(gateways),
    workflowNodeKeys: Object.freeze(workflowNodeKeys),
    authorizationThreshold,
    vaultUrl: options.vaultUrl === undefined ? undefined : url(options.vaultUrl, "vaultUrl"),
    capabilityUrl: options.capabilityUrl === undefined ? undefined : url(options.capabilityUrl, "capabilityUrl"),
    maxRequestTimeoutMs: positiveInt(options.maxRequestTimeoutMs, "maxRequestTimeoutMs", RELAY_NODE_DEFAULTS.maxRequestTimeoutMs),
    maxInFlightPerGateway: positiveInt(
      options.maxInFlightPerGateway,
      "maxInFlightPerGateway",
      RELAY_NODE_DEFAULTS.maxInFlightPerGateway,
      65_536,
    ),
    handshakeTimeoutMs: positiveInt(options.handshakeTimeoutMs, "handshakeTimeoutMs", RELAY_NODE_DEFAULTS.handshakeTimeoutMs),
    handshakeClockToleranceMs: positiveInt(
      options.handshakeClockToleranceMs,
      "handshakeClockToleranceMs",
      RELAY_NODE_DEFAULTS.handshakeClockToleranceMs,
    ),
    defaultHeartbeatIntervalMs: positiveInt(
      options.defaultHeartbeatIntervalMs,
      "defaultHeartbeatIntervalMs",
      RELAY_NODE_DEFAULTS.defaultHeartbeatIntervalMs,
    ),
    reconnect: resolveBackoff(options.reconnect),
    attestation: options.attestation,
  });
}
