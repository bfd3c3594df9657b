/**
 * The lean unary path: plain gRPC unary calls to chosen methods, served straight off the HTTP/2
 * stream instead of through connect-node.
 *
 * Why: connect-node holds about 36 KB of heap per pending unary call (its compatibility-API request
 * and response objects, context values, header objects, async iterables and generators, a per-call
 * child logger and abort plumbing). A gateway keeps every enclave request pending until F+1 nodes
 * answer, so that cost times 10 000 requests in flight was most of its memory (issue 3), and the
 * machinery is also most of its CPU per call. This path keeps a call to one small record.
 *
 * Scope: only the simple, common case takes this path: `POST`, content type `application/grpc` or
 * `application/grpc+proto`, no request compression, a well-formed `grpc-timeout` (if any) within
 * `maxTimeoutMs`. Everything else (Connect, gRPC-Web, gRPC+JSON, gzip, odd deadlines, HTTP/1.1) goes
 * through connect-node as before, so every protocol still works and its error answers stay
 * connect's. The path keeps what the call interceptor gives other calls (call-observer.ts): the
 * `grpc_server_*` metrics, one log line per call (debug on success, info for an expected error,
 * error with the cause for a server fault), the one error mapping, `x-request-id`, deadlines
 * answered even if the handler ignores its signal, and in-flight tracking for graceful shutdown.
 * Servers with extra interceptors do not use it (those interceptors must see every call).
 */
import type * as http2 from "node:http2";
import { create, fromBinary, isMessage, toBinary, type DescMethodUnary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { DeadlineQueue, type Deadlined } from "../domain/deadline-queue.js";
import { toWireError, type InflightCalls } from "./call-observer.js";
import { CallAbort, type CallSignal } from "./call-signal.js";

export type { CallSignal } from "./call-signal.js";
import type { Logger } from "./logger.js";
import { grpcCodeName, methodLabels, type MethodLabelValues, type ServerMetrics } from "./metrics.js";

/** What a lean handler learns about its call. */
export interface LeanUnaryCall {
  /** Aborts when the client goes away, the client's deadline passes, or the server shuts down. */
  readonly signal: CallSignal;
  /** Remaining ms of the client's deadline, or undefined when it sent none (as connect's `ctx.timeoutMs()`). */
  timeoutMs(): number | undefined;
  /** The call's request id (`x-request-id`, or generated). */
  readonly requestId: string;
}

/**
 * A lean call whose handler answers through the call itself instead of returning a promise: for a
 * handler that keeps the call pending for long (the gateway, until F+1 nodes answer), the promise,
 * its reactions and their closures were a third of what each pending call held. The first `reply` or
 * `fail` answers; later ones, and any after the call ended (client gone, deadline), do nothing.
 */
export interface LeanReplyCall<O extends DescMessage = DescMessage> extends LeanUnaryCall {
  reply(response: MessageShape<O> | MessageInitShape<O>): void;
  /** Answers with an error, mapped as any handler's error is (a ConnectError keeps its code). */
  fail(error: unknown): void;
}

/** One method served on the lean path. */
export interface LeanUnaryRoute {
  readonly method: DescMethodUnary;
  /** "promise": `handle` returns (a promise of) the answer; "reply": it answers through the call. */
  readonly style: "promise" | "reply";
  handle(request: unknown, call: LeanReplyCall): unknown;
}

/** Pairs a unary method with its lean handler, type-checking the handler against the method. */
export function leanUnary<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  handle: (request: MessageShape<I>, call: LeanUnaryCall) => Promise<MessageShape<O> | MessageInitShape<O>>,
): LeanUnaryRoute {
  return { method: method as unknown as DescMethodUnary, style: "promise", handle: handle as LeanUnaryRoute["handle"] };
}

/** Like `leanUnary`, for a handler that answers through `call.reply` / `call.fail` (LeanReplyCall). */
export function leanUnaryReplying<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  handle: (request: MessageShape<I>, call: LeanReplyCall<O>) => void,
): LeanUnaryRoute {
  return { method: method as unknown as DescMethodUnary, style: "reply", handle: handle as LeanUnaryRoute["handle"] };
}

/** The request headers that decide whether a stream takes the lean path. */
export interface LeanHeaders {
  readonly ":method"?: string | undefined;
  readonly ":path"?: string | undefined;
  readonly "content-type"?: string | undefined;
  readonly "grpc-encoding"?: string | undefined;
  readonly "grpc-timeout"?: string | undefined;
}

export type LeanDecision =
  | { readonly lean: false }
  | { readonly lean: true; readonly route: LeanUnaryRoute; readonly timeoutMs: number | undefined };

const notLean: LeanDecision = Object.freeze({ lean: false });

/**
 * Whether a stream with these headers takes the lean path (pure). Anything this path would have to
 * refuse or translate is left to connect-node, which answers it exactly as before.
 */
export function leanDecision(
  routes: ReadonlyMap<string, LeanUnaryRoute>,
  headers: LeanHeaders,
  maxTimeoutMs: number | undefined,
): LeanDecision {
  if (headers[":method"] !== "POST") return notLean;
  const route = routes.get(headers[":path"] ?? "");
  if (route === undefined) return notLean;
  const contentType = headers["content-type"];
  if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return notLean;
  const encoding = headers["grpc-encoding"];
  if (encoding !== undefined && encoding !== "identity") return notLean;
  const timeout = headers["grpc-timeout"];
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    const parsed = parseTimeout(timeout, maxTimeoutMs ?? Number.MAX_SAFE_INTEGER);
    if (parsed.error !== undefined || parsed.timeoutMs === undefined) return notLean;
    timeoutMs = parsed.timeoutMs;
  }
  return { lean: true, route, timeoutMs };
}

/**
 * The one message of a unary gRPC request body: a 5-byte prefix (flags, big-endian length) and the
 * message (pure). Errors are what connect-node answers for the same faults.
 */
export function unaryGrpcMessage(body: Uint8Array): Uint8Array | ConnectError {
  if (body.length < 5) return new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  const flags = body[0] as number;
  if ((flags & 0b1) !== 0) return new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  if ((flags & 0x80) !== 0) return new ConnectError("protocol error: unexpected end-of-stream flag", Code.InvalidArgument);
  const length = ((body[1] as number) * 2 ** 24) + (((body[2] as number) << 16) | ((body[3] as number) << 8) | (body[4] as number));
  if (body.length < 5 + length) return new ConnectError("protocol error: premature end of stream", Code.InvalidArgument);
  if (body.length > 5 + length) {
    return new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  }
  return body.subarray(5);
}

/** Frames one response message with the 5-byte gRPC prefix (pure). */
export function frameGrpcMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(5 + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** The headers of a trailers-only error answer, or the trailers after a message (`error` undefined). */
export function grpcStatusFields(error: ConnectError | undefined): Record<string, string> {
  const fields: Record<string, string> = {};
  setTrailerStatus(new Headers(), error).forEach((value, key) => {
    fields[key] = value;
  });
  return fields;
}

/** Codes that mean the server is at fault: logged at error level with their cause (as call-observer.ts). */
const serverFaultCodes: ReadonlySet<Code> = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

export interface LeanUnaryDeps {
  readonly routes: readonly LeanUnaryRoute[];
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly inflight: InflightCalls;
  readonly readMaxBytes: number;
  readonly writeMaxBytes: number | undefined;
  readonly maxTimeoutMs: number | undefined;
  /** Aborts every lean call (graceful shutdown's end of grace). */
  readonly shutdownSignal: AbortSignal;
  readonly nowMs: () => number;
  /** A call's request id from the client's `x-request-id`, as the server's entry point assigns it. */
  readonly requestIdFor: (offered: string | string[] | undefined) => string;
}

/** Per-method constants, computed once. */
interface RouteEntry {
  readonly route: LeanUnaryRoute;
  readonly rpc: string;
  readonly labels: MethodLabelValues;
}

/** Where a stream's lean call is kept, so its listeners are shared functions, not closures per call. */
const leanCallKey: unique symbol = Symbol("ccr.leanCall");
type LeanStreamObject = http2.ServerHttp2Stream & { [leanCallKey]?: LeanCall };

function onStreamData(this: LeanStreamObject, chunk: Buffer): void {
  const call = this[leanCallKey];
  if (call !== undefined) call.server.onData(call, chunk);
}

function onStreamEnd(this: LeanStreamObject): void {
  const call = this[leanCallKey];
  if (call !== undefined) call.server.onEnd(call);
}

/** A reset or a dead connection: the client is gone, so there is no one to answer. */
function onStreamClose(this: LeanStreamObject): void {
  const call = this[leanCallKey];
  this[leanCallKey] = undefined;
  if (call !== undefined && !call.answered) call.server.finish(call, new ConnectError("the client closed the stream", Code.Canceled), false);
}

function ignoreStreamError(): void {}

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(okTrailers);
}

const okTrailers = Object.freeze({ "grpc-status": "0" });

/**
 * One lean call in flight. Everything it needs, in one object; it is also the call's signal and,
 * for "reply" routes, its answer. Kept small: a gateway holds one per request in flight.
 */
class LeanCall extends CallAbort implements LeanReplyCall, Deadlined {
  /** The request body: one chunk (the common case), several, or none yet. */
  body: Buffer | Buffer[] | undefined = undefined;
  size = 0;
  answered = false;
  deadlineSlot = -1;
  deadlineSeq = 0;

  /** Assigned on first use (the answer, the log line): a pending call holds no generated id. */
  private assignedRequestId: string | undefined = undefined;

  constructor(
    readonly server: LeanUnaryServer,
    readonly stream: http2.ServerHttp2Stream,
    readonly entry: RouteEntry,
    /** The request's content type was `application/grpc+proto` (echoed in the answer). */
    readonly plusProto: boolean,
    /** The client's `x-request-id`, if it sent one. */
    readonly offeredRequestId: string | string[] | undefined,
    readonly startMs: number,
    /** Infinity when the client sent no deadline. */
    readonly deadlineAtMs: number,
  ) {
    super();
  }

  get requestId(): string {
    return (this.assignedRequestId ??= this.server.deps.requestIdFor(this.offeredRequestId));
  }

  timeoutMs(): number | undefined {
    // Whole ms, as connect's: callers put it in integer fields (the gateway's RelayRequest.timeout_ms).
    return this.deadlineAtMs === Infinity ? undefined : Math.floor(this.deadlineAtMs - this.server.deps.nowMs());
  }

  reply(response: unknown): void {
    this.server.answer(this, response);
  }

  fail(error: unknown): void {
    this.server.fail(this, toWireError(error, this));
  }
}

function contentTypeOf(call: LeanCall): string {
  return call.plusProto ? "application/grpc+proto" : "application/grpc";
}

/** Real timers for the deadline queue, unref'd: a pending deadline never keeps the process alive. */
const unrefTimers = Object.freeze({
  setTimeout(callback: () => void, delayMs: number): NodeJS.Timeout {
    const t = setTimeout(callback, delayMs);
    t.unref();
    return t;
  },
  clearTimeout(handle: NodeJS.Timeout): void {
    clearTimeout(handle);
  },
});

/**
 * Serves the lean routes. `take(stream, headers)` is called for every HTTP/2 stream before the
 * compatibility API sees it; it returns false for streams that are not its own.
 */
export class LeanUnaryServer {
  private readonly routes = new Map<string, RouteEntry>();
  private readonly decisionRoutes = new Map<string, LeanUnaryRoute>();
  private readonly calls = new Set<LeanCall>();
  /** Client deadlines (`grpc-timeout`), on one timer. */
  private readonly deadlines: DeadlineQueue<LeanCall, NodeJS.Timeout>;

  constructor(readonly deps: LeanUnaryDeps) {
    for (const route of deps.routes) {
      const path = `/${route.method.parent.typeName}/${route.method.name}`;
      if (this.routes.has(path)) throw new ConnectError(`server: lean route ${path} is registered twice`, Code.InvalidArgument);
      this.routes.set(path, { route, rpc: path.slice(1), labels: methodLabels(route.method) });
      this.decisionRoutes.set(path, route);
    }
    this.deadlines = new DeadlineQueue<LeanCall, NodeJS.Timeout>(unrefTimers, deps.nowMs, (call) =>
      this.fail(call, new ConnectError("the operation timed out", Code.DeadlineExceeded)),
    );
    deps.shutdownSignal.addEventListener("abort", () => {
      const reason = toWireError(deps.shutdownSignal.reason);
      for (const call of [...this.calls]) this.fail(call, reason);
    }, { once: true });
  }

  /** Lean calls in flight. */
  get size(): number {
    return this.calls.size;
  }

  /** Takes the stream if it is a lean call. */
  take(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean {
    if (this.routes.size === 0) return false;
    const decision = leanDecision(this.decisionRoutes, headers as LeanHeaders, this.deps.maxTimeoutMs);
    if (!decision.lean) return false;
    const deps = this.deps;
    const path = headers[":path"] as string;
    const entry = this.routes.get(path) as RouteEntry;
    const startMs = deps.nowMs();
    const call = new LeanCall(
      this,
      stream,
      entry,
      headers["content-type"] === "application/grpc+proto",
      headers["x-request-id"],
      startMs,
      decision.timeoutMs === undefined ? Infinity : startMs + decision.timeoutMs,
    );
    this.calls.add(call);
    deps.inflight.enter();
    deps.metrics.callStarted(entry.labels);
    if (decision.timeoutMs !== undefined) this.deadlines.add(call);
    (stream as LeanStreamObject)[leanCallKey] = call;
    stream.on("data", onStreamData);
    stream.on("end", onStreamEnd);
    stream.on("close", onStreamClose);
    stream.on("error", ignoreStreamError);
    return true;
  }

  /** @internal (the stream listeners) */
  onData(call: LeanCall, chunk: Buffer): void {
    if (call.answered) return;
    call.size += chunk.length;
    if (call.size > 5 + this.deps.readMaxBytes) {
      this.fail(call, new ConnectError(`message size is larger than configured readMaxBytes ${this.deps.readMaxBytes}`, Code.ResourceExhausted));
      return;
    }
    const body = call.body;
    if (body === undefined) call.body = chunk;
    else if (Array.isArray(body)) body.push(chunk);
    else call.body = [body, chunk];
  }

  /** @internal (the stream listeners) */
  onEnd(call: LeanCall): void {
    if (call.answered) return;
    const chunks = call.body;
    call.body = undefined;
    const body = chunks === undefined ? Buffer.alloc(0) : Array.isArray(chunks) ? Buffer.concat(chunks, call.size) : chunks;
    const bytes = unaryGrpcMessage(body);
    if (bytes instanceof ConnectError) {
      this.fail(call, bytes);
      return;
    }
    const { route, labels } = call.entry;
    let request: unknown;
    try {
      request = fromBinary(route.method.input, bytes);
    } catch (e) {
      this.fail(call, new ConnectError("failed to decode the request message", Code.InvalidArgument, undefined, undefined, e));
      return;
    }
    this.deps.metrics.messageReceived(labels);
    if (route.style === "reply") {
      try {
        route.handle(request, call);
      } catch (e) {
        this.fail(call, toWireError(e, call));
      }
      return;
    }
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve(route.handle(request, call));
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then(
      (response) => this.answer(call, response),
      (e: unknown) => this.fail(call, toWireError(e, call)),
    );
  }

  /** @internal (LeanCall.reply) */
  answer(call: LeanCall, response: unknown): void {
    if (call.answered) return;
    const output = call.entry.route.method.output;
    let frame: Buffer;
    try {
      const message = isMessage(response, output) ? response : create(output, response as MessageInitShape<DescMessage>);
      const bytes = toBinary(output, message);
      const max = this.deps.writeMaxBytes;
      if (max !== undefined && bytes.length > max) {
        this.fail(call, new ConnectError(`message size ${bytes.length} is larger than configured writeMaxBytes ${max}`, Code.ResourceExhausted));
        return;
      }
      frame = frameGrpcMessage(bytes);
    } catch (e) {
      this.fail(call, toWireError(e));
      return;
    }
    const stream = call.stream;
    this.finish(call, undefined, true);
    if (stream.destroyed || stream.closed) return;
    try {
      stream.respond({ ":status": 200, "content-type": contentTypeOf(call), "x-request-id": call.requestId }, { waitForTrailers: true });
      stream.once("wantTrailers", sendOkTrailers);
      stream.end(frame);
    } catch {
      // The stream closed under us; the client is gone.
    }
  }

  /** Answers with an error as a trailers-only response (if the client is still there). @internal */
  fail(call: LeanCall, error: ConnectError): void {
    if (call.answered) return;
    const stream = call.stream;
    this.finish(call, error, true);
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    try {
      stream.respond(
        { ":status": 200, "content-type": contentTypeOf(call), "x-request-id": call.requestId, ...grpcStatusFields(error) },
        { endStream: true },
      );
    } catch {
      // The stream closed under us; the client is gone.
    }
  }

  /** Ends the call once: deadline, signal, metrics, log line, in-flight accounting. @internal */
  finish(call: LeanCall, error: ConnectError | undefined, reachedClient: boolean): void {
    if (call.answered) return;
    call.answered = true;
    call.body = undefined;
    this.calls.delete(call);
    this.deadlines.remove(call);
    // Tell the handler to stop: an error answer (deadline, shutdown, bad request) or a client gone.
    if (error !== undefined) call.abort(error);
    const deps = this.deps;
    deps.inflight.leave();
    const seconds = (deps.nowMs() - call.startMs) / 1000;
    const { labels, rpc } = call.entry;
    if (error === undefined && reachedClient) deps.metrics.messageSent(labels);
    deps.metrics.callHandled(labels, error === undefined ? 0 : error.code, seconds);
    this.log(rpc, call.requestId, Math.round(seconds * 1e6) / 1000, error);
  }

  private log(rpc: string, requestId: string, durationMs: number, error: ConnectError | undefined): void {
    const logger = this.deps.logger;
    if (error === undefined) {
      if (logger.isLevelEnabled("debug")) logger.debug({ rpc, requestId, code: "OK", durationMs }, "rpc ok");
      return;
    }
    const fields: Record<string, unknown> = { rpc, requestId, code: grpcCodeName(error.code), durationMs, error: error.rawMessage };
    if (serverFaultCodes.has(error.code)) {
      if (error.cause !== undefined) fields["cause"] = error.cause;
      logger.error(fields, "rpc failed");
    } else if (logger.isLevelEnabled("info")) {
      if (error.cause instanceof Error) fields["causeMessage"] = error.cause.message;
      logger.info(fields, "rpc failed");
    }
  }
}
