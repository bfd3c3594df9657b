/**
 * Clients for ccr services, created one way everywhere:
 *
 *   const vault = createServiceClient(Vault, { baseUrl, protocol: "grpc" });
 *
 * HTTP/2 clients share one `Http2SessionManager` (one TCP connection, multiplexed) per target
 * origin, with keepalive PINGs so a dead peer is noticed on long-lived streams (the gateway ↔ node
 * streams). Idle connections are unref'd by connect-node and do not keep a process alive.
 */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
  type Http2SessionOptions,
} from "@connectrpc/connect-node";

export type ClientProtocol = "connect" | "grpc" | "grpc-web";

/** Keepalive defaults, as gRPC core's GRPC_ARG_KEEPALIVE_TIME_MS / _TIMEOUT_MS would be set. */
export const defaultHttp2SessionOptions: Readonly<Http2SessionOptions> = Object.freeze({
  pingIntervalMs: 30_000,
  pingTimeoutMs: 10_000,
  pingIdleConnection: false,
  idleConnectionTimeoutMs: 15 * 60_000,
});

/** One HTTP/2 session manager per target origin. */
export class Http2SessionPool {
  private readonly managers = new Map<string, Http2SessionManager>();

  constructor(private readonly sessionOptions: Http2SessionOptions = defaultHttp2SessionOptions) {}

  /** The manager for `baseUrl`'s origin, created on first use. */
  get(baseUrl: string): Http2SessionManager {
    const origin = new URL(baseUrl).origin;
    let manager = this.managers.get(origin);
    if (manager === undefined) {
      manager = new Http2SessionManager(origin, this.sessionOptions);
      this.managers.set(origin, manager);
    }
    return manager;
  }

  get size(): number {
    return this.managers.size;
  }

  /** Closes every connection (open streams fail) and forgets the managers. */
  closeAll(): void {
    for (const manager of this.managers.values()) manager.abort();
    this.managers.clear();
  }
}

/** The process-wide pool used when a client is given none. */
export const sharedHttp2Sessions = new Http2SessionPool();

export interface ServiceClientOptions {
  /** e.g. "http://127.0.0.1:7400" */
  readonly baseUrl: string;
  /** Default "connect". "grpc" needs HTTP/2. */
  readonly protocol?: ClientProtocol;
  /** Default "2" (h2c with prior knowledge). Bidi streaming needs "2". */
  readonly httpVersion?: "1.1" | "2";
  /** Protobuf binary (default) or JSON; gRPC is always binary here. */
  readonly useBinaryFormat?: boolean;
  /** Deadline for calls that set none. */
  readonly defaultTimeoutMs?: number;
  readonly interceptors?: readonly Interceptor[];
  /** Largest accepted response message. Default 4 MiB, as the servers. */
  readonly readMaxBytes?: number;
  readonly writeMaxBytes?: number;
  /** Where HTTP/2 connections come from; default `sharedHttp2Sessions`. */
  readonly sessions?: Http2SessionPool;
}

const defaultClientReadMaxBytes = 4 * 1024 * 1024;

/** A connect Transport per the options (see `createServiceClient`). */
export function createServiceTransport(options: ServiceClientOptions): Transport {
  const protocol = options.protocol ?? "connect";
  const httpVersion = options.httpVersion ?? "2";
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch (error) {
    throw new ConnectError(`client: baseUrl must be an absolute URL, got "${options.baseUrl}"`, Code.InvalidArgument, undefined, undefined, error);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConnectError(`client: baseUrl must be http:// or https://, got "${options.baseUrl}"`, Code.InvalidArgument);
  }
  if (protocol === "grpc" && httpVersion !== "2") {
    throw new ConnectError('client: protocol "grpc" needs httpVersion "2"', Code.InvalidArgument);
  }
  const common = {
    baseUrl: options.baseUrl,
    interceptors: [...(options.interceptors ?? [])],
    readMaxBytes: options.readMaxBytes ?? defaultClientReadMaxBytes,
    ...(options.writeMaxBytes === undefined ? {} : { writeMaxBytes: options.writeMaxBytes }),
    ...(options.defaultTimeoutMs === undefined ? {} : { defaultTimeoutMs: options.defaultTimeoutMs }),
  };
  const h2 = { httpVersion: "2" as const, sessionManager: (options.sessions ?? sharedHttp2Sessions).get(options.baseUrl) };
  switch (protocol) {
    case "grpc":
      return createGrpcTransport({ ...common, ...h2 });
    case "grpc-web":
      return createGrpcWebTransport({
        ...common,
        useBinaryFormat: options.useBinaryFormat ?? true,
        ...(httpVersion === "2" ? h2 : { httpVersion: "1.1" as const }),
      });
    case "connect":
      return createConnectTransport({
        ...common,
        useBinaryFormat: options.useBinaryFormat ?? true,
        ...(httpVersion === "2" ? h2 : { httpVersion: "1.1" as const }),
      });
  }
}

/** A promise client for a ccr service. */
export function createServiceClient<S extends DescService>(service: S, options: ServiceClientOptions): Client<S> {
  return createClient(service, createServiceTransport(options));
}
