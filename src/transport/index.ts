/**
 * The server runtime and clients every ccr process uses. See docs/runtime.md.
 */
export { createServer, type CcrServer, type CloseOptions, type CloseSummary, type ListenResult } from "./server.js";
export {
  implement,
  resolveServerOptions,
  serverDefaults,
  type ResolvedServerOptions,
  type ServerOptions,
  type ServiceRegistration,
  type ServiceRegistrations,
} from "./server-options.js";
export {
  callLogger,
  callLoggerKey,
  callRequestId,
  createLogger,
  logLevels,
  redactionPaths,
  requestIdKey,
  silentLogger,
  type CreateLoggerOptions,
  type Logger,
  type LogLevel,
} from "./logger.js";
export { HealthRegistry, overallHealthService, ServingStatus } from "./health.js";
export { ServerMetrics, grpcCodeName, grpcType, type GrpcType } from "./metrics.js";
export {
  readRequestBody,
  httpStatusForCode,
  type HttpRoute,
  type HttpRouteContext,
  type NodeRequest,
  type NodeResponse,
} from "./http-routes.js";
export { toWireError } from "./call-observer.js";
export { leanUnary, leanUnaryReplying, type LeanReplyCall, type LeanUnaryCall, type LeanUnaryRoute } from "./lean-unary.js";
export { CallAbort, type CallSignal } from "./call-signal.js";
export { leanBidi, type LeanBidiRoute, type LeanStreamCall } from "./lean-stream.js";
export { ReflectionIndex } from "./reflection.js";
export {
  createServiceClient,
  createServiceTransport,
  defaultHttp2SessionOptions,
  Http2SessionPool,
  sharedHttp2Sessions,
  type ClientProtocol,
  type ServiceClientOptions,
} from "./clients.js";
export { createGrpcJsClient, grpcTarget, type GrpcJsCallOptions, type GrpcJsClient, type GrpcJsUnaryMethods } from "./grpc-js-client.js";
