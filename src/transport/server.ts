/**
 * `createServer`: what every ccr process serves, on one port.
 *
 *  - gRPC, gRPC-Web and Connect (JSON and binary), over cleartext HTTP/2 and HTTP/1.1, through one
 *    connect-node handler (node-adapter.ts; one-port.ts sniffs the protocol);
 *  - the application services, plus grpc.health.v1.Health and grpc.reflection.v1 / v1alpha;
 *  - `GET /metrics` (Prometheus) and the services' own plain-HTTP routes, through the adapter's
 *    fallback;
 *  - per-call logging, metrics, error mapping and deadlines (call-observer.ts);
 *  - graceful shutdown (`close`).
 *
 * docs/runtime.md describes the whole surface for operators.
 */
import { setMaxListeners } from "node:events";
import type * as http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import { createContextValues, Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { health, reflectionV1, reflectionV1alpha } from "../contract/index.js";
import { callObservedKey, createCallObserver, InflightCalls } from "./call-observer.js";
import { HealthRegistry, healthService, overallHealthService, ServingStatus } from "./health.js";
import { createFallback, type NodeRequest, type NodeResponse } from "./http-routes.js";
import { requestIdKey, type Logger } from "./logger.js";
import { createNodeAdapter } from "./node-adapter.js";
import { grpcCodeName, ServerMetrics } from "./metrics.js";
import { LeanStreamServer } from "./lean-stream.js";
import { LeanUnaryServer } from "./lean-unary.js";
import { OnePortListener } from "./one-port.js";
import { ReflectionIndex, reflectionV1alphaService, reflectionV1Service } from "./reflection.js";
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from "./server-options.js";

export interface ListenResult {
  /** e.g. "http://127.0.0.1:7400" */
  readonly url: string;
  readonly port: number;
}

export interface CloseOptions {
  /** How long in-flight calls may run on; default the server's `shutdownGraceMs`. */
  readonly graceMs?: number;
}

/** What `close` had to do beyond a clean drain; both 0 when every call finished in time. */
export interface CloseSummary {
  /** Calls still running at the end of the grace, answered Unavailable "server shutting down". */
  readonly abortedCalls: number;
  /** Connections still open after that, destroyed. */
  readonly destroyedConnections: number;
}

export interface CcrServer {
  /** Binds the port; resolves once connections are accepted. */
  listen(): Promise<ListenResult>;
  /**
   * Graceful shutdown: health → NOT_SERVING, stop accepting, close idle HTTP/2 sessions and
   * HTTP/1.1 keep-alive connections, let in-flight calls finish within the grace, then abort them
   * with Unavailable "server shutting down"; resolves when every connection is closed.
   */
  close(options?: CloseOptions): Promise<CloseSummary>;
  /** Serving status per service; services may set their own. */
  readonly health: HealthRegistry;
  /** Metrics; `metrics.registry` takes the services' own metrics. */
  readonly metrics: ServerMetrics;
  /** The server's logger (`{ svc }`). */
  readonly logger: Logger;
  /** Fully-qualified names of every service served, health and reflection included. */
  readonly serviceNames: readonly string[];
  /** The listen result once listening. */
  readonly address: ListenResult | undefined;
}

/** After aborting calls at the end of the grace, how long their answers get to go out. */
const abortFlushMs = 1_000;

const requestIdPattern = /^[A-Za-z0-9._:\-]{1,128}$/;

export function createServer<const T extends readonly DescService[]>(options: ServerOptions<T>): CcrServer {
  const opts: ResolvedServerOptions = resolveServerOptions(options);
  const logger = opts.logger.child({ svc: opts.name });
  const metrics = new ServerMetrics({ defaultMetrics: opts.defaultMetrics });
  const healthRegistry = new HealthRegistry();
  const inflight = new InflightCalls();
  const shutdown = new AbortController();
  // connect-node links every call's signal to this one for the call's life, so it has one listener
  // per call in flight (a gateway's node streams alone are N); Node's leak warning at 10 is noise here.
  setMaxListeners(0, shutdown.signal);

  const appServices = opts.services.map((s) => s.service);
  const builtIn = [health.Health, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];
  const index = new ReflectionIndex([...appServices, ...builtIn]);
  healthRegistry.set(overallHealthService, ServingStatus.SERVING);
  for (const service of appServices) healthRegistry.set(service.typeName, ServingStatus.SERVING);

  const rpcPaths = new Set<string>();
  for (const service of [...appServices, ...builtIn]) {
    for (const method of service.methods) rpcPaths.add(`/${service.typeName}/${method.name}`);
  }

  // Context values per RPC, created at the entry point so the request id exists before any protocol
  // handling, and so calls rejected before the interceptor (oversized, malformed) can still be
  // logged. Plain-HTTP routes need only the request id, so they get no context values.
  const requestValues = new WeakMap<NodeRequest, ContextValues>();
  const requestIds = new WeakMap<NodeRequest, string>();
  const requestIdOf = (req: NodeRequest): string => requestIds.get(req) ?? "";

  const fallback = createFallback({
    routes: opts.httpRoutes,
    metrics,
    logger,
    readMaxBytes: opts.readMaxBytes,
    requestIdOf,
    nowMs: opts.nowMs,
  });

  const adapter = createNodeAdapter({
    logger,
    routes(router) {
      for (const { service, impl } of opts.services) router.service(service, impl);
      router.service(health.Health, healthService(healthRegistry));
      router.service(reflectionV1.ServerReflection, reflectionV1Service(index));
      router.service(reflectionV1alpha.ServerReflection, reflectionV1alphaService(index));
    },
    // connect-node types its responses loosely; at runtime they are the Node objects.
    fallback: (req, res) => fallback(req, res as NodeResponse),
    contextValues: (req) => requestValues.get(req) ?? createContextValues().set(requestIdKey, requestIdOf(req)),
    interceptors: [createCallObserver({ logger, metrics, inflight, nowMs: opts.nowMs }), ...opts.interceptors],
    readMaxBytes: opts.readMaxBytes,
    ...(opts.writeMaxBytes === undefined ? {} : { writeMaxBytes: opts.writeMaxBytes }),
    ...(opts.maxTimeoutMs === undefined ? {} : { maxTimeoutMs: opts.maxTimeoutMs }),
    shutdownSignal: shutdown.signal,
  });

  const requestIdFrom = (offered: string | string[] | undefined): string =>
    typeof offered === "string" && requestIdPattern.test(offered) ? offered : opts.newRequestId();

  // The lean paths (lean-unary.ts, lean-stream.ts) for the methods that asked for them; extra
  // interceptors must see every call, so a server with any keeps all calls on connect-node.
  const lean =
    opts.leanUnary.length > 0 && opts.interceptors.length === 0
      ? new LeanUnaryServer({
          routes: opts.leanUnary,
          logger,
          metrics,
          inflight,
          readMaxBytes: opts.readMaxBytes,
          writeMaxBytes: opts.writeMaxBytes,
          maxTimeoutMs: opts.maxTimeoutMs,
          shutdownSignal: shutdown.signal,
          nowMs: opts.nowMs,
          requestIdFor: requestIdFrom,
        })
      : undefined;

  const leanStreams =
    opts.leanBidi.length > 0 && opts.interceptors.length === 0
      ? new LeanStreamServer({
          routes: opts.leanBidi,
          logger,
          metrics,
          inflight,
          readMaxBytes: opts.readMaxBytes,
          maxTimeoutMs: opts.maxTimeoutMs,
          shutdownSignal: shutdown.signal,
          nowMs: opts.nowMs,
        })
      : undefined;
  const takeStream =
    lean === undefined && leanStreams === undefined
      ? undefined
      : (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean => {
          if (lean?.take(stream, headers) === true) return true;
          return leanStreams?.take(stream, headers, () => requestIdFrom(headers["x-request-id"])) ?? false;
        };

  const entry = (req: NodeRequest, res: NodeResponse): void => {
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    requestIds.set(req, requestId);
    res.setHeader("x-request-id", requestId);
    const path = (req.url ?? "").split("?", 1)[0] ?? "";
    if (rpcPaths.has(path)) {
      const values = createContextValues().set(requestIdKey, requestId);
      requestValues.set(req, values);
      const startMs = opts.nowMs();
      res.once("close", () => {
        if (values.get(callObservedKey)) return;
        logRejectedCall(logger, path, requestId, res, opts.nowMs() - startMs);
      });
    }
    adapter(req, res);
  };

  const listener = new OnePortListener({
    handler: entry,
    idleTimeoutMs: opts.idleTimeoutMs,
    logger,
    ...(takeStream === undefined ? {} : { takeStream }),
  });
  let address: ListenResult | undefined;
  let closing: Promise<CloseSummary> | undefined;

  async function close(closeOptions: CloseOptions = {}): Promise<CloseSummary> {
    const graceMs = closeOptions.graceMs ?? opts.shutdownGraceMs;
    logger.info({ graceMs, inflightCalls: inflight.size, connections: listener.connectionCount }, "shutting down");
    healthRegistry.shutdown();
    listener.drain();
    let abortedCalls = 0;
    let destroyedConnections = 0;
    if (!(await settlesWithin(listener.whenAllClosed(), graceMs))) {
      abortedCalls = inflight.size;
      shutdown.abort(new ConnectError("server shutting down", Code.Unavailable));
      if (!(await settlesWithin(listener.whenAllClosed(), abortFlushMs))) {
        destroyedConnections = listener.destroyAll();
        await listener.whenAllClosed();
      }
    }
    listener.dispose();
    const summary: CloseSummary = Object.freeze({ abortedCalls, destroyedConnections });
    logger.info(summary, "closed");
    return summary;
  }

  return {
    async listen() {
      if (address !== undefined) return address;
      let bound;
      try {
        bound = await listener.listen(opts.host, opts.port);
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? String(error);
        throw new ConnectError(
          `cannot listen on ${opts.host}:${opts.port} (${reason}); choose another host or port`,
          Code.Unavailable,
          undefined,
          undefined,
          error,
        );
      }
      const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
      address = Object.freeze({ url: `http://${host}:${bound.port}`, port: bound.port });
      logger.info({ url: address.url, services: index.serviceNames }, "listening");
      return address;
    },
    close(closeOptions) {
      closing ??= close(closeOptions);
      return closing;
    },
    health: healthRegistry,
    metrics,
    logger,
    serviceNames: index.serviceNames,
    get address() {
      return address;
    },
  };
}

/** True if the promise settled within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One line for an RPC that never reached its handler (oversized or malformed request, bad
 * content type, bad deadline header): the code when the wire shows it, else the HTTP status.
 */
function logRejectedCall(logger: Logger, path: string, requestId: string, res: NodeResponse, durationMs: number): void {
  const stream = "stream" in res ? res.stream : undefined;
  const grpcStatus = stream?.sentTrailers?.["grpc-status"] ?? stream?.sentHeaders?.["grpc-status"];
  const fields: Record<string, unknown> = {
    rpc: path.slice(1),
    requestId,
    httpStatus: res.statusCode,
    durationMs: Math.round(durationMs * 1000) / 1000,
  };
  if (grpcStatus !== undefined) fields["code"] = grpcCodeName(Number(grpcStatus) as Code);
  logger.info(fields, "rpc rejected before its handler");
}
