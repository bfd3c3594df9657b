/**
 * The relay node's gateway stream clients, made with the transport runtime's factory (gRPC over
 * HTTP/2, h2c for http:// URLs). The node keeps its own session pool, so `close()` cuts exactly its
 * own connections, with keepalive PINGs tighter than the runtime default: the gateway stream is the
 * node's lifeline, and a dead gateway must be noticed (and redialed) even when no request is in
 * flight. (The per-request Vault and Capability calls go through grpc-js: dependency-clients.ts.)
 * The composition root may inject other clients.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client, Interceptor } from "@connectrpc/connect";
import { createServiceClient, defaultHttp2SessionOptions, Http2SessionPool } from "../../transport/clients.js";

export interface ClosableClient<S extends DescService> {
  readonly client: Client<S>;
  /** Closes the HTTP/2 session and any stream on it. */
  close(): void;
}

/** PING after 10 s of silence on a connection with open streams; dead after 10 s without PONG. */
export const RELAY_NODE_KEEPALIVE = Object.freeze({ ...defaultHttp2SessionOptions, pingIntervalMs: 10_000, pingTimeoutMs: 10_000 });

/**
 * Asks for uncompressed answers by not advertising `grpc-accept-encoding`: the node's peers (its
 * gateways, the Vault, the Capability service) are on loopback or the operator's LAN, where gzip
 * only costs CPU on both ends. It also costs memory: a gunzipped message is a slice of zlib's 16 KiB
 * output chunk, and every decoded bytes field (the attestation document, the payload) is a view on
 * it, so each request in flight pinned 16 KiB. (connect builds this header before the interceptors
 * run; a compressed answer would still be understood, as the transport accepts gzip.)
 */
export const noResponseCompression: Interceptor = (next) => (req) => {
  req.header.delete("grpc-accept-encoding");
  return next(req);
};

export function createGrpcClient<S extends DescService>(service: S, baseUrl: string): ClosableClient<S> {
  const sessions = new Http2SessionPool(RELAY_NODE_KEEPALIVE);
  return {
    client: createServiceClient(service, { baseUrl, protocol: "grpc", sessions, interceptors: [noResponseCompression] }),
    close: () => sessions.closeAll(),
  };
}
