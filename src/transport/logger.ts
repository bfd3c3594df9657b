/**
 * Structured logging for every ccr server: one pino root logger per process, a child per server
 * (`svc`) and a child per call (`rpc`, `requestId`), reachable from handlers through the call's
 * context values (`callLogger(ctx)`).
 *
 * Redaction. pino 10 (`@pinojs/redact`) accepts `**` wildcards silently and redacts nothing with
 * them, so the paths below are explicit, at the top level and one and two levels down. That catches
 * the usual mistakes (`log.info({ req })`, `log.info({ secret })`) but it is a safety net, not the
 * rule. The rule: never log raw key material, secret values or plaintext; log a fingerprint (e.g.
 * the first 8 hex digits of a SHA-256) or a length instead. Message strings are never redacted.
 */
import pino, { type DestinationStream, type Level, type Logger } from "pino";
import { createContextKey, type ContextKey, type HandlerContext } from "@connectrpc/connect";

export type { Logger } from "pino";

/** pino's levels plus "silent". */
export type LogLevel = Level | "silent";

export const logLevels: readonly LogLevel[] = Object.freeze([
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
]);

/** Field names that carry secrets anywhere in ccr's messages and options. */
export const secretFieldNames: readonly string[] = Object.freeze([
  "value",
  "secret",
  "privateKey",
  "private_key",
  "seed",
  "masterKey",
  "master_key",
  "plaintext",
  "password",
  "token",
  "apiKey",
  "api_key",
]);

/** HTTP header names whose values are credentials. */
export const secretHeaderNames: readonly string[] = Object.freeze([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
]);

/**
 * The explicit redaction paths: each secret field at depth 0, 1 and 2, and each secret header under
 * any object named `headers`, `header`, `requestHeader` or `metadata` at depth 0 and 1.
 */
export function redactionPaths(): string[] {
  const paths: string[] = [];
  for (const field of secretFieldNames) {
    paths.push(field, `*.${field}`, `*.*.${field}`);
  }
  for (const container of ["headers", "header", "requestHeader", "metadata"]) {
    for (const name of secretHeaderNames) {
      const key = `${container}[${JSON.stringify(name)}]`;
      paths.push(key, `*.${key}`);
    }
  }
  return paths;
}

export const redactedCensor = "[REDACTED]";

export interface CreateLoggerOptions {
  /** Minimum level written; "info" unless given. */
  readonly level?: LogLevel;
  /**
   * Where JSON lines go: a pino destination, or anything with `write(line)`. Defaults to stderr
   * (stdout is reserved for machine-readable output such as `ccr up --json`'s ready line).
   */
  readonly destination?: DestinationStream;
  /** Bindings on every line, e.g. `{ svc: "vault" }`. */
  readonly base?: Record<string, unknown>;
}

/** The process's root logger. Servers derive `child({ svc })` loggers from it. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 2, sync: true });
  return pino(
    {
      level: options.level ?? "info",
      base: { pid: process.pid, ...options.base },
      redact: { paths: redactionPaths(), censor: redactedCensor },
      // Errors as { type, message, stack, cause… } wherever they are logged as `err` or `cause`.
      serializers: { err: pino.stdSerializers.err, cause: pino.stdSerializers.err },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A logger that drops everything; the default when a server is given none. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/**
 * The per-call logger, set by the server's call interceptor. Outside a served call (e.g. a handler
 * unit-tested with `createHandlerContext`) it falls back to a silent logger.
 */
export const callLoggerKey: ContextKey<Logger> = createContextKey<Logger>(silentLogger(), {
  description: "ccr per-call logger",
});

/** The per-call request id (`x-request-id` or generated); "" outside a served call. */
export const requestIdKey: ContextKey<string> = createContextKey<string>("", {
  description: "ccr request id",
});

/** The logger for this call: bindings `{ svc, rpc, requestId }`. */
export function callLogger(ctx: Pick<HandlerContext, "values">): Logger {
  return ctx.values.get(callLoggerKey);
}

/** The request id of this call, as logged and echoed in the `x-request-id` response header. */
export function callRequestId(ctx: Pick<HandlerContext, "values">): string {
  return ctx.values.get(requestIdKey);
}
