/**
 * What `createServer` takes, validated and frozen once. The numeric options have the same names as
 * the config's `ServerConfig` (src/config/server-config.ts), so a composition root can spread the
 * loaded config section into them.
 */
import { randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import type { HttpRoute } from "./http-routes.js";
import type { LeanBidiRoute } from "./lean-stream.js";
import type { LeanUnaryRoute } from "./lean-unary.js";
import { silentLogger, type Logger } from "./logger.js";

/** A service and its (possibly partial) implementation; missing methods answer Unimplemented. */
export interface ServiceRegistration<S extends DescService = DescService> {
  readonly service: S;
  readonly impl: Partial<ServiceImpl<S>>;
}

/**
 * The `services` list of `createServer`, typed per element so that an inline
 * `{ service: Vault, impl: { getSecrets(req) { … } } }` gets its handlers type-checked.
 */
export type ServiceRegistrations<T extends readonly DescService[]> = {
  readonly [K in keyof T]: {
    readonly service: T[K];
    readonly impl: T[K] extends DescService ? Partial<ServiceImpl<T[K]>> : never;
  };
};

/** Pairs a service with its implementation, type-checking the implementation against the service. */
export function implement<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): ServiceRegistration {
  return { service, impl } as unknown as ServiceRegistration;
}

export interface ServerOptions<T extends readonly DescService[] = readonly DescService[]> {
  /** The application services. Health and reflection (v1, v1alpha) are always added. */
  readonly services: ServiceRegistrations<T>;
  /** Names the server in logs (`svc`), e.g. "vault". Default "ccr". */
  readonly name?: string;
  /** Interface to bind. Default 127.0.0.1. */
  readonly host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Largest accepted request message (and plain-HTTP body) in bytes. Default 4 MiB, as gRPC. */
  readonly readMaxBytes?: number;
  /** Largest response message in bytes. Default: unlimited (connect's ~4 GiB). */
  readonly writeMaxBytes?: number;
  /** A connection that sends nothing for this long after connecting is closed. Default 10 s. */
  readonly idleTimeoutMs?: number;
  /** How long `close()` lets in-flight calls finish before aborting them. Default 10 s. */
  readonly shutdownGraceMs?: number;
  /**
   * Largest deadline a client may ask for; a longer one is refused with InvalidArgument (connect's
   * rule). Default: none. Client deadlines are always honoured: the call is answered
   * DeadlineExceeded when its deadline passes, whether or not the handler watches `ctx.signal`.
   */
  readonly maxTimeoutMs?: number;
  /** Root logger; the server logs through `logger.child({ svc: name })`. Default: silent. */
  readonly logger?: Logger;
  /** Plain-HTTP routes on the same port (e.g. the gateway's JSON-RPC `POST /`). */
  readonly httpRoutes?: readonly HttpRoute[];
  /** Extra interceptors, run inside the server's own (so their errors are logged and mapped). */
  readonly interceptors?: readonly Interceptor[];
  /**
   * Unary methods also served on the lean path (lean-unary.ts) when called with plain gRPC over
   * HTTP/2; every other protocol still reaches the method's implementation in `services`, which
   * must give the same answers. Ignored when `interceptors` is not empty. Default: none.
   */
  readonly leanUnary?: readonly LeanUnaryRoute[];
  /** Bidi-streaming methods also served on the lean path (lean-stream.ts), on the same terms. */
  readonly leanBidi?: readonly LeanBidiRoute[];
  /** Collect prom-client's default process metrics in this server's registry. Default true. */
  readonly defaultMetrics?: boolean;
  /** Request ids for calls without a usable `x-request-id` header. Default: random UUIDs. */
  readonly newRequestId?: () => string;
  /** Monotonic milliseconds for durations. Default `performance.now`. */
  readonly nowMs?: () => number;
}

export interface ResolvedServerOptions {
  readonly services: readonly ServiceRegistration[];
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly readMaxBytes: number;
  readonly writeMaxBytes: number | undefined;
  readonly idleTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly maxTimeoutMs: number | undefined;
  readonly logger: Logger;
  readonly httpRoutes: readonly HttpRoute[];
  readonly interceptors: readonly Interceptor[];
  readonly leanUnary: readonly LeanUnaryRoute[];
  readonly leanBidi: readonly LeanBidiRoute[];
  readonly defaultMetrics: boolean;
  readonly newRequestId: () => string;
  readonly nowMs: () => number;
}

export const serverDefaults = Object.freeze({
  name: "ccr",
  host: "127.0.0.1",
  port: 0,
  readMaxBytes: 4 * 1024 * 1024,
  idleTimeoutMs: 10_000,
  shutdownGraceMs: 10_000,
});

/**
 * A random UUID as one flat string. Node builds `randomUUID()` by concatenating hex pairs, which V8
 * keeps as a chain of about 14 rope nodes (~450 bytes) for as long as the string lives; a request id
 * lives as long as its call, and a gateway holds thousands of calls, so it is copied flat (~60 bytes).
 */
export function flatRandomUuid(): string {
  return Buffer.from(randomUUID(), "latin1").toString("latin1");
}

/** connect's largest message size (0xffffffff). */
const maxMessageBytes = 0xffffffff;

function integerIn(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConnectError(`server: ${name} must be an integer ${min}–${max}, got ${String(value)}`, Code.InvalidArgument);
  }
  return value;
}

function optionalIntegerIn(name: string, value: number | undefined, min: number, max: number): number | undefined {
  return value === undefined ? undefined : integerIn(name, value, 0, min, max);
}

export function resolveServerOptions<T extends readonly DescService[]>(options: ServerOptions<T>): ResolvedServerOptions {
  const services = options.services as unknown as readonly ServiceRegistration[];
  const names = new Set<string>();
  for (const { service } of services) {
    if (names.has(service.typeName)) {
      throw new ConnectError(`server: service ${service.typeName} is registered twice`, Code.InvalidArgument);
    }
    names.add(service.typeName);
  }
  for (const route of [...(options.leanUnary ?? []), ...(options.leanBidi ?? [])]) {
    if (!names.has(route.method.parent.typeName)) {
      throw new ConnectError(
        `server: lean route ${route.method.parent.typeName}/${route.method.name} needs its service in services`,
        Code.InvalidArgument,
      );
    }
  }
  const name = options.name ?? serverDefaults.name;
  if (name.trim() === "") throw new ConnectError("server: name must not be empty", Code.InvalidArgument);
  const host = options.host ?? serverDefaults.host;
  if (host.trim() === "") throw new ConnectError("server: host must not be empty", Code.InvalidArgument);
  return Object.freeze({
    services: Object.freeze([...services]),
    name,
    host,
    port: integerIn("port", options.port, serverDefaults.port, 0, 65535),
    readMaxBytes: integerIn("readMaxBytes", options.readMaxBytes, serverDefaults.readMaxBytes, 1, maxMessageBytes),
    writeMaxBytes: optionalIntegerIn("writeMaxBytes", options.writeMaxBytes, 1, maxMessageBytes),
    idleTimeoutMs: integerIn("idleTimeoutMs", options.idleTimeoutMs, serverDefaults.idleTimeoutMs, 1, 3_600_000),
    shutdownGraceMs: integerIn("shutdownGraceMs", options.shutdownGraceMs, serverDefaults.shutdownGraceMs, 0, 3_600_000),
    maxTimeoutMs: optionalIntegerIn("maxTimeoutMs", options.maxTimeoutMs, 1, Number.MAX_SAFE_INTEGER),
    logger: options.logger ?? silentLogger(),
    httpRoutes: Object.freeze([...(options.httpRoutes ?? [])]),
    interceptors: Object.freeze([...(options.interceptors ?? [])]),
    leanUnary: Object.freeze([...(options.leanUnary ?? [])]),
    leanBidi: Object.freeze([...(options.leanBidi ?? [])]),
    defaultMetrics: options.defaultMetrics ?? true,
    newRequestId: options.newRequestId ?? flatRandomUuid,
    nowMs: options.nowMs ?? (() => performance.now()),
  });
}
