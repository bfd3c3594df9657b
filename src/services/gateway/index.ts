/**
 * The gateway service: the Connect implementation of `ccr.v1.Gateway`, the JSON-RPC compatibility
 * handler, and their shared core.
 *
 *   const gw = createGateway({ config: resolveGatewayOptions(opts), registry: server.metrics.registry, edge });
 *   createServer({ services: [{ service: Gateway, impl: gw.service }], leanUnary: gw.leanUnary, leanBidi: gw.leanBidi,
 *                  httpRoutes: [{ method: "POST", path: "/", handler: gw.jsonRpcHandler }] });
 *   …
 *   gw.close();
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { Gateway } from "../../contract/index.js";
import { createJsonRpcHandler, type JsonRpcHandler } from "./json-rpc.js";
import { RelayGateway, type RelayGatewayDeps } from "./relay-gateway.js";
import { gatewayLeanRoutes, gatewayLeanStreams, gatewayServiceImpl } from "./service.js";
import type { LeanBidiRoute } from "../../transport/lean-stream.js";
import type { LeanUnaryRoute } from "../../transport/lean-unary.js";

export interface GatewayHandle {
  /** The Connect implementation of ccr.v1.Gateway. */
  readonly service: ServiceImpl<typeof Gateway>;
  /** `POST /` JSON-RPC 2.0 compatibility handler. */
  readonly jsonRpcHandler: JsonRpcHandler;
  /** GetSecrets and ExecuteCapability for createServer's `leanUnary` (plain gRPC without connect-node's per-call cost). */
  readonly leanUnary: readonly LeanUnaryRoute[];
  /** ConnectNode for createServer's `leanBidi` (plain gRPC node streams without connect-node's per-message cost). */
  readonly leanBidi: readonly LeanBidiRoute[];
  /** The core, for inspection (in-flight count, connected members) and tests. */
  readonly core: RelayGateway;
  /** Ends every node stream and answers every request in flight with Unavailable. */
  close(): void;
}

export function createGateway(deps: RelayGatewayDeps): GatewayHandle {
  const core = new RelayGateway(deps);
  return Object.freeze({
    service: gatewayServiceImpl(core),
    jsonRpcHandler: createJsonRpcHandler(core, { maxBodyBytes: deps.config.jsonRpcMaxBodyBytes }),
    leanUnary: Object.freeze(gatewayLeanRoutes(() => core)),
    leanBidi: Object.freeze(gatewayLeanStreams(() => core)),
    core,
    close: () => core.close(),
  });
}

/**
 * `createServer` takes its services before it exposes `server.metrics.registry`, which the gateway's
 * metrics belong on. This pair of forwarders is registered first and bound once the gateway exists:
 *
 *   const late = deferredGateway();
 *   const server = createServer({ services: [implement(Gateway, late.service)], leanUnary: late.leanUnary,
 *                                 leanBidi: late.leanBidi, httpRoutes: [{ method: "POST", path: "/", handler: late.jsonRpcHandler }] });
 *   late.bind(createGateway({ config, registry: server.metrics.registry, edge }));
 */
export function deferredGateway(): {
  readonly service: ServiceImpl<typeof Gateway>;
  readonly jsonRpcHandler: JsonRpcHandler;
  readonly leanUnary: readonly LeanUnaryRoute[];
  readonly leanBidi: readonly LeanBidiRoute[];
  bind(gateway: GatewayHandle): void;
} {
  let bound: GatewayHandle | undefined;
  const get = (): GatewayHandle => {
    if (bound === undefined) throw new ConnectError("gateway is not started yet", Code.Unavailable);
    return bound;
  };
  return {
    service: {
      getSecrets: (req, ctx) => get().service.getSecrets(req, ctx),
      executeCapability: (req, ctx) => get().service.executeCapability(req, ctx),
      connectNode: (reqs, ctx) => get().service.connectNode(reqs, ctx),
    },
    jsonRpcHandler: (req, res) => get().jsonRpcHandler(req, res),
    leanUnary: Object.freeze(gatewayLeanRoutes(() => get().core)),
    leanBidi: Object.freeze(gatewayLeanStreams(() => get().core)),
    bind(gateway) {
      bound = gateway;
    },
  };
}

export { resolveGatewayOptions, GATEWAY_DEFAULTS } from "./options.js";
export type { GatewayConfig, GatewayMember, GatewayMemberOption, GatewayOptions } from "./options.js";
export { documentDigestEdge, documentSenderId } from "./edge.js";
export type { EdgeCheck, EdgeVerdict } from "./edge.js";
export { RelayGateway, MAX_REQUEST_ID_LENGTH, RETRY_AFTER_HEADER, requestIdProblem } from "./relay-gateway.js";
export type { RelayAnswer, RelayCall, RelayGatewayDeps } from "./relay-gateway.js";
export { JsonRpcCode, jsonRpcCodeOf } from "./json-rpc.js";
export type { JsonRpcHandler } from "./json-rpc.js";
export { ManualTimers, systemTimers } from "./timers.js";
export type { Timers, TimerHandle } from "./timers.js";
