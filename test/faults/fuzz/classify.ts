/**
 * What an answer to malformed input means. The rule (issue 9, "Bad input"): a client error gets a
 * client error code — Connect/gRPC InvalidArgument, NotFound, AlreadyExists, PermissionDenied,
 * ResourceExhausted, FailedPrecondition, Aborted, OutOfRange, Unimplemented, Unauthenticated,
 * Canceled, or HTTP 4xx, or JSON-RPC -32700/-32600/-32601/-32602 (and -32002, the rate limit) —
 * never Internal/Unknown/DataLoss, an HTTP 5xx, a JSON-RPC -32603, a hang, or a dead server. One
 * exception, by gRPC's own spec: see GRPC_PROTOCOL_INTERNAL.
 *
 * Classes:
 *   ok               the input was acceptable after all (e.g. a random but valid echo call)
 *   client-error     refused with a client error code (the expected case)
 *   rejected-on-wire the server reset the stream or closed the connection: a protocol-level refusal
 *                    of malformed framing (HTTP/2 RST_STREAM or GOAWAY, HTTP/1.1 400-and-close)
 *   server-fault     a server error code for malformed input (a finding)
 *   hang             no answer within the timeout (a finding)
 *   down             the server could not be reached (a crash)
 */
import { Code } from "@connectrpc/connect";
import type { WireResult } from "./wire.js";

export type OutcomeClass = "ok" | "client-error" | "rejected-on-wire" | "server-fault" | "hang" | "down";

export interface Outcome {
  readonly cls: OutcomeClass;
  /** e.g. "InvalidArgument", "http 413", "jsonrpc -32700", "reset ERR_HTTP2_STREAM_ERROR". */
  readonly label: string;
  /** The server's message, for findings. */
  readonly message?: string;
}

export const CLIENT_CODES: ReadonlySet<Code> = new Set([
  Code.Canceled,
  Code.InvalidArgument,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.ResourceExhausted,
  Code.FailedPrecondition,
  Code.Aborted,
  Code.OutOfRange,
  Code.Unimplemented,
  Code.Unauthenticated,
]);

/** Connect's JSON code names ("invalid_argument") → Code. */
const CODE_BY_NAME = new Map<string, Code>(
  Object.values(Code)
    .filter((v): v is Code => typeof v === "number")
    .map((c) => [Code[c].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(), c]),
);

function fromCode(code: Code, message: string | undefined, allowDeadline: boolean): Outcome {
  if (CLIENT_CODES.has(code)) return { cls: "client-error", label: Code[code], ...(message === undefined ? {} : { message }) };
  if (code === Code.DeadlineExceeded && allowDeadline) return { cls: "client-error", label: "DeadlineExceeded (the client's own deadline)" };
  return { cls: "server-fault", label: Code[code] ?? `code ${code}`, ...(message === undefined ? {} : { message }) };
}

function notAnswered(r: Exclude<WireResult, { kind: "answered" }>): Outcome {
  switch (r.kind) {
    case "reset":
      // FRAME_SIZE_ERROR: the answer's headers or trailers were larger than a standard HTTP/2 client
      // accepts (64 KiB header list), e.g. a grpc-message that echoes a huge input. The client
      // cannot read its error at all: a server fault, not a refusal.
      if (/ rst 6$/.test(r.detail)) return { cls: "server-fault", label: "unreadable answer (FRAME_SIZE_ERROR: headers/trailers over the client's 64 KiB limit)" };
      return { cls: "rejected-on-wire", label: `reset ${r.detail}` };
    case "unreachable":
      return { cls: "down", label: `unreachable ${r.detail}` };
    case "timeout":
      return { cls: "hang", label: "no answer before the timeout" };
  }
}

function httpStatusOnly(status: number, body: Buffer): Outcome {
  if (status >= 200 && status < 300) return { cls: "ok", label: `http ${status}` };
  // connect-node answers a bidi-streaming call over HTTP/1.1 with 505 HTTP Version Not Supported
  // (RFC 9110 §15.6.6): the client picked a protocol version the method cannot work over. A 5xx
  // by number, a client error by meaning; listed in the report, not counted as a server fault.
  if (status === 505) return { cls: "client-error", label: "http 505 (bidi streaming needs HTTP/2)" };
  if (status >= 400 && status < 500) return { cls: "client-error", label: `http ${status}` };
  return { cls: "server-fault", label: `http ${status}`, message: body.toString("utf8", 0, 300) };
}

export interface ClassifyOptions {
  /**
   * The call carried its own deadline (connect-timeout-ms / grpc-timeout, e.g. the fuzzer's short
   * deadline on Health.Watch, or a fuzzed "0"): DeadlineExceeded is then the client's own doing.
   */
  readonly ownDeadline?: boolean;
}

/** A Connect unary (or streaming) answer over HTTP. */
export function classifyConnect(r: WireResult, o: ClassifyOptions = {}): Outcome {
  if (r.kind !== "answered") return notAnswered(r);
  const type = r.headers["content-type"] ?? "";
  if (type.startsWith("application/connect+")) {
    // A streaming answer: the end-stream message (flag 0x02) holds {"error": {...}} on failure.
    let at = 0;
    while (at + 5 <= r.body.length) {
      const flags = r.body[at]!;
      const len = r.body.readUInt32BE(at + 1);
      const msg = r.body.subarray(at + 5, at + 5 + len);
      if ((flags & 0x02) !== 0) {
        try {
          const end = JSON.parse(msg.toString("utf8")) as { error?: { code?: string; message?: string } };
          if (end.error === undefined) return { cls: "ok", label: "stream ok" };
          const code = CODE_BY_NAME.get(end.error.code ?? "");
          return code === undefined ? { cls: "server-fault", label: `stream error ${end.error.code}` } : fromCode(code, end.error.message, o.ownDeadline === true);
        } catch {
          return { cls: "server-fault", label: "unparsable end-stream message" };
        }
      }
      at += 5 + len;
    }
    if (r.status !== 200) return httpStatusOnly(r.status, r.body);
    return { cls: "rejected-on-wire", label: "stream without end message" };
  }
  if (r.status === 200) return { cls: "ok", label: "http 200" };
  try {
    const e = JSON.parse(r.body.toString("utf8")) as { code?: string; message?: string };
    const code = CODE_BY_NAME.get(e.code ?? "");
    if (code !== undefined) return fromCode(code, e.message, o.ownDeadline === true);
  } catch {
    // not a Connect error body: judge by status
  }
  return httpStatusOnly(r.status, r.body);
}

/** A gRPC or gRPC-Web answer. */
export function classifyGrpc(r: WireResult, o: ClassifyOptions = {}): Outcome {
  if (r.kind !== "answered") return notAnswered(r);
  let status = r.trailers["grpc-status"] ?? r.headers["grpc-status"];
  let message = r.trailers["grpc-message"] ?? r.headers["grpc-message"];
  if (status === undefined && (r.headers["content-type"] ?? "").startsWith("application/grpc-web")) {
    // gRPC-Web carries trailers in a final frame (flag 0x80) of "name: value\r\n" lines.
    let at = 0;
    while (at + 5 <= r.body.length) {
      const flags = r.body[at]!;
      const len = r.body.readUInt32BE(at + 1);
      if ((flags & 0x80) !== 0) {
        const text = r.body.subarray(at + 5, at + 5 + len).toString("utf8");
        for (const line of text.split("\r\n")) {
          const [k, ...v] = line.split(":");
          if (k?.trim().toLowerCase() === "grpc-status") status = v.join(":").trim();
          if (k?.trim().toLowerCase() === "grpc-message") message = v.join(":").trim();
        }
      }
      at += 5 + len;
    }
  }
  if (status === undefined) return r.status === 200 ? { cls: "rejected-on-wire", label: "no grpc-status" } : httpStatusOnly(r.status, r.body);
  const code = Number(status);
  const decoded = message === undefined ? undefined : decodeURIComponentSafe(message);
  if (code === 0) return { cls: "ok", label: "OK" };
  if (code === Code.Internal && decoded !== undefined && GRPC_PROTOCOL_INTERNAL.test(decoded)) {
    return { cls: "client-error", label: "Internal (gRPC's own code for an unparsable or undecompressable request)" };
  }
  return fromCode(code as Code, decoded, o.ownDeadline === true);
}

/**
 * gRPC's status table (grpc/grpc doc/statuscodes.md, "codes generated by the gRPC libraries") has
 * the server library answer INTERNAL for "Error parsing request proto" and for "Could not
 * decompress, but compression algorithm supported (Client -> Server)"; grpc-go answers INTERNAL
 * for a compressed flag without an encoding too. So over gRPC and gRPC-Web, Internal with exactly
 * connect-es's messages for those cases is the protocol's own answer to a malformed request, which
 * gRPC clients expect — a client error by meaning, reported under its own label (the last but one
 * message is the transport's own lean unary path, src/transport/lean-unary.ts). Only these
 * messages: an Internal from ccr's own code stays a finding. The Connect protocol is judged
 * apart (classifyConnect): its reference implementation (connect-go) answers invalid_argument, and
 * an HTTP 500 for a malformed body is a finding there.
 */
const GRPC_PROTOCOL_INTERNAL =
  /^(parse binary: .*|received compressed envelope, but do not know how to decompress|protocol error: received compressed message without grpc-encoding|decompression failed)$/s;

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Client-side JSON-RPC codes for malformed input (upstream's), and the rate limit's. */
export const JSON_RPC_CLIENT_CODES: ReadonlySet<number> = new Set([-32700, -32600, -32601, -32602, -32002]);

/** A JSON-RPC answer from the gateway's `POST /`. */
export function classifyJsonRpc(r: WireResult): Outcome {
  if (r.kind !== "answered") return notAnswered(r);
  let body: { error?: { code?: unknown; message?: unknown }; result?: unknown } | undefined;
  try {
    body = JSON.parse(r.body.toString("utf8")) as typeof body;
  } catch {
    // not JSON: judge by the HTTP status (e.g. the server's own 404/413 for non-JSON-RPC paths)
  }
  const error = body?.error;
  if (error === undefined || typeof error.code !== "number") {
    if (r.status === 200 && body?.result !== undefined) return { cls: "ok", label: "result" };
    // A Connect-style error body ({"code":"resource_exhausted"}) from the server's own checks.
    return classifyConnect(r);
  }
  const message = typeof error.message === "string" ? error.message : undefined;
  const label = `jsonrpc ${error.code} (http ${r.status})`;
  if (r.status >= 500 || !JSON_RPC_CLIENT_CODES.has(error.code)) return { cls: "server-fault", label, ...(message === undefined ? {} : { message }) };
  return { cls: "client-error", label, ...(message === undefined ? {} : { message }) };
}

/** Raw HTTP/1.1 bytes: a 4xx status line or a closed connection is a refusal; 5xx is a fault. */
export function classifyRawHttp1(r: { kind: "closed" | "waiting" | "unreachable" | "reset"; response: Buffer }): Outcome {
  if (r.kind === "unreachable") return { cls: "down", label: "unreachable" };
  const line = r.response.toString("latin1", 0, 64).split("\r\n")[0] ?? "";
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(line);
  if (m !== null) {
    const status = Number(m[1]);
    if (status >= 500) return { cls: "server-fault", label: `http ${status}`, message: r.response.toString("latin1", 0, 300) };
    return { cls: status < 400 ? "ok" : "client-error", label: `http ${status}` };
  }
  // The parser gave up without a word, or waits for the rest of an incomplete request.
  return { cls: "rejected-on-wire", label: r.kind === "waiting" ? "waiting for more bytes (closed by the fuzzer)" : `connection ${r.kind}` };
}

/** Raw HTTP/2 frames: the server ends the connection (GOAWAY) or waits; it must not die. */
export function classifyRawHttp2(r: { kind: "closed" | "waiting" | "unreachable" | "reset"; response: Buffer }): Outcome {
  if (r.kind === "unreachable") return { cls: "down", label: "unreachable" };
  // Look for a GOAWAY frame (type 0x7) in what came back, for the label.
  let goaway: number | undefined;
  let at = 0;
  while (at + 9 <= r.response.length) {
    const len = r.response.readUIntBE(at, 3);
    const type = r.response[at + 3];
    if (type === 0x7 && at + 17 <= r.response.length) goaway = r.response.readUInt32BE(at + 13);
    at += 9 + len;
  }
  return { cls: "rejected-on-wire", label: goaway !== undefined ? `GOAWAY error ${goaway}` : `connection ${r.kind}` };
}
