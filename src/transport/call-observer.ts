/**
 * The server's call interceptor: for every RPC that reaches its handler it
 *
 *  - binds a child logger `{ rpc: "pkg.Svc/Method", requestId }` into the call's context values
 *    (handlers get it with `callLogger(ctx)`);
 *  - counts the go-grpc-prometheus metrics (started, messages in and out, handled, latency);
 *  - applies the one error mapping: a ConnectError passes through, anything else becomes
 *    `Internal "internal error"` on the wire with the original kept as `cause` and logged;
 *  - answers as soon as the call's signal aborts (client deadline, client cancel, server shutdown)
 *    with the abort's reason, even when the handler ignores its signal: connect-node does not race
 *    a unary handler against its deadline by itself;
 *  - writes one log line when the call ends: debug when it succeeded, info for an expected error
 *    (code name and message, no stack), error with the cause for a server fault;
 *  - tracks the call as in flight, for graceful shutdown.
 */
import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { createContextKey, type ContextKey } from "@connectrpc/connect";
import { callLoggerKey, requestIdKey, type Logger } from "./logger.js";
import { grpcCodeName, methodLabels, type MethodLabelValues, type ServerMetrics } from "./metrics.js";

/** Set to true by the interceptor; lets the request entry point see calls rejected before it. */
export const callObservedKey: ContextKey<boolean> = createContextKey<boolean>(false, {
  description: "ccr call reached the interceptor",
});

/** Codes that mean the server is at fault: logged at error level with their cause. */
const serverFaultCodes: ReadonlySet<Code> = new Set([Code.Internal, Code.Unknown, Code.DataLoss]);

/** Calls in flight, for shutdown. */
export class InflightCalls {
  private count = 0;
  get size(): number {
    return this.count;
  }
  /**
   * Counts a call in flight until it leaves; a caller that tracks its own once-only end (the lean
   * paths' call records) pairs `enter` with exactly one `leave` and needs no closure per call.
   */
  enter(): void {
    this.count += 1;
  }
  leave(): void {
    this.count -= 1;
  }
  /** Counts a call in flight; the returned function ends it (only the first call counts). */
  begin(): () => void {
    this.count += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.count -= 1;
    };
  }
}

/** The one error mapping: what goes on the wire for anything a handler throws. */
export function toWireError(error: unknown, signal?: Pick<AbortSignal, "aborted" | "reason">): ConnectError {
  if (error instanceof ConnectError) return error;
  // A handler that passed ctx.signal on (fetch, timers) fails with an AbortError; the signal's own
  // reason (deadline, cancel, shutdown) is the real outcome.
  if (signal?.aborted === true && signal.reason instanceof ConnectError) return signal.reason;
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

function abortError(signal: AbortSignal): ConnectError {
  return toWireError(signal.reason ?? new ConnectError("the call was canceled", Code.Canceled), signal);
}

/** Settles with `promise`, or rejects with the signal's reason as soon as it aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.catch(() => undefined);
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

export interface CallObserverDeps {
  /** The server's logger (bindings `{ svc }`). */
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly inflight: InflightCalls;
  /** Monotonic milliseconds, for durations. */
  readonly nowMs: () => number;
}

interface CallEnd {
  readonly log: Logger;
  readonly labels: MethodLabelValues;
  readonly startMs: number;
  readonly endInflight: () => void;
}

function logCallEnd(deps: CallObserverDeps, call: CallEnd, error: ConnectError | undefined): void {
  const durationMs = Math.round((deps.nowMs() - call.startMs) * 1000) / 1000;
  const code = error === undefined ? 0 : error.code;
  deps.metrics.callHandled(call.labels, code, durationMs / 1000);
  call.endInflight();
  if (error === undefined) {
    call.log.debug({ code: "OK", durationMs }, "rpc ok");
    return;
  }
  const fields: Record<string, unknown> = { code: grpcCodeName(code), durationMs, error: error.rawMessage };
  if (serverFaultCodes.has(error.code)) {
    if (error.cause !== undefined) fields["cause"] = error.cause;
    call.log.error(fields, "rpc failed");
  } else {
    if (error.cause instanceof Error) fields["causeMessage"] = error.cause.message;
    call.log.info(fields, "rpc failed");
  }
}

/** Counts messages as the consumer pulls them. */
async function* countMessages<T>(source: AsyncIterable<T>, onMessage: () => void): AsyncGenerator<T> {
  for await (const message of source) {
    onMessage();
    yield message;
  }
}

/**
 * Wraps a response stream: counts what is sent, races every pull against the call's signal, maps
 * errors, and reports the end exactly once (a consumer that stops early ends it as Canceled).
 */
async function* observeResponses<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal,
  onMessage: () => void,
  onEnd: (error: ConnectError | undefined) => void,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let outcome: { error: ConnectError | undefined } | undefined;
  try {
    for (;;) {
      const result = await raceAbort(iterator.next(), signal);
      if (result.done === true) break;
      onMessage();
      yield result.value;
    }
    outcome = { error: undefined };
  } catch (error) {
    outcome = { error: toWireError(error, signal) };
    // Let the handler's generator run its finally blocks; it may still be awaiting.
    void Promise.resolve(iterator.return?.()).catch(() => undefined);
    throw outcome.error;
  } finally {
    if (outcome === undefined) {
      // The consumer stopped pulling (client gone, write error).
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
      onEnd(abortError(signal));
    } else {
      onEnd(outcome.error);
    }
  }
}

export function createCallObserver(deps: CallObserverDeps): Interceptor {
  return (next) => async (req) => {
    const labels = methodLabels(req.method);
    const requestId = req.contextValues.get(requestIdKey);
    const log = deps.logger.child({ rpc: `${req.service.typeName}/${req.method.name}`, requestId });
    req.contextValues.set(callLoggerKey, log);
    req.contextValues.set(callObservedKey, true);
    const call: CallEnd = { log, labels, startMs: deps.nowMs(), endInflight: deps.inflight.begin() };
    deps.metrics.callStarted(labels);

    let request = req;
    if (req.stream) {
      request = { ...req, message: countMessages(req.message, () => deps.metrics.messageReceived(labels)) };
    } else {
      deps.metrics.messageReceived(labels);
    }

    let response;
    try {
      response = await raceAbort(next(request), req.signal);
    } catch (error) {
      const wire = toWireError(error, req.signal);
      logCallEnd(deps, call, wire);
      throw wire;
    }
    if (!response.stream) {
      deps.metrics.messageSent(labels);
      logCallEnd(deps, call, undefined);
      return response;
    }
    const observed: StreamResponse = {
      ...response,
      message: observeResponses(
        response.message,
        req.signal,
        () => deps.metrics.messageSent(labels),
        (error) => logCallEnd(deps, call, error),
      ),
    };
    return observed;
  };
}
