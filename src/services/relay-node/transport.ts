/**
 * Default clients of the relay node, made with the transport runtime's factory (gRPC over HTTP/2,
 * h2c for http:// URLs). The node keeps its own session pool, so `close()` cuts exactly its own
 * connections, with keepalive PINGs tighter than the runtime default: the gateway stream is the
 * node's lifeline, and a dead gateway must be noticed (and redialed) even when no request is in
 * flight. The composition root may inject other clients.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { createServiceClient, defaultHttp2SessionOptions, Http2SessionPool } from "../../transport/clients.js";

export interface ClosableClient<S extends DescService> {
  readonly client: Client<S>;
  /** Closes the HTTP/2 session and any stream on it. */
  close(): void;
}

/** PING after 10 s of silence on a connection with open streams; dead after 10 s without PONG. */
export const RELAY_NODE_KEEPALIVE = Object.freeze({ ...defaultHttp2SessionOptions, pingIntervalMs: 10_000, pingTimeoutMs: 10_000 });

export function createGrpcClient<S extends DescService>(service: S, baseUrl: string): ClosableClient<S> {
  const sessions = new Http2SessionPool(RELAY_NODE_KEEPALIVE);
  return {
    client: createServiceClient(service, { baseUrl, protocol: "grpc", sessions }),
    close: () => sessions.closeAll(),
  };
}
