/**
 * The lean bidi-stream path: plain gRPC bidi streams to chosen methods, read and written straight
 * on the HTTP/2 stream instead of through connect-node (the streaming sibling of lean-unary.ts).
 *
 * Why: the gateway's node streams carry 2N+ messages per relayed request, and connect-node spends
 * tens of µs of CPU on each (async-iterable pipelines, a write promise per message, the call
 * interceptor's wrappers): most of the gateway's CPU per relay (issue 3's throughput target).
 *
 * Scope as lean-unary.ts: `POST`, `application/grpc` or `application/grpc+proto`, no request
 * compression, a well-formed `grpc-timeout` within `maxTimeoutMs`; anything else goes to
 * connect-node. Responses are never compressed. The path keeps the `grpc_server_*` metrics (one
 * received / sent count per message), one log line per call, the error mapping, `x-request-id`,
 * deadlines, client cancels and graceful shutdown.
 *
 * Flow control: inbound messages are queued until the handler pulls them, and the HTTP/2 stream is
 * paused while more than a few wait; outbound messages are written as the handler yields them and
 * the next is pulled only once the stream takes more (`write` returned true, or "drain"), so a peer
 * that reads nothing stalls only its own stream.
 */
import type * as http2 from "node:http2";
import { fromBinary, toBinary, type DescMessage, type DescMethodBiDiStreaming, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { toWireError, type InflightCalls } from "./call-observer.js";
import { CallAbort, type CallSignal } from "./call-signal.js";
import { frameGrpcMessage, grpcStatusFields, leanDecision, type LeanHeaders, type LeanUnaryRoute } from "./lean-unary.js";
import type { Logger } from "./logger.js";
import { grpcCodeName, methodLabels, type MethodLabelValues, type ServerMetrics } from "./metrics.js";

/** What a lean stream handler learns about its call. */
export interface LeanStreamCall {
  /** Aborts when the client goes away, the deadline passes, or the server shuts down. */
  readonly signal: CallSignal;
  readonly requestId: string;
}

/** One bidi method served on the lean path. */
export interface LeanBidiRoute {
  readonly method: DescMethodBiDiStreaming;
  handle(requests: AsyncIterable<unknown>, call: LeanStreamCall): AsyncIterable<unknown>;
}

/** Pairs a bidi method with its lean handler, type-checking the handler against the method. */
export function leanBidi<I extends DescMessage, O extends DescMessage>(
  method: DescMethodBiDiStreaming<I, O>,
  handle: (requests: AsyncIterable<MessageShape<I>>, call: LeanStreamCall) => AsyncIterable<MessageShape<O>>,
): LeanBidiRoute {
  return { method: method as unknown as DescMethodBiDiStreaming, handle: handle as LeanBidiRoute["handle"] };
}

/**
 * Splits gRPC frames off the front of `buffer` (pure): the complete messages, and the bytes of an
 * incomplete frame left over. A compressed frame (we never negotiate compression) is an error.
 */
export function splitGrpcFrames(buffer: Buffer, maxBytes: number): { messages: Buffer[]; rest: Buffer } | ConnectError {
  const messages: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 5) {
    const flags = buffer[offset] as number;
    if ((flags & 0b1) !== 0) return new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
    const length = buffer.readUInt32BE(offset + 1);
    if (length > maxBytes) return new ConnectError(`message size ${length} is larger than configured readMaxBytes ${maxBytes}`, Code.ResourceExhausted);
    if (buffer.length - offset < 5 + length) break;
    messages.push(buffer.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  return { messages, rest: offset === 0 ? buffer : buffer.subarray(offset) };
}

/** Pause the HTTP/2 stream while this many decoded messages wait for the handler. */
const INBOUND_HIGH_WATER = 16;

export interface LeanStreamDeps {
  readonly routes: readonly LeanBidiRoute[];
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly inflight: InflightCalls;
  readonly readMaxBytes: number;
  readonly maxTimeoutMs: number | undefined;
  readonly shutdownSignal: AbortSignal;
  readonly nowMs: () => number;
}

interface RouteEntry {
  readonly route: LeanBidiRoute;
  readonly rpc: string;
  readonly labels: MethodLabelValues;
}

/** Serves the lean bidi routes; `take` as LeanUnaryServer's. */
export class LeanStreamServer {
  private readonly routes = new Map<string, RouteEntry>();
  private readonly decisionRoutes = new Map<string, LeanUnaryRoute>();
  private readonly calls = new Set<LeanStream>();

  constructor(readonly deps: LeanStreamDeps) {
    for (const route of deps.routes) {
      const path = `/${route.method.parent.typeName}/${route.method.name}`;
      if (this.routes.has(path)) throw new ConnectError(`server: lean route ${path} is registered twice`, Code.InvalidArgument);
      this.routes.set(path, { route, rpc: path.slice(1), labels: methodLabels(route.method) });
      // leanDecision only looks the path up; the unary route type is incidental.
      this.decisionRoutes.set(path, route as unknown as LeanUnaryRoute);
    }
    deps.shutdownSignal.addEventListener(
      "abort",
      () => {
        const reason = toWireError(deps.shutdownSignal.reason);
        for (const call of [...this.calls]) call.fail(reason);
      },
      { once: true },
    );
  }

  take(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, requestId: () => string): boolean {
    if (this.routes.size === 0) return false;
    const decision = leanDecision(this.decisionRoutes, headers as LeanHeaders, this.deps.maxTimeoutMs);
    if (!decision.lean) return false;
    const entry = this.routes.get(headers[":path"] as string) as RouteEntry;
    const call = new LeanStream(this, stream, entry, headers["content-type"] as string, requestId(), this.calls);
    call.start(decision.timeoutMs);
    return true;
  }
}

/** One lean bidi call: its inbound queue, its outbound pump, and its end. */
class LeanStream extends CallAbort implements LeanStreamCall, AsyncIterator<unknown> {
  private readonly startMs: number;
  private pending: Buffer = Buffer.alloc(0);
  private readonly inbound: unknown[] = [];
  private inboundEnded = false;
  private waiting: { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void } | null = null;
  private paused = false;
  private finished = false;
  private deadline: NodeJS.Timeout | undefined;
  private readonly endInflight: () => void;
  private output: AsyncIterator<unknown> | undefined;

  constructor(
    private readonly server: LeanStreamServer,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly entry: RouteEntry,
    private readonly contentType: string,
    readonly requestId: string,
    private readonly registry: Set<LeanStream>,
  ) {
    super();
    this.startMs = server.deps.nowMs();
    this.endInflight = server.deps.inflight.begin();
  }

  override get signal(): CallSignal {
    return this;
  }

  start(timeoutMs: number | undefined): void {
    const { deps } = this.server;
    this.registry.add(this);
    deps.metrics.callStarted(this.entry.labels);
    if (timeoutMs !== undefined) {
      this.deadline = setTimeout(() => this.fail(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeoutMs);
      this.deadline.unref();
    }
    const stream = this.stream;
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    // A reset (RST_STREAM) is a cancel, not the end of the requests: Node emits "aborted" and may
    // also end the readable side, so "end" checks for it before it counts as a half-close.
    stream.once("aborted", () => this.cancelled());
    stream.once("end", () => {
      if (stream.aborted || (stream.rstCode !== undefined && stream.rstCode !== 0)) {
        this.cancelled();
        return;
      }
      this.inboundEnded = true;
      this.wakeReader();
    });
    stream.once("close", () => this.cancelled());
    stream.on("error", () => undefined);
    // Response headers at once: a bidi peer may wait for them before it sends more.
    try {
      stream.respond({ ":status": 200, "content-type": this.contentType, "x-request-id": this.requestId }, { waitForTrailers: true });
    } catch {
      return;
    }
    stream.on("wantTrailers", () => this.sendTrailers());
    void this.pump();
  }

  /** The client reset the stream or the connection went away: no one to answer. */
  private cancelled(): void {
    if (!this.finished) this.end(new ConnectError("the client closed the stream", Code.Canceled), false);
  }

  // ── inbound: an async iterator over the decoded requests ───────────────────────────────────────

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.inbound.length > 0) {
      const value = this.inbound.shift();
      if (this.paused && this.inbound.length < INBOUND_HIGH_WATER / 2) {
        this.paused = false;
        this.stream.resume();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.aborted) return Promise.reject(this.reason);
    if (this.inboundEnded) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<unknown>> {
    return Promise.resolve({ done: true, value: undefined });
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    const all = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const split = splitGrpcFrames(all, this.server.deps.readMaxBytes);
    if (split instanceof ConnectError) {
      this.fail(split);
      return;
    }
    this.pending = split.rest;
    const { method } = this.entry.route;
    for (const bytes of split.messages) {
      let message: unknown;
      try {
        message = fromBinary(method.input, bytes);
      } catch (e) {
        this.fail(new ConnectError("failed to decode the request message", Code.InvalidArgument, undefined, undefined, e));
        return;
      }
      this.server.deps.metrics.messageReceived(this.entry.labels);
      this.inbound.push(message);
    }
    if (!this.paused && this.inbound.length >= INBOUND_HIGH_WATER) {
      this.paused = true;
      this.stream.pause();
    }
    this.wakeReader();
  }

  private wakeReader(): void {
    const w = this.waiting;
    if (w === null) return;
    if (this.inbound.length > 0) {
      this.waiting = null;
      w.resolve({ done: false, value: this.inbound.shift() });
    } else if (this.aborted) {
      this.waiting = null;
      w.reject(this.reason);
    } else if (this.inboundEnded) {
      this.waiting = null;
      w.resolve({ done: true, value: undefined });
    }
  }

  // ── outbound: the handler's messages onto the stream ───────────────────────────────────────────

  private async pump(): Promise<void> {
    const { route, labels } = this.entry;
    const { deps } = this.server;
    let error: ConnectError | undefined;
    try {
      this.output = route.handle(this, this)[Symbol.asyncIterator]();
      for (;;) {
        const r = await this.output.next();
        if (r.done === true || this.finished) break;
        const frame = frameGrpcMessage(toBinary(route.method.output, r.value as MessageShape<DescMessage>));
        deps.metrics.messageSent(labels);
        if (!this.stream.write(frame)) await this.drained();
        if (this.finished) break;
      }
    } catch (e) {
      error = toWireError(e, this);
    }
    this.end(error, true);
  }

  /** Resolves when the stream takes more writes, or is gone. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        resolve();
      };
      this.stream.once("drain", done);
      this.stream.once("close", done);
    });
  }

  // ── the end ─────────────────────────────────────────────────────────────────────────────────────

  /** Ends the call with an error now (deadline, shutdown, protocol fault), whatever the handler does. */
  fail(error: ConnectError): void {
    if (this.finished) return;
    this.end(error, true);
  }

  private trailerError: ConnectError | undefined;

  /** Once: status out (if the client is there), handler stopped, metrics, log line. */
  private end(error: ConnectError | undefined, reachedClient: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.registry.delete(this);
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.trailerError = error;
    if (error !== undefined) {
      this.abort(error);
      this.wakeReader();
      // Let the handler's generator run its finally blocks (it may be waiting on its own queue).
      void Promise.resolve(this.output?.return?.()).catch(() => undefined);
    }
    const stream = this.stream;
    if (reachedClient && !stream.destroyed && !stream.closed) {
      try {
        // Trailers go out on "wantTrailers" once the data is flushed.
        stream.end();
      } catch {
        // gone
      }
    }
    this.endInflight();
    const { deps } = this.server;
    const seconds = (deps.nowMs() - this.startMs) / 1000;
    deps.metrics.callHandled(this.entry.labels, error === undefined ? 0 : error.code, seconds);
    this.log(Math.round(seconds * 1e6) / 1000, error);
  }

  private sendTrailers(): void {
    try {
      this.stream.sendTrailers(grpcStatusFields(this.trailerError));
    } catch {
      // gone
    }
  }

  private log(durationMs: number, error: ConnectError | undefined): void {
    const logger = this.server.deps.logger;
    const { rpc } = this.entry;
    if (error === undefined) {
      if (logger.isLevelEnabled("debug")) logger.debug({ rpc, requestId: this.requestId, code: "OK", durationMs }, "rpc ok");
      return;
    }
    const fields: Record<string, unknown> = { rpc, requestId: this.requestId, code: grpcCodeName(error.code), durationMs, error: error.rawMessage };
    if (error.code === Code.Internal || error.code === Code.Unknown || error.code === Code.DataLoss) {
      if (error.cause !== undefined) fields["cause"] = error.cause;
      logger.error(fields, "rpc failed");
    } else if (logger.isLevelEnabled("info")) {
      if (error.cause instanceof Error) fields["causeMessage"] = error.cause.message;
      logger.info(fields, "rpc failed");
    }
  }
}
