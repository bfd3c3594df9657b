/**
 * The enclave host: `ccr.v1.ConfidentialWorkflows`, the capability `confidential-workflows@1.0.0-alpha`
 * (issue 6; reference chainlink-workflows.md §9; docs/enclave.md).
 *
 *   const host = createEnclaveHost({ options: resolveConfidentialWorkflowsOptions(cfg), logger });
 *   const identity = await host.start();     // keys, measurements, first attestation document
 *   createServer({ services: [implement(host.service, host.implementation)], … });
 *   …
 *   await host.close();
 *
 * Execute, in order (each step refuses before the next costs anything):
 *   1. admission: at most maxConcurrentExecutions in progress, else ResourceExhausted "enclave at capacity";
 *   2. validation (InvalidArgument, upstream messages);
 *   3. the binary: from the guest cache by hash, or fetched (cap, timeout; Unavailable when
 *      unreachable), its SHA-256 checked (FailedPrecondition "binary hash mismatch: expected %x, got %x",
 *      nothing runs), compiled;
 *   4. vault_don_secrets: one relay round trip, certificate checked, boxes opened with the enclave key;
 *   5. the guest runs in the runtime's worker pool (memory and wall-clock limits) with host calls that
 *      go through the gateway (execution-host.ts); a trap is an ExecutionResult error, the time limit
 *      DeadlineExceeded.
 * The answer carries the ExecutionResult and the receipts of every certified relay answer steps 4
 * and 5 used (relay-receipts.ts), in call order, at most MAX_RELAY_RECEIPTS of them.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import type { Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  ConfidentialWorkflows,
  ConfidentialWorkflowResponseSchema,
  Gateway,
  InfoResponseSchema,
  sdk,
  type ConfidentialWorkflowRequest,
  type ConfidentialWorkflowResponse,
  type InfoRequest,
  type InfoResponse,
} from "../../contract/index.js";
import {
  createDevRootAuthority,
  DevAttestationProducer,
  loadDevAuthority,
  type AttestationProducer,
  type EnclaveMeasurements,
} from "../../domain/attestation/index.js";
import { systemClock, type Clock, type RandomBytes } from "../../domain/clock.js";
import { Code, ConnectError, ccrError } from "../../domain/errors.js";
import { createServiceClient, Http2SessionPool } from "../../transport/clients.js";
import { callLoggerKey } from "../../transport/logger.js";
import { WasmRuntime, type WasmRuntimeStats } from "../../wasm/wasm-runtime.js";
import { createBinarySource, type BinarySource } from "./binary-source.js";
import { EnclaveAttestation } from "./enclave-attestation.js";
import { enclaveKeysFrom, generateEnclaveKeys, type EnclaveKeyMaterial, type EnclaveKeys } from "./enclave-keys.js";
import { ExecutionHost, fetchSecretsInto } from "./execution-host.js";
import { toExecutionResult, validateExecuteRequest } from "./execution-request.js";
import { GuestLoader, type GuestLoadOutcome } from "./guest-loader.js";
import { computeEnclaveMeasurements } from "./measurements.js";
import { createEnclaveMetrics, type EnclaveMetrics } from "./metrics.js";
import { CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID, type ConfidentialWorkflowsOptions } from "./options.js";
import { RelayClient, type SecretItem } from "./relay-client.js";
import { MAX_RELAY_RECEIPTS, RelayReceipts } from "./relay-receipts.js";

export {
  CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID,
  CONFIDENTIAL_WORKFLOWS_DEFAULTS,
  resolveConfidentialWorkflowsOptions,
  type BindingMode,
  type ConfidentialWorkflowsOptions,
  type ConfidentialWorkflowsOptionsInput,
} from "./options.js";
export { computeEnclaveMeasurements, MEASURED_SOURCES } from "./measurements.js";
export { enclaveKeysFrom, generateEnclaveKeys, type EnclaveKeyMaterial, type EnclaveKeys } from "./enclave-keys.js";
export { createBinarySource, type BinaryFetchOutcome, type BinarySource } from "./binary-source.js";
export { MAX_RELAY_RECEIPTS } from "./relay-receipts.js";

/** Largest `InfoRequest.nonce` (confidential_workflows.proto). */
export const MAX_INFO_NONCE_BYTES = 64;

export interface EnclaveHostDeps {
  readonly options: ConfidentialWorkflowsOptions;
  readonly logger: Logger;
  /** Where the metrics go; or call `registerMetricsOn(server.metrics.registry)` later. */
  readonly registry?: Registry;
  readonly clock?: Clock;
  readonly randomBytes?: RandomBytes;
  /** The gateway client; default a gRPC client to `options.gateway.url` (closed by `close`). */
  readonly gateway?: Client<typeof Gateway>;
  /**
   * Where attestation documents come from. Default: the dev producer, signing with a leaf of
   * `options.attestation.devAuthority`, or of an ephemeral authority generated at start. A real NSM
   * backend implements the same interface (docs/enclave.md, "Production").
   */
  readonly producer?: AttestationProducer;
  /** Pinned key material (tests); default generated from `randomBytes` when the host is created. */
  readonly keys?: EnclaveKeyMaterial;
  /** Where binaries come from; default http(s)/file per `options.binary`. */
  readonly binarySource?: BinarySource;
  /** A runtime to share; default one of the host's own (closed by `close`; a shared one is not). */
  readonly runtime?: WasmRuntime;
  /** The checkout whose sources are measured (PCRs) when no measurements are configured. */
  readonly sourceRoot?: string;
}

/** Who this enclave is, once started. Public data only. */
export interface EnclaveIdentity {
  readonly capabilityId: string;
  readonly encryptionPublicKey: Uint8Array;
  readonly sessionPublicKey: Uint8Array;
  readonly measurements: EnclaveMeasurements;
  readonly moduleId: string;
  readonly producer: "dev" | "nsm";
  /** The dev root certificate relay nodes must trust (dev mode only); undefined with an injected producer. */
  readonly devRootCertificateDer: Uint8Array | undefined;
  readonly devRootCertificatePem: string | undefined;
}

export interface EnclaveHostStats {
  readonly inFlight: number;
  /** Guests handed to the runtime (executions that got past the binary and secret steps). */
  readonly guestRuns: number;
  /** Binaries fetched from their URL (the rest came from the guest cache). */
  readonly binaryFetches: number;
  readonly cachedGuests: number;
  readonly attestationDocuments: Readonly<Record<"session" | "per_request" | "info", number>>;
  readonly runtime: WasmRuntimeStats;
}

export interface EnclaveHost {
  readonly service: typeof ConfidentialWorkflows;
  readonly implementation: ServiceImpl<typeof ConfidentialWorkflows>;
  /** Boots the enclave (idempotent): measurements, producer, first session document, refresh timer, workers. */
  start(): Promise<EnclaveIdentity>;
  /** Stops the refresh timer, the workers (running executions end as Canceled) and the clients. */
  close(): Promise<void>;
  /** The identity once started. */
  identity(): EnclaveIdentity | undefined;
  stats(): EnclaveHostStats;
  registerMetricsOn(registry: Registry): void;
}

const defaultRandomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

interface Booted {
  readonly identity: EnclaveIdentity;
  readonly attestation: EnclaveAttestation;
  readonly relay: RelayClient;
  readonly timer: NodeJS.Timeout | undefined;
}

/** GuestLoadOutcome failures → the RPC error and a metric label. */
function loadFailure(outcome: Exclude<GuestLoadOutcome, { kind: "ok" }>): { error: ConnectError; label: string } {
  switch (outcome.kind) {
    case "unreachable":
      return { error: ccrError(outcome.message, Code.Unavailable), label: "unreachable" };
    case "forbidden":
      return { error: ccrError(outcome.message, Code.PermissionDenied), label: "forbidden" };
    case "too-large":
      return { error: ccrError(`binary exceeds the enclave's size limit of ${outcome.maxBytes} bytes`, Code.FailedPrecondition), label: "too_large" };
    case "hash-mismatch":
      // Upstream BinaryFetcher's message ("%x" of both hashes).
      return { error: ccrError(`binary hash mismatch: expected ${outcome.expectedHex}, got ${outcome.actualHex}`, Code.FailedPrecondition), label: "hash_mismatch" };
    case "invalid-module":
      return { error: ccrError(`invalid workflow binary: ${outcome.message}`, Code.FailedPrecondition), label: "invalid_module" };
  }
}

export function createEnclaveHost(deps: EnclaveHostDeps): EnclaveHost {
  const { options } = deps;
  const clock = deps.clock ?? systemClock;
  const randomBytes = deps.randomBytes ?? defaultRandomBytes;
  const logger = deps.logger.child({ svc: "confidential-workflows" });
  const metrics: EnclaveMetrics = createEnclaveMetrics(deps.registry);

  // At boot: the enclave's own keys (never persisted; a restart is a new enclave identity).
  const keys: EnclaveKeys = deps.keys === undefined ? generateEnclaveKeys(randomBytes) : enclaveKeysFrom(deps.keys);

  let sessions: Http2SessionPool | undefined;
  let gateway = deps.gateway;
  if (gateway === undefined) {
    if (options.gateway === undefined) {
      throw ccrError("confidential-workflows options: gateway.url is required when no gateway client is injected", Code.InvalidArgument);
    }
    sessions = new Http2SessionPool();
    gateway = createServiceClient(Gateway, { baseUrl: options.gateway.url, protocol: options.gateway.protocol, sessions });
  }
  const gatewayClient = gateway;

  const ownsRuntime = deps.runtime === undefined;
  const runtime = deps.runtime ?? new WasmRuntime({ ...options.runtime, clock });
  const loader = new GuestLoader({
    runtime,
    source: deps.binarySource ?? createBinarySource(options.binary),
    maxModules: runtime.config.cache.maxModules,
    maxBytes: runtime.config.cache.maxBytes,
  });

  let booting: Promise<EnclaveIdentity> | undefined;
  let booted: Booted | undefined;
  let closed = false;
  let inFlight = 0;
  let guestRuns = 0;

  async function boot(): Promise<EnclaveIdentity> {
    let producer = deps.producer;
    let devRoot: { der: Uint8Array; pem: string } | undefined;
    if (producer === undefined) {
      const measurements = options.attestation.measurements ?? (await computeEnclaveMeasurements(deps.sourceRoot));
      const a = options.attestation;
      const authority =
        a.devAuthority === undefined
          ? createDevRootAuthority({ nowMs: clock.nowMs(), randomBytes, commonName: "ccr ephemeral enclave dev root (not for production)" })
          : loadDevAuthority(a.devAuthority);
      producer = DevAttestationProducer.fromAuthority({
        authority,
        moduleId: a.moduleId ?? `ccr-enclave-${Buffer.from(randomBytes(8)).toString("hex")}`,
        measurements,
        clock,
        randomBytes,
      });
      devRoot = { der: authority.certificateDer, pem: authority.certificatePem };
    }
    const attestation = new EnclaveAttestation({
      producer,
      keys,
      clock,
      mode: options.attestation.bindingMode,
      refreshIntervalMs: options.attestation.refreshIntervalMs,
      onDocument: (purpose) => metrics.attestationDocuments.inc({ purpose }),
    });
    let timer: NodeJS.Timeout | undefined;
    if (attestation.mode === "session") {
      await attestation.refresh();
      // Renew ahead of use so no relay request waits for the producer (an NSM call in production).
      timer = setInterval(() => {
        attestation.refresh().catch((err: unknown) => logger.error({ err }, "enclave: attestation document refresh failed"));
      }, options.attestation.refreshIntervalMs);
      timer.unref();
    }
    await runtime.warmUp();
    const relay = new RelayClient({
      gateway: gatewayClient,
      don: options.don,
      keys,
      attestation,
      clock,
      randomBytes,
      requestTimeoutMs: options.relay.requestTimeoutMs,
      observe: (method, outcome) => metrics.relayCalls.inc({ method, outcome }),
    });
    const measurements = producer.measurements();
    const identity: EnclaveIdentity = Object.freeze({
      capabilityId: CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID,
      encryptionPublicKey: keys.encryptionPublicKey,
      sessionPublicKey: keys.sessionPublicKey,
      measurements,
      moduleId: producer.moduleId,
      producer: producer.kind,
      devRootCertificateDer: devRoot?.der,
      devRootCertificatePem: devRoot?.pem,
    });
    metrics.devAttestation.set(producer.kind === "dev" ? 1 : 0);
    if (closed) {
      if (timer !== undefined) clearInterval(timer);
      throw ccrError("enclave host closed during start", Code.Canceled);
    }
    booted = { identity, attestation, relay, timer };
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    logger.info(
      {
        moduleId: identity.moduleId,
        encryptionPublicKey: hex(identity.encryptionPublicKey),
        sessionPublicKey: hex(identity.sessionPublicKey),
        pcr0: hex(measurements.pcr0),
        pcr1: hex(measurements.pcr1),
        pcr2: hex(measurements.pcr2),
        bindingMode: attestation.mode,
      },
      "enclave host started",
    );
    if (producer.kind === "dev") {
      logger.warn({ moduleId: identity.moduleId }, "enclave: DEV attestation — documents are signed by a dev authority, not an NSM; never use in production");
    }
    return identity;
  }

  function requireBooted(): Booted {
    if (booted === undefined || closed) throw ccrError(closed ? "enclave host is shut down" : "enclave host is not started", Code.Unavailable);
    return booted;
  }

  async function execute(req: ConfidentialWorkflowRequest, ctx: HandlerContext): Promise<ConfidentialWorkflowResponse> {
    const b = requireBooted();
    // Upstream's enclave app checks its concurrency limiter first (429 "enclave at capacity").
    if (inFlight >= options.maxConcurrentExecutions) {
      metrics.executions.inc({ outcome: "ResourceExhausted" });
      throw ccrError("enclave at capacity", Code.ResourceExhausted);
    }
    inFlight++;
    metrics.inFlight.set(inFlight);
    const end = metrics.executionDuration.startTimer();
    let outcomeLabel = "Internal";
    try {
      const valid = validateExecuteRequest(req);
      // The call's own logger (rpc and request id bound) when the ccr transport serves the call.
      const callLog = ctx.values.get(callLoggerKey);
      const log = (callLog === callLoggerKey.defaultValue ? logger : callLog).child({
        workflowId: valid.identity.workflowId,
        executionId: valid.identity.executionId,
      });

      const loaded = await loader.load(valid.binaryUrl, valid.binaryHash);
      if (loaded.kind !== "ok") {
        const failure = loadFailure(loaded);
        metrics.binaryLoads.inc({ result: failure.label });
        throw failure.error;
      }
      metrics.binaryLoads.inc({ result: loaded.source });

      // vault_don_secrets: one relay round trip before the guest starts (none in the subscribe phase,
      // which has no execution id for a relay node to authorize).
      const secrets = new Map<string, SecretItem>();
      const receipts = new RelayReceipts();
      if (valid.secrets.length > 0 && valid.identity.executionId !== "") {
        await fetchSecretsInto(b.relay, valid.identity, valid.secrets, secrets, receipts, ctx.signal);
      }

      const host = new ExecutionHost({ relay: b.relay, identity: valid.identity, secrets, receipts, logger: log, clock });
      guestRuns++;
      const outcome = await runtime.run({
        module: loaded.guest,
        request: valid.guestRequest,
        host,
        limits: { timeoutMs: options.executionTimeoutMs, maxResultBytes: valid.maxResultBytes },
        signal: ctx.signal,
      });
      secrets.clear();
      outcomeLabel = outcome.kind.replace("-", "_");
      log.debug({ outcome: outcome.kind, capabilityCalls: host.capabilityCalls, binary: loaded.source }, "execution finished");
      if (receipts.dropped > 0) {
        metrics.relayReceiptsDropped.inc(receipts.dropped);
        log.warn({ kept: MAX_RELAY_RECEIPTS, dropped: receipts.dropped }, "execution made more relay calls than receipts are returned for; the later receipts were dropped");
      }
      const result = toExecutionResult(outcome);
      return create(ConfidentialWorkflowResponseSchema, { executionResult: toBinary(sdk.ExecutionResultSchema, result), relayReceipts: receipts.list() });
    } catch (error) {
      const ce = error instanceof ConnectError ? error : ccrError("internal error", Code.Internal, error);
      outcomeLabel = Code[ce.code];
      throw ce;
    } finally {
      inFlight--;
      metrics.inFlight.set(inFlight);
      metrics.executions.inc({ outcome: outcomeLabel });
      end({ outcome: outcomeLabel });
    }
  }

  async function info(req: InfoRequest): Promise<InfoResponse> {
    const b = requireBooted();
    if (req.nonce.length > MAX_INFO_NONCE_BYTES) throw ccrError(`nonce must be at most ${MAX_INFO_NONCE_BYTES} bytes`, Code.InvalidArgument);
    let document: Uint8Array;
    try {
      document = await b.attestation.forInfo(req.nonce.length === 0 ? undefined : req.nonce);
    } catch (error) {
      throw ccrError("could not produce an attestation document", Code.Internal, error);
    }
    const m = b.identity.measurements;
    return create(InfoResponseSchema, {
      capabilityId: CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID,
      encryptionPublicKey: keys.encryptionPublicKey,
      sessionPublicKey: keys.sessionPublicKey,
      pcrs: [m.pcr0, m.pcr1, m.pcr2],
      attestationDocument: document,
    });
  }

  const implementation: ServiceImpl<typeof ConfidentialWorkflows> = { execute, info };

  return Object.freeze({
    service: ConfidentialWorkflows,
    implementation,
    start(): Promise<EnclaveIdentity> {
      if (closed) return Promise.reject(ccrError("enclave host is shut down", Code.FailedPrecondition));
      booting ??= boot().catch((error: unknown) => {
        booting = undefined;
        throw error;
      });
      return booting;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (booted?.timer !== undefined) clearInterval(booted.timer);
      if (ownsRuntime) await runtime.close();
      loader.clear();
      sessions?.closeAll();
    },
    identity: () => booted?.identity,
    stats: (): EnclaveHostStats => ({
      inFlight,
      guestRuns,
      binaryFetches: loader.fetches,
      cachedGuests: loader.size,
      attestationDocuments: { ...(booted?.attestation.produced ?? { session: 0, per_request: 0, info: 0 }) },
      runtime: runtime.stats(),
    }),
    registerMetricsOn: (registry: Registry) => metrics.registerOn(registry),
  });
}
