/**
 * JSON-RPC 2.0 compatibility endpoint for enclaves built against upstream (`POST /`, content types
 * `application/json` and `application/jsonrpc`; chainlink-relay.md §2.1–2.4). Methods
 * `confidential.secrets.get` and `confidential.capability.execute`; the JSON-RPC `id` (a string, as
 * upstream) is the request id. Error codes as upstream (§2.1, §3.6):
 *   -32700 parse error, -32600 invalid request (envelope, request id, duplicate id),
 *   -32601 method not found, -32602 invalid params (and node-agreed InvalidArgument / NotFound /
 *   FailedPrecondition / OutOfRange), -32603 internal (quorum unobtainable, forward failure, …),
 *   -32000 timeout, -32002 limit exceeded (rate or capacity, with `retry-after-ms`).
 * `error.data` carries the Connect code name, and for node-agreed errors the RelayErrorDetail.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { RelayMethod, RelayErrorDetailSchema, type RelayMethodName, type RelayParams } from "../../contract/index.js";
import { ccrError } from "../../domain/errors.js";
import { CallAbort, type CallSignal } from "../../transport/call-signal.js";
import { answerToJson, paramsFromJsonRpc, relayErrorDetailToJson } from "./json-rpc-params.js";
import { requestIdProblem, RETRY_AFTER_HEADER, type RelayGateway } from "./relay-gateway.js";
import { relayErrorToConnect } from "./service.js";

export const JsonRpcCode = Object.freeze({
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  timeout: -32000,
  limitExceeded: -32002,
} as const);

const HTTP_STATUS: Record<number, number> = {
  [JsonRpcCode.parseError]: 400,
  [JsonRpcCode.invalidRequest]: 400,
  [JsonRpcCode.methodNotFound]: 404,
  [JsonRpcCode.invalidParams]: 400,
  [JsonRpcCode.internal]: 500,
  [JsonRpcCode.timeout]: 504,
  [JsonRpcCode.limitExceeded]: 429,
};

const CONTENT_TYPES = new Set(["application/json", "application/jsonrpc"]);
const METHODS = new Set<string>([RelayMethod.getSecrets, RelayMethod.executeCapability]);

/** The JSON-RPC code for a Connect code. */
export function jsonRpcCodeOf(code: Code): number {
  switch (code) {
    case Code.InvalidArgument:
    case Code.NotFound:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return JsonRpcCode.invalidParams;
    case Code.AlreadyExists:
    case Code.PermissionDenied:
    case Code.Unauthenticated:
      return JsonRpcCode.invalidRequest;
    case Code.DeadlineExceeded:
      return JsonRpcCode.timeout;
    case Code.ResourceExhausted:
      return JsonRpcCode.limitExceeded;
    default:
      return JsonRpcCode.internal;
  }
}

/** Connect's wire name of a code ("invalid_argument"). */
function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

type JsonId = string | null;

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers?: Record<string, string>;
}

function errorReply(id: JsonId, method: string, code: number, message: string, data: unknown = null, headers?: Record<string, string>): Reply {
  return {
    status: HTTP_STATUS[code] ?? 500,
    body: JSON.stringify({ jsonrpc: "2.0", id, method, error: { code, message, data } }),
    ...(headers === undefined ? {} : { headers }),
  };
}

function connectErrorReply(id: JsonId, method: string, e: ConnectError): Reply {
  const data: Record<string, unknown> = { code: codeName(e.code) };
  const detail = e.findDetails(RelayErrorDetailSchema)[0];
  if (detail !== undefined) data["relay_error"] = relayErrorDetailToJson(detail);
  const retry = e.metadata.get(RETRY_AFTER_HEADER);
  let headers: Record<string, string> | undefined;
  if (retry !== null) {
    data["retry_after_ms"] = Number(retry);
    headers = { [RETRY_AFTER_HEADER]: retry };
  }
  return errorReply(id, method, jsonRpcCodeOf(e.code), e.rawMessage, data, headers);
}

export interface JsonRpcHandlerOptions {
  readonly maxBodyBytes: number;
}

/** HTTP/1.1 or HTTP/2 (compatibility API) request and response, as the one-port server hands them over. */
export type JsonRpcRequest = IncomingMessage | Http2ServerRequest;
export type JsonRpcResponse = ServerResponse | Http2ServerResponse;

/** Serves one call; the promise settles once the reply is written (or the client is gone). */
export type JsonRpcHandler = (req: JsonRpcRequest, res: JsonRpcResponse) => Promise<void>;

/** Reads the body up to `max` bytes; undefined when it is larger. */
async function readBody(req: JsonRpcRequest, max: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > max) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function relayReply(gateway: RelayGateway, id: JsonId, method: string, relayMethod: RelayMethodName, params: RelayParams, signal: CallSignal): Promise<Reply> {
  return gateway.relay(params, { signal }).then(
    (answer): Reply => {
      const result = answer.result;
      if (result.case === "error") return connectErrorReply(id, method, relayErrorToConnect(result.value, answer));
      const expected = relayMethod === RelayMethod.getSecrets ? "secrets" : "capability";
      if (result.case !== expected) {
        return errorReply(id, method, JsonRpcCode.internal, "nodes agreed on a result of the wrong kind for this method");
      }
      return { status: 200, body: JSON.stringify({ jsonrpc: "2.0", id, method, result: answerToJson(result, answer.certificate) }) };
    },
    (e: unknown) => connectErrorReply(id, method, e instanceof ConnectError ? e : ccrError("internal error", Code.Internal, e)),
  );
}

export function createJsonRpcHandler(gateway: RelayGateway, options: JsonRpcHandlerOptions): JsonRpcHandler {
  const handle = async (req: JsonRpcRequest, res: JsonRpcResponse, signal: CallSignal): Promise<Reply> => {
    if (req.method !== "POST") return errorReply(null, "", JsonRpcCode.invalidRequest, "JSON-RPC requests must use POST");
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    if (!CONTENT_TYPES.has(contentType)) {
      return {
        ...errorReply(null, "", JsonRpcCode.invalidRequest, `unsupported content type "${contentType}": use application/json or application/jsonrpc`),
        status: 415,
      };
    }
    res.setHeader("content-type", contentType);
    const body = await readBody(req, options.maxBodyBytes);
    if (body === undefined) {
      return {
        ...errorReply(null, "", JsonRpcCode.invalidRequest, `request body is larger than ${options.maxBodyBytes} bytes`),
        status: 413,
      };
    }
    let msg: unknown;
    try {
      msg = JSON.parse(body.toString("utf8"));
    } catch {
      return errorReply(null, "", JsonRpcCode.parseError, "parse error: the body is not valid JSON");
    }
    if (typeof msg !== "object" || msg === null || Array.isArray(msg)) {
      return errorReply(null, "", JsonRpcCode.invalidRequest, Array.isArray(msg) ? "batch requests are not supported" : "the request must be a JSON object");
    }
    const m = msg as Record<string, unknown>;
    const id: JsonId = typeof m["id"] === "string" ? m["id"] : null;
    if (m["jsonrpc"] !== "2.0") return errorReply(id, "", JsonRpcCode.invalidRequest, "incorrect jsonrpc version");
    if (typeof m["id"] !== "string") return errorReply(null, "", JsonRpcCode.invalidRequest, "id must be a string (it is the request ID)");
    const method = m["method"];
    if (typeof method !== "string" || method === "") return errorReply(id, "", JsonRpcCode.invalidRequest, "empty method field");
    if (!METHODS.has(method)) return errorReply(id, method, JsonRpcCode.methodNotFound, `method not found: ${method}`);
    const relayMethod = method as RelayMethodName;
    // The id is the request id; its problems are envelope problems here (-32600), as upstream.
    const idProblem = requestIdProblem(m["id"]);
    if (idProblem !== undefined) return errorReply(id, method, JsonRpcCode.invalidRequest, idProblem);
    if (m["params"] === undefined || m["params"] === null) return errorReply(id, method, JsonRpcCode.invalidParams, "invalid params: params are required");
    const mapped = paramsFromJsonRpc(relayMethod, m["id"], m["params"]);
    if (mapped.kind === "invalid") return errorReply(id, method, JsonRpcCode.invalidParams, `invalid params: ${mapped.reason}`);

    // Returned, not awaited: this frame (the body, the parsed JSON) is released while the relay runs.
    return relayReply(gateway, id, method, relayMethod, mapped.params, signal);
  };

  return (req, res) => {
    // The client leaving before the answer cancels the relay (and reaches the nodes as RelayCancel).
    // CallAbort, not AbortController: it is held as long as the request is pending (call-signal.ts).
    const abort = new CallAbort();
    const onClose = (): void => {
      if (!res.writableFinished) abort.abort(ccrError("client closed the connection", Code.Canceled));
    };
    res.once("close", onClose);
    return handle(req, res, abort.signal)
      .catch(() => errorReply(null, "", JsonRpcCode.internal, "internal error"))
      .then((reply) => {
        if (res.destroyed || res.writableEnded) return;
        if (!res.hasHeader("content-type")) res.setHeader("content-type", "application/json");
        for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
        res.statusCode = reply.status;
        res.end(reply.body);
      })
      .finally(() => {
        res.off("close", onClose);
      });
  };
}
