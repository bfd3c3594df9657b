/**
 * The enclave host's options: validated once, frozen, every error naming the option at fault. Pure —
 * the lead's config layer (src/config/) reads files and the environment and hands the values here;
 * the dev CA files are passed in as PEM text, never read here.
 *
 * Defaults, and why (docs/enclave.md, "Options"):
 *  - binary.maxBytes 32 MiB: Go-built workflow binaries run 10–30 MB; the cap stops a hostile URL
 *    from filling the enclave's memory before the hash check can refuse the bytes.
 *  - binary.fetchTimeoutMs 10 s, executionTimeoutMs 30 s (upstream's workflow step timeout).
 *  - relay.requestTimeoutMs 15 s: below the gateway's own 30 s ceiling, so the guest gets an answer
 *    (or an error) before the execution's clock runs out on one stuck call.
 *  - attestation.refreshIntervalMs 60 s against the nodes' 300 s document age limit
 *    (DEFAULT_MAX_ATTESTATION_AGE_MS): a session document is always at least 4 minutes from expiry.
 */
import { DEFAULT_MAX_ATTESTATION_AGE_MS } from "../../domain/attestation/policy.js";
import { Code, ccrError } from "../../domain/errors.js";
import type { WasmRuntimeOptions } from "../../wasm/runtime-config.js";

/** Upstream `confidentialWorkflowsCapabilityID`. */
export const CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID = "confidential-workflows@1.0.0-alpha";

/**
 * How each relay request is bound to the attestation (docs/attestation.md §4):
 *  - "session" (mode b, default): one document per session carrying the session keys in
 *    `public_key`, plus a per-request ed25519 session signature over the binding hash. Each node
 *    verifies the document once (cached) and then one ed25519 signature per request.
 *  - "user-data" (mode a, upstream's): a fresh document per request with `user_data` = the binding
 *    hash. One producer call per request here, and a new document for every node to verify.
 */
export type BindingMode = "session" | "user-data";

export type ClientProtocolOption = "grpc" | "connect" | "grpc-web";

export interface ConfidentialWorkflowsOptionsInput {
  /** The gateway the enclave sends relay requests to. Required unless a client is injected. */
  readonly gateway?: {
    /** e.g. "http://127.0.0.1:7400". */
    readonly url: string;
    /** Default "grpc" (HTTP/2, one multiplexed connection). */
    readonly protocol?: ClientProtocolOption;
  };
  /**
   * The relay DON the enclave verifies answers against: members' ed25519 public keys (32 bytes, or
   * 64 hex characters) and F. Sent as `enclave_config` in every relay request; each node refuses a
   * config that is not exactly its own.
   */
  readonly don: { readonly signers: readonly (Uint8Array | string)[]; readonly f: number };
  readonly binary?: {
    /** Largest binary accepted, bytes. Default 32 MiB. */
    readonly maxBytes?: number;
    /** Whole fetch (connect, headers, body), ms. Default 10 000. */
    readonly fetchTimeoutMs?: number;
    /**
     * Absolute directories `file://` binaries must lie in (after resolving `..`). Absent: any path.
     * Set it wherever the enclave host shares a filesystem with anything it should not read.
     */
    readonly fileRoots?: readonly string[];
  };
  /** Execute calls in progress at once (fetching, fetching secrets, running); beyond: "enclave at capacity". Default 16. */
  readonly maxConcurrentExecutions?: number;
  /** Wall-clock limit of one guest execution, host calls included, ms. Default 30 000. */
  readonly executionTimeoutMs?: number;
  /**
   * The WASM runtime's own limits (src/wasm/runtime-config.ts: maxWorkers, memoryLimitBytes,
   * workerHeapLimitMb, maxResultBytes, log rate limits, cache bounds). Validated by the runtime.
   * `maxQueued` is set from maxConcurrentExecutions and `defaultTimeoutMs` from executionTimeoutMs.
   */
  readonly runtime?: Omit<WasmRuntimeOptions, "maxQueued" | "defaultTimeoutMs" | "clock">;
  readonly relay?: {
    /** One relay call (GetSecrets or ExecuteCapability) through the gateway, ms. Default 15 000. */
    readonly requestTimeoutMs?: number;
  };
  readonly attestation?: {
    /** Default "session" (mode b). */
    readonly bindingMode?: BindingMode;
    /** Make a new session document this often, ms. Default 60 000. */
    readonly refreshIntervalMs?: number;
    /** The relay nodes' maxAttestationAgeMs; refreshIntervalMs must be at most half of it. Default 300 000. */
    readonly nodeMaxDocumentAgeMs?: number;
    /** The dev attestation authority from `ccr init` / `ccr up` (PEM). Absent: an ephemeral one is generated at start. */
    readonly devAuthority?: { readonly certificatePem: string; readonly privateKeyPem: string };
    /** The document's module_id, 1–64 characters. Default "ccr-enclave-<16 random hex>". */
    readonly moduleId?: string;
    /** PCR0/1/2 (48 bytes each, hex or bytes). Absent: computed from the enclave build's sources at start. */
    readonly measurements?: { readonly pcr0: string | Uint8Array; readonly pcr1: string | Uint8Array; readonly pcr2: string | Uint8Array };
  };
}

export interface ConfidentialWorkflowsOptions {
  readonly gateway: { readonly url: string; readonly protocol: ClientProtocolOption } | undefined;
  /** Signers sorted bytewise (the config is a set). */
  readonly don: { readonly signers: readonly Uint8Array[]; readonly f: number };
  readonly binary: { readonly maxBytes: number; readonly fetchTimeoutMs: number; readonly fileRoots: readonly string[] | undefined };
  readonly maxConcurrentExecutions: number;
  readonly executionTimeoutMs: number;
  readonly runtime: WasmRuntimeOptions;
  readonly relay: { readonly requestTimeoutMs: number };
  readonly attestation: {
    readonly bindingMode: BindingMode;
    readonly refreshIntervalMs: number;
    readonly nodeMaxDocumentAgeMs: number;
    readonly devAuthority: { readonly certificatePem: string; readonly privateKeyPem: string } | undefined;
    readonly moduleId: string | undefined;
    readonly measurements: { readonly pcr0: Uint8Array; readonly pcr1: Uint8Array; readonly pcr2: Uint8Array } | undefined;
  };
}

export const CONFIDENTIAL_WORKFLOWS_DEFAULTS = Object.freeze({
  binaryMaxBytes: 32 * 1024 * 1024,
  binaryFetchTimeoutMs: 10_000,
  maxConcurrentExecutions: 16,
  executionTimeoutMs: 30_000,
  relayRequestTimeoutMs: 15_000,
  bindingMode: "session" as BindingMode,
  refreshIntervalMs: 60_000,
  nodeMaxDocumentAgeMs: DEFAULT_MAX_ATTESTATION_AGE_MS,
});

function fail(key: string, expected: string): never {
  throw ccrError(`confidential-workflows options: ${key} ${expected}`, Code.InvalidArgument);
}

function integer(key: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(key, `must be an integer from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

function fixedBytes(key: string, value: unknown, length: number, what: string): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.length !== length) fail(key, `must be ${length} bytes (${what}), got ${value.length}`);
    return Uint8Array.from(value);
  }
  if (typeof value === "string") {
    const text = value.trim().replace(/^0x/i, "");
    if (text.length !== 2 * length || !/^[0-9a-fA-F]*$/.test(text)) fail(key, `must be ${length} bytes (${what}) as ${2 * length} hex characters`);
    return new Uint8Array(Buffer.from(text, "hex"));
  }
  fail(key, `must be ${length} bytes (${what}), as bytes or hex`);
}

function resolveGateway(input: ConfidentialWorkflowsOptionsInput["gateway"]): ConfidentialWorkflowsOptions["gateway"] {
  if (input === undefined) return undefined;
  if (typeof input !== "object" || input === null) fail("gateway", "must be {url, protocol?}");
  let url: URL;
  try {
    url = new URL(input.url);
  } catch {
    fail("gateway.url", `must be an http(s) URL, got ${JSON.stringify(input.url)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail("gateway.url", `must be an http(s) URL, got ${JSON.stringify(input.url)}`);
  const protocol = input.protocol ?? "grpc";
  if (protocol !== "grpc" && protocol !== "connect" && protocol !== "grpc-web") fail("gateway.protocol", 'must be "grpc", "connect" or "grpc-web"');
  return Object.freeze({ url: input.url.replace(/\/+$/, ""), protocol });
}

function resolveDon(input: ConfidentialWorkflowsOptionsInput["don"]): ConfidentialWorkflowsOptions["don"] {
  if (typeof input !== "object" || input === null) fail("don", "is required ({signers, f})");
  if (!Array.isArray(input.signers) || input.signers.length === 0) fail("don.signers", "must list the relay DON members' ed25519 public keys");
  const f = integer("don.f", input.f, Number.NaN, 0, 85);
  if (Number.isNaN(f)) fail("don.f", "is required");
  const signers = input.signers.map((s, i) => fixedBytes(`don.signers[${i}]`, s, 32, "an ed25519 public key"));
  signers.sort((a, b) => Buffer.compare(a, b));
  for (let i = 1; i < signers.length; i++) {
    if (Buffer.compare(signers[i - 1]!, signers[i]!) === 0) fail("don.signers", `lists ${Buffer.from(signers[i]!).toString("hex")} twice`);
  }
  // The same rule the relay nodes apply to their own config (domain/authorization/don-config.ts).
  if (signers.length < 3 * f + 1) fail("don", `with f=${f} needs at least ${3 * f + 1} signers, got ${signers.length}`);
  return Object.freeze({ signers: Object.freeze(signers), f });
}

function resolveFileRoots(value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) fail("binary.fileRoots", "must be a non-empty list of absolute directories (or absent)");
  return Object.freeze(
    value.map((root, i) => {
      if (typeof root !== "string" || !root.startsWith("/")) fail(`binary.fileRoots[${i}]`, "must be an absolute path");
      return root.length > 1 ? root.replace(/\/+$/, "") : root;
    }),
  );
}

function resolveAttestation(input: ConfidentialWorkflowsOptionsInput["attestation"]): ConfidentialWorkflowsOptions["attestation"] {
  const a = input ?? {};
  const bindingMode = a.bindingMode ?? CONFIDENTIAL_WORKFLOWS_DEFAULTS.bindingMode;
  if (bindingMode !== "session" && bindingMode !== "user-data") fail("attestation.bindingMode", 'must be "session" (mode b) or "user-data" (mode a)');
  const nodeMaxDocumentAgeMs = integer(
    "attestation.nodeMaxDocumentAgeMs",
    a.nodeMaxDocumentAgeMs,
    CONFIDENTIAL_WORKFLOWS_DEFAULTS.nodeMaxDocumentAgeMs,
    2_000,
    24 * 3_600_000,
  );
  const refreshIntervalMs = integer(
    "attestation.refreshIntervalMs",
    a.refreshIntervalMs,
    Math.min(CONFIDENTIAL_WORKFLOWS_DEFAULTS.refreshIntervalMs, Math.floor(nodeMaxDocumentAgeMs / 2)),
    1_000,
    24 * 3_600_000,
  );
  // At most half the nodes' window: a document is then usable for at least as long again after the
  // host stops using it, which covers requests in flight and clock skew between host and nodes.
  if (refreshIntervalMs > nodeMaxDocumentAgeMs / 2) {
    fail("attestation.refreshIntervalMs", `must be at most half of attestation.nodeMaxDocumentAgeMs (${nodeMaxDocumentAgeMs} ms)`);
  }
  let devAuthority: ConfidentialWorkflowsOptions["attestation"]["devAuthority"];
  if (a.devAuthority !== undefined) {
    const d = a.devAuthority;
    if (typeof d !== "object" || d === null || typeof d.certificatePem !== "string" || typeof d.privateKeyPem !== "string") {
      fail("attestation.devAuthority", "must be {certificatePem, privateKeyPem} (PEM text from `ccr init`)");
    }
    if (!d.certificatePem.includes("BEGIN CERTIFICATE")) fail("attestation.devAuthority.certificatePem", "must be a PEM certificate");
    if (!d.privateKeyPem.includes("PRIVATE KEY")) fail("attestation.devAuthority.privateKeyPem", "must be a PEM private key");
    devAuthority = Object.freeze({ certificatePem: d.certificatePem, privateKeyPem: d.privateKeyPem });
  }
  if (a.moduleId !== undefined && (typeof a.moduleId !== "string" || !/^[\x21-\x7e]{1,64}$/.test(a.moduleId))) {
    fail("attestation.moduleId", "must be 1–64 printable ASCII characters without spaces");
  }
  let measurements: ConfidentialWorkflowsOptions["attestation"]["measurements"];
  if (a.measurements !== undefined) {
    const m = a.measurements;
    if (typeof m !== "object" || m === null) fail("attestation.measurements", "must be {pcr0, pcr1, pcr2}");
    measurements = Object.freeze({
      pcr0: fixedBytes("attestation.measurements.pcr0", m.pcr0, 48, "SHA-384"),
      pcr1: fixedBytes("attestation.measurements.pcr1", m.pcr1, 48, "SHA-384"),
      pcr2: fixedBytes("attestation.measurements.pcr2", m.pcr2, 48, "SHA-384"),
    });
  }
  return Object.freeze({ bindingMode, refreshIntervalMs, nodeMaxDocumentAgeMs, devAuthority, moduleId: a.moduleId, measurements });
}

export function resolveConfidentialWorkflowsOptions(input: ConfidentialWorkflowsOptionsInput): ConfidentialWorkflowsOptions {
  if (typeof input !== "object" || input === null) fail("", "must be an object");
  const binary = input.binary ?? {};
  const maxConcurrentExecutions = integer(
    "maxConcurrentExecutions",
    input.maxConcurrentExecutions,
    CONFIDENTIAL_WORKFLOWS_DEFAULTS.maxConcurrentExecutions,
    1,
    100_000,
  );
  const executionTimeoutMs = integer("executionTimeoutMs", input.executionTimeoutMs, CONFIDENTIAL_WORKFLOWS_DEFAULTS.executionTimeoutMs, 1, 24 * 3_600_000);
  const runtime = input.runtime ?? {};
  if (typeof runtime !== "object" || runtime === null) fail("runtime", "must be an object of WASM runtime options");
  for (const key of ["maxQueued", "defaultTimeoutMs", "clock"]) {
    if (key in runtime) fail(`runtime.${key}`, "is set by the enclave host (see maxConcurrentExecutions and executionTimeoutMs)");
  }
  return Object.freeze({
    gateway: resolveGateway(input.gateway),
    don: resolveDon(input.don),
    binary: Object.freeze({
      maxBytes: integer("binary.maxBytes", binary.maxBytes, CONFIDENTIAL_WORKFLOWS_DEFAULTS.binaryMaxBytes, 8, 1024 * 1024 * 1024),
      fetchTimeoutMs: integer("binary.fetchTimeoutMs", binary.fetchTimeoutMs, CONFIDENTIAL_WORKFLOWS_DEFAULTS.binaryFetchTimeoutMs, 1, 10 * 60_000),
      fileRoots: resolveFileRoots(binary.fileRoots),
    }),
    maxConcurrentExecutions,
    executionTimeoutMs,
    // Every admitted execution may wait for a worker: the runtime's queue never refuses one the
    // host admitted (its own at-capacity answer still maps to "enclave at capacity").
    runtime: Object.freeze({ ...runtime, maxQueued: maxConcurrentExecutions, defaultTimeoutMs: executionTimeoutMs }),
    relay: Object.freeze({
      requestTimeoutMs: integer(
        "relay.requestTimeoutMs",
        input.relay?.requestTimeoutMs,
        CONFIDENTIAL_WORKFLOWS_DEFAULTS.relayRequestTimeoutMs,
        1,
        10 * 60_000,
      ),
    }),
    attestation: resolveAttestation(input.attestation),
  });
}
