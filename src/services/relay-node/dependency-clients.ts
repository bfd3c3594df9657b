/**
 * The relay node's Vault and Capability clients: @grpc/grpc-js channels driven by the protobuf-es
 * schemas (src/transport/grpc-js-client.ts), not connect-node.
 *
 * Why: the node makes one of these calls per relayed request and holds it for as long as the
 * dependency takes, so the client's cost per pending call is most of the node's memory per
 * in-flight request, and the cost of issuing one is a large share of its CPU per request. A grpc-js
 * unary call holds about 13 KB of heap against connect-node's 22 KB, and issues in about 2/3 of the
 * CPU (measured with both clients against one bare HTTP/2 server; bench/relay-node-memory.ts and
 * bench/e2e-relay.ts show the effect on the node). The gateway stream stays on connect (transport.ts):
 * it is one long bidi stream, not a per-request cost.
 *
 * What the handler relies on is kept: the call shape of the ports (ports.ts), the request's
 * remaining time sent as `grpc-timeout`, its AbortSignal cancelling the stream on the wire, failures
 * as a ConnectError with the server's code and message (see `serverMessage`), h2c to http:// URLs, and `close()` cutting
 * exactly this node's connections (a local subchannel pool, not grpc-js's process-wide one).
 */
import type { ChannelOptions } from "@grpc/grpc-js";
import { ConnectError } from "@connectrpc/connect";
import { Capability, Vault } from "../../contract/index.js";
import { createGrpcJsClient } from "../../transport/grpc-js-client.js";
import type { CapabilityPort, VaultPort } from "./ports.js";
import { RELAY_NODE_KEEPALIVE } from "./transport.js";

export interface ClosablePort<P> {
  readonly client: P;
  /** Closes the channel: its connections and any call still on them. */
  close(): void;
}

/** Largest accepted answer; the same 4 MiB as the servers' and the connect clients' limit. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * - Keepalive as RELAY_NODE_KEEPALIVE: PING every 10 s while calls are open (none on an idle
 *   channel), the connection dead after 10 s without the PONG, so a vanished Vault fails the calls
 *   pending on it instead of leaving them to their deadlines.
 * - No request compression (no `grpc.default_compression_algorithm`). grpc-js always advertises
 *   `grpc-accept-encoding: identity,deflate,gzip` (its compression filter sets it below the
 *   interceptors, with no option to turn it off); the Vault's and Capability's lean unary path never
 *   compresses an answer, whatever the header says (src/transport/lean-unary.ts).
 * - No retries: the handler decides what a failure means, and the retry machinery keeps a copy of
 *   every request for as long as the call is pending.
 * - No channelz: per-call bookkeeping nobody reads.
 */
export const RELAY_NODE_CHANNEL_OPTIONS: ChannelOptions = Object.freeze({
  "grpc.keepalive_time_ms": RELAY_NODE_KEEPALIVE.pingIntervalMs,
  "grpc.keepalive_timeout_ms": RELAY_NODE_KEEPALIVE.pingTimeoutMs,
  "grpc.keepalive_permit_without_calls": 0,
  "grpc.max_receive_message_length": MAX_RESPONSE_BYTES,
  "grpc.enable_retries": 0,
  "grpc.enable_channelz": 0,
  "grpc.use_local_subchannel_pool": 1,
});

/** The characters `decodeURI` leaves percent-encoded (its "reserved" set), by their encoding. */
const RESERVED_ESCAPE = /%(2[346BbCcFf]|3[AaBbDdFf]|40)/g;

/**
 * The server's message exactly as it sent it. grpc-js decodes `grpc-message` with `decodeURI`,
 * which leaves `; / ? : @ & = + $ , #` percent-encoded ("vault says%3A bad key"); connect
 * servers percent-encode every one of them. The handler signs a Vault/Capability InvalidArgument
 * message into a RelayError, so every honest node (whatever its client) must read the same text.
 * (A message that itself contained a literal "%3A" reads as ":"; ccr's services send none.)
 */
export function serverMessage(grpcJsDetails: string): string {
  return grpcJsDetails.replace(RESERVED_ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function withServerMessage(err: unknown): never {
  if (!(err instanceof ConnectError)) throw err;
  const message = serverMessage(err.rawMessage);
  if (message === err.rawMessage) throw err;
  // No details to carry: the grpc-js client decodes none (they stay in `metadata`).
  throw new ConnectError(message, err.code, err.metadata, undefined, err.cause);
}

export function createVaultClient(url: string): ClosablePort<VaultPort> {
  const c = createGrpcJsClient(Vault, url, { channelOptions: RELAY_NODE_CHANNEL_OPTIONS });
  const getSecrets = c.unary.getSecrets;
  return { client: { getSecrets: (request, options) => getSecrets(request, options).catch(withServerMessage) }, close: () => c.close() };
}

export function createCapabilityClient(url: string): ClosablePort<CapabilityPort> {
  const c = createGrpcJsClient(Capability, url, { channelOptions: RELAY_NODE_CHANNEL_OPTIONS });
  const execute = c.unary.execute;
  return { client: { execute: (request, options) => execute(request, options).catch(withServerMessage) }, close: () => c.close() };
}
