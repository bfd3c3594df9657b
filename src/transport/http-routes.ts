/**
 * Everything on the port that is not an RPC, served through the connect adapter's `fallback`:
 * `GET /metrics`, the services' own plain-HTTP routes (e.g. the gateway's JSON-RPC `POST /`), a
 * proper Unimplemented answer for RPC-shaped requests to unknown methods, and 404 for the rest.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "./logger.js";
import type { ServerMetrics } from "./metrics.js";
import { toWireError } from "./call-observer.js";

export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface HttpRouteContext {
  /** Logger with `{ svc, route, requestId }`. */
  readonly logger: Logger;
  readonly requestId: string;
  /** The server's request size limit; pass it to `readRequestBody`. */
  readonly readMaxBytes: number;
}

export interface HttpRoute {
  /** Upper-case HTTP method, e.g. "POST". */
  readonly method: string;
  /** Exact path, without query, e.g. "/". */
  readonly path: string;
  handler(req: NodeRequest, res: NodeResponse, ctx: HttpRouteContext): void | Promise<void>;
}

/** Reads a request body, refusing more than `maxBytes` with ResourceExhausted. */
export async function readRequestBody(req: NodeRequest, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new ConnectError(`request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`, Code.ResourceExhausted);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    total += buffer.length;
    if (total > maxBytes) {
      throw new ConnectError(`request body exceeds the limit of ${maxBytes} bytes`, Code.ResourceExhausted);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

/** HTTP status for a ConnectError, per the Connect protocol's mapping. */
export function httpStatusForCode(code: Code): number {
  switch (code) {
    case Code.Canceled:
      return 499;
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return 400;
    case Code.DeadlineExceeded:
      return 504;
    case Code.NotFound:
      return 404;
    case Code.AlreadyExists:
    case Code.Aborted:
      return 409;
    case Code.PermissionDenied:
      return 403;
    case Code.ResourceExhausted:
      return 429;
    case Code.Unimplemented:
      return 501;
    case Code.Unavailable:
      return 503;
    case Code.Unauthenticated:
      return 401;
    default:
      return 500;
  }
}

/** Connect's wire name of a code, e.g. "resource_exhausted". */
function connectCodeString(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function sendJsonError(res: NodeResponse, error: ConnectError): void {
  const body = JSON.stringify({ code: connectCodeString(error.code), message: error.rawMessage });
  res.writeHead(httpStatusForCode(error.code), {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** gRPC's grpc-message encoding: printable ASCII except "%" as is, other UTF-8 bytes as %XX. */
export function grpcPercentEncode(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** `/pkg.Service/Method`: the shape of every gRPC, gRPC-Web and Connect request path. */
const rpcPathPattern = /^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/;

function answerUnknownRpc(req: NodeRequest, res: NodeResponse, path: string): boolean {
  const contentType = String(req.headers["content-type"] ?? "");
  const message = `unknown method ${path.slice(1)}`;
  if (contentType.startsWith("application/grpc")) {
    const status = { "grpc-status": String(Code.Unimplemented), "grpc-message": grpcPercentEncode(message) };
    const grpcWeb = contentType.startsWith("application/grpc-web");
    if (!grpcWeb && "stream" in res) {
      // gRPC's "Trailers-Only" response: one HEADERS frame with END_STREAM carrying the status.
      res.stream.respond({ ":status": 200, "content-type": "application/grpc", ...status }, { endStream: true });
      return true;
    }
    // gRPC-Web clients read a trailers-only status from the response headers.
    res.writeHead(200, { "content-type": grpcWeb ? "application/grpc-web+proto" : "application/grpc", ...status });
    res.end();
    return true;
  }
  if (
    req.method === "POST" &&
    rpcPathPattern.test(path) &&
    /^application\/(connect\+)?(proto|json)/.test(contentType)
  ) {
    // Connect: 404 maps to Unimplemented for clients; the body says which method.
    const body = JSON.stringify({ code: "unimplemented", message });
    res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
    return true;
  }
  return false;
}

export interface FallbackDeps {
  readonly routes: readonly HttpRoute[];
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly readMaxBytes: number;
  readonly requestIdOf: (req: NodeRequest) => string;
  readonly nowMs: () => number;
}

/** The adapter's fallback: routes, /metrics, unknown RPCs, 404. */
export function createFallback(deps: FallbackDeps): (req: NodeRequest, res: NodeResponse) => void {
  const routes = new Map<string, Map<string, HttpRoute>>();
  for (const route of deps.routes) {
    const byMethod = routes.get(route.path) ?? new Map<string, HttpRoute>();
    const method = route.method.toUpperCase();
    if (byMethod.has(method)) {
      throw new ConnectError(`http route ${method} ${route.path} is registered twice`, Code.InvalidArgument);
    }
    byMethod.set(method, route);
    routes.set(route.path, byMethod);
  }

  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const method = (req.method ?? "GET").toUpperCase();
    const byMethod = routes.get(path);
    const route = byMethod?.get(method);
    if (route !== undefined) {
      serveRoute(deps, route, req, res);
      return;
    }
    if (byMethod !== undefined) {
      res.writeHead(405, { allow: [...byMethod.keys()].join(", "), "content-type": "text/plain" });
      res.end("method not allowed\n");
      return;
    }
    if (path === "/metrics") {
      if (method !== "GET" && method !== "HEAD") {
        res.writeHead(405, { allow: "GET", "content-type": "text/plain" });
        res.end("method not allowed\n");
        return;
      }
      deps.metrics.exposition().then(
        ({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
          if (method === "HEAD") res.end();
          else res.end(body);
        },
        (error: unknown) => {
          deps.logger.error({ err: error }, "metrics exposition failed");
          res.writeHead(500, { "content-type": "text/plain" });
          res.end("internal error\n");
        },
      );
      return;
    }
    if (answerUnknownRpc(req, res, path)) return;
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found\n");
  };
}

function serveRoute(deps: FallbackDeps, route: HttpRoute, req: NodeRequest, res: NodeResponse): void {
  const requestId = deps.requestIdOf(req);
  // The route's child logger is made when first used: a pino child per request held for the
  // request's whole life costs memory a gateway with thousands of requests pending would notice.
  let child: Logger | undefined;
  const log = (): Logger => (child ??= deps.logger.child({ route: `${route.method} ${route.path}`, requestId }));
  const startMs = deps.nowMs();
  const done = (error: unknown): void => {
    const durationMs = Math.round((deps.nowMs() - startMs) * 1000) / 1000;
    if (error === undefined) {
      if (deps.logger.isLevelEnabled("debug")) log().debug({ status: res.statusCode, durationMs }, "http ok");
      return;
    }
    const logger = log();
    const wire = toWireError(error);
    if (wire.code === Code.Internal || wire.code === Code.Unknown) {
      logger.error({ durationMs, err: wire.cause ?? wire }, "http route failed");
    } else {
      logger.info({ durationMs, code: Code[wire.code], error: wire.rawMessage }, "http route failed");
    }
    if (!res.headersSent) {
      sendJsonError(res, wire);
    } else {
      res.destroy();
    }
  };
  let result: void | Promise<void>;
  try {
    const ctx: HttpRouteContext = {
      get logger() {
        return log();
      },
      requestId,
      readMaxBytes: deps.readMaxBytes,
    };
    result = route.handler(req, res, ctx);
  } catch (error) {
    done(error);
    return;
  }
  Promise.resolve(result).then(() => done(undefined), done);
}
