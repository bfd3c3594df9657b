/**
 * The Capability service (issue 5; contract proto/ccr/v1/capability.proto; docs/vault.md,
 * "Capability service"): a registry of executors addressed by `name@semver`, with built-ins
 * `echo@1.0.0` and `http-fetch@1.0.0`, and one memo so every relay node asking for the same call gets
 * the same bytes and the capability runs once.
 *
 *   const capability = createCapabilityService({ options: resolveCapabilityOptions(cfg), logger });
 *   const server = createServer({ services: [implement(Capability, capability.implementation)], logger });
 *   capability.registerMetricsOn(server.metrics.registry);
 *
 * The memo key is (workflow_id, execution_id, reference_id, capability_id) — upstream's relay cache
 * key `call-capability/<wf>/<exec>/<ref>/<cap>` — plus the method and SHA-256 of the payload. The
 * extra two keep a faulty relay node from poisoning the entry: a call with another payload under the
 * same ids is a different call, with its own entry, and cannot change what honest nodes receive.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import {
  Capability,
  CanonicalWriter,
  CapabilityExecuteResponseSchema,
  type CapabilityExecuteRequest,
  type CapabilityExecuteResponse,
} from "../../contract/index.js";
import { systemClock, type Clock } from "../../domain/clock.js";
import { parseOwner } from "../../domain/ethereum/address.js";
import { Code, ConnectError, ccrError } from "../../domain/errors.js";
import { Memo } from "../../domain/memo/memo.js";
import { leanUnary, type LeanUnaryRoute } from "../../transport/lean-unary.js";
import { callLoggerKey } from "../../transport/logger.js";
import { createEchoCapability } from "./echo.js";
import { createHttpFetchCapability } from "./http-fetch.js";
import { createCapabilityMetrics, type CapabilityMetrics } from "./metrics.js";
import type { CapabilityOptions } from "./options.js";
import { CapabilityRegistry, isCapabilityId, type AnyCapabilityExecutor, type CapabilityExecutor } from "./registry.js";

export { resolveCapabilityOptions, type CapabilityOptions, type CapabilityOptionsInput } from "./options.js";
export { CapabilityRegistry, type AnyCapabilityExecutor, type CapabilityExecutor, type CapabilityOutcome, type CapabilityCall } from "./registry.js";
export { ECHO_ID } from "./echo.js";
export { HTTP_FETCH_ID } from "./http-fetch.js";

export interface CapabilityServiceDeps {
  readonly options: CapabilityOptions;
  readonly logger: Logger;
  /**
   * Where the service's metrics go (once per service instance). Optional because the server's
   * registry exists only after `createServer`, which takes this service: then call
   * `registerMetricsOn(server.metrics.registry)` instead.
   */
  readonly registry?: Registry;
  readonly clock?: Clock;
  /** Executors besides the built-ins (ids must not clash with them). */
  readonly extraCapabilities?: ReadonlyArray<AnyCapabilityExecutor>;
}

export interface CapabilityService {
  readonly service: typeof Capability;
  readonly implementation: ServiceImpl<typeof Capability>;
  /**
   * `Execute` for the transport's lean gRPC path (`createServer({ leanUnary })`,
   * src/transport/lean-unary.ts): the same answers as `implementation.execute`, without
   * connect-node's per-call machinery. Every relayed call costs N Execute calls (one per relay
   * node), so this is the service's hot path.
   */
  readonly leanRoutes: readonly LeanUnaryRoute[];
  readonly capabilities: CapabilityRegistry;
  /** Adds the service's metrics to `registry` (e.g. `server.metrics.registry`). */
  registerMetricsOn(registry: Registry): void;
  /** Aborts running executions (their callers get a capability error); for shutdown. */
  close(): void;
}

const DEFAULT_METHOD = "Execute";

/** The memo key (hex SHA-256 of the canonical layout above). */
export function capabilityMemoKey(req: CapabilityExecuteRequest, method: string): string {
  const md = req.metadata;
  const layout = new CanonicalWriter("ccr.v1.capability.memo")
    .str(md?.workflowId ?? "")
    .str(md?.executionId ?? "")
    .str(md?.referenceId ?? "")
    .str(req.capabilityId)
    .str(method)
    .raw(createHash("sha256").update(req.payload).digest())
    .finish();
  return createHash("sha256").update(layout).digest("hex");
}

function invalid(message: string): ConnectError {
  return ccrError(message, Code.InvalidArgument);
}

export function createCapabilityService(deps: CapabilityServiceDeps): CapabilityService {
  const { options } = deps;
  const clock = deps.clock ?? systemClock;
  const baseLogger = deps.logger.child({ svc: "capability" });
  const metrics: CapabilityMetrics = createCapabilityMetrics(deps.registry);
  const capabilities = new CapabilityRegistry([
    createEchoCapability(),
    createHttpFetchCapability(options.httpFetch),
    ...(deps.extraCapabilities ?? []),
  ]);
  const memo = new Memo<CapabilityExecuteResponse>({
    ttlMs: options.memo.ttlMs,
    maxEntries: options.memo.maxEntries,
    maxWeight: options.memo.maxBytes,
    weigh: (r) => 64 + r.payload.length + r.error.length,
    clock,
  });
  const shutdown = new AbortController();

  function loggerFor(hctx: HandlerContext | undefined): Logger {
    const callLog = hctx?.values.get(callLoggerKey);
    return callLog === undefined || callLog === callLoggerKey.defaultValue ? baseLogger : callLog;
  }

  /** Validation → InvalidArgument / NotFound; returns the executor, method and parsed input. */
  function admit(req: CapabilityExecuteRequest): { executor: CapabilityExecutor; method: string; input: unknown } {
    if (req.capabilityId === "") throw invalid('capability_id is required, e.g. "echo@1.0.0"');
    if (!isCapabilityId(req.capabilityId)) throw invalid(`capability_id "${req.capabilityId.slice(0, 80)}" must be name@semver, e.g. "echo@1.0.0"`);
    const executor = capabilities.get(req.capabilityId);
    if (executor === undefined) throw ccrError(`capability ${req.capabilityId} is not registered; List shows the registered capabilities`, Code.NotFound);
    const method = req.method === "" ? DEFAULT_METHOD : req.method;
    const methods = executor.methods ?? [DEFAULT_METHOD];
    if (!methods.includes(method)) {
      throw invalid(`capability ${executor.id} has no method "${method.slice(0, 40)}" (methods: ${methods.join(", ")})`);
    }
    const md = req.metadata;
    if (md === undefined) throw invalid("metadata is required: {workflow_id, owner, execution_id, reference_id}");
    for (const [field, value] of [
      ["workflow_id", md.workflowId],
      ["execution_id", md.executionId],
      ["reference_id", md.referenceId],
    ] as const) {
      if (value === "") throw invalid(`metadata.${field} is required (it is part of the memo key)`);
    }
    const owner = parseOwner(md.owner);
    if (owner.kind === "invalid") throw invalid(`metadata.owner: ${owner.reason}`);
    if (req.payload.length > options.maxPayloadBytes) {
      throw invalid(`payload must be at most ${options.maxPayloadBytes} bytes, got ${req.payload.length}`);
    }
    const parsed = executor.parse(req.payload, method);
    if (parsed.kind === "invalid") throw invalid(parsed.reason);
    return { executor, method, input: parsed.input };
  }

  async function run(
    log: Logger,
    req: CapabilityExecuteRequest,
    executor: CapabilityExecutor,
    method: string,
    input: unknown,
  ): Promise<CapabilityExecuteResponse> {
    const md = req.metadata!;
    let outcome;
    try {
      outcome = await executor.execute(
        input,
        { workflowId: md.workflowId, owner: md.owner, executionId: md.executionId, referenceId: md.referenceId, signal: shutdown.signal },
        method,
      );
    } catch (error) {
      metrics.executions.inc({ capability: executor.id, outcome: "exception" });
      throw ccrError(`capability ${executor.id} failed unexpectedly`, Code.Internal, error);
    }
    metrics.executions.inc({ capability: executor.id, outcome: outcome.kind === "ok" ? "ok" : "capability_error" });
    // Payloads may carry secrets (an API key in a header): log ids and sizes, never contents.
    // Debug, not info: this runs once per relayed call (the memo's first caller), and a line per
    // call at info costs the service more CPU than an echo (pino's redaction pass on every line);
    // the call counts and outcomes are in the metrics.
    log.debug(
      {
        capability: executor.id,
        workflowId: md.workflowId,
        executionId: md.executionId,
        referenceId: md.referenceId,
        outcome: outcome.kind,
        ...(outcome.kind === "ok" ? { outputBytes: outcome.payload.length } : { error: outcome.error }),
      },
      "capability executed",
    );
    return create(CapabilityExecuteResponseSchema, outcome.kind === "ok" ? { payload: outcome.payload } : { error: outcome.error });
  }

  async function execute(req: CapabilityExecuteRequest, hctx?: HandlerContext): Promise<CapabilityExecuteResponse> {
    const label = capabilities.get(req.capabilityId) === undefined ? "unknown" : req.capabilityId;
    const end = metrics.duration.startTimer({ capability: label });
    try {
      const { executor, method, input } = admit(req);
      const log = loggerFor(hctx);
      const { value, source } = await memo.getOrCompute(capabilityMemoKey(req, method), () => run(log, req, executor, method, input));
      metrics.memo.inc({ result: source });
      metrics.calls.inc({ capability: label, outcome: value.error === "" ? "ok" : "capability_error" });
      return value;
    } catch (error) {
      const connectError = error instanceof ConnectError ? error : ccrError("internal error", Code.Internal, error);
      metrics.calls.inc({ capability: label, outcome: Code[connectError.code] });
      throw connectError;
    } finally {
      end();
    }
  }

  const implementation: ServiceImpl<typeof Capability> = {
    execute: (req, hctx) => execute(req, hctx),
    list: async () => ({
      capabilities: capabilities.list().map((c) => ({
        id: c.id,
        description: c.description,
        inputSchema: JSON.stringify(c.inputSchema),
        outputSchema: JSON.stringify(c.outputSchema),
      })),
    }),
  };

  return Object.freeze({
    service: Capability,
    implementation,
    // No HandlerContext there: the service's own logger is used (the transport logs the call).
    leanRoutes: Object.freeze([leanUnary(Capability.method.execute, (req) => execute(req))]),
    capabilities,
    registerMetricsOn: (registry: Registry) => metrics.registerOn(registry),
    close: () => shutdown.abort(),
  });
}
