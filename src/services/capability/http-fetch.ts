/**
 * `http-fetch@1.0.0`: one HTTP GET or POST to a host on the configured allowlist.
 *
 * Input (UTF-8 JSON): {"url", "method"?: "GET"|"POST", "headers"?: {name: value}, "body"?: text,
 * "bodyBase64"?: base64} — a body only with POST, at most one of body/bodyBase64.
 * Output (UTF-8 JSON): {"status", "headers": {lowercase name: value, sorted}, "body": text} — or
 * "bodyBase64" instead of "body" when the response body is not valid UTF-8.
 *
 * What is an RPC error and what is an answer (docs/vault.md, "Capability"):
 * - InvalidArgument (RPC error, not memoized): the payload is not the input above — not JSON, no
 *   url, not http(s), credentials in the url, an unknown method, a hop-by-hop or malformed header.
 * - `error` in the answer (memoized, identical for every relay node): the host is not on the
 *   allowlist, plain http while it is not allowed, a network failure (DNS, refused, reset, TLS), the
 *   timeout, a response body over the cap.
 * - Any HTTP response, whatever its status, is a successful call: a 404 or a 500 comes back as
 *   {"status": 404, …} so the workflow can read it.
 * Redirects are not followed (a 3xx comes back with its location header): following one could
 * leave the allowlist.
 */
import * as http from "node:http";
import * as https from "node:https";
import { hostAllowed, type HostRule } from "./host-allowlist.js";
import { jsonBytes, parseJsonPayload, type CapabilityCall, type CapabilityExecutor, type CapabilityOutcome, type ParsedInput } from "./registry.js";

export const HTTP_FETCH_ID = "http-fetch@1.0.0";

export interface HttpFetchConfig {
  readonly allowedHosts: readonly HostRule[];
  readonly allowInsecureHttp: boolean;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

export interface HttpFetchInput {
  readonly url: URL;
  readonly method: "GET" | "POST";
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array | undefined;
}

/** Request headers the caller may not set: the connection is ccr's to manage. */
const FORBIDDEN_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "proxy-authorization",
  "proxy-connection",
  "expect",
]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const inputSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["url"],
  additionalProperties: false,
  properties: {
    url: { type: "string", format: "uri", description: "http(s) URL whose host is on the allowlist; no credentials." },
    method: { enum: ["GET", "POST"], default: "GET" },
    headers: { type: "object", additionalProperties: { type: "string" }, description: "Request headers, passed through (hop-by-hop headers refused)." },
    body: { type: "string", description: "POST body as UTF-8 text." },
    bodyBase64: { type: "string", contentEncoding: "base64", description: "POST body as base64 (binary)." },
  },
};

const outputSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["status", "headers"],
  additionalProperties: false,
  properties: {
    status: { type: "integer", minimum: 100, maximum: 599 },
    headers: { type: "object", additionalProperties: { type: "string" }, description: "Response headers, names lowercase, sorted; repeated headers joined with \", \"." },
    body: { type: "string", description: "The response body when it is valid UTF-8." },
    bodyBase64: { type: "string", contentEncoding: "base64", description: "The response body, base64, when it is not valid UTF-8." },
  },
};

function invalid(reason: string): ParsedInput<never> {
  return { kind: "invalid", reason: `http-fetch input: ${reason}` };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseHttpFetchInput(payload: Uint8Array): ParsedInput<HttpFetchInput> {
  const json = parseJsonPayload(payload);
  if (json.kind === "invalid") return json;
  const value = json.input;
  if (!isRecord(value)) return invalid("must be a JSON object {url, method?, headers?, body?, bodyBase64?}");
  for (const key of Object.keys(value)) {
    if (!(key in inputSchema.properties)) return invalid(`unknown field "${key.slice(0, 40)}" (fields: url, method, headers, body, bodyBase64)`);
  }
  if (typeof value["url"] !== "string") return invalid("url is required and must be a string");
  let url: URL;
  try {
    url = new URL(value["url"]);
  } catch {
    return invalid("url is not a valid absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return invalid(`url scheme must be http or https, got ${url.protocol.replace(/:$/, "")}`);
  if (url.username !== "" || url.password !== "") return invalid("url must not contain credentials; send them in headers");
  const method = value["method"] ?? "GET";
  if (method !== "GET" && method !== "POST") return invalid(`method must be "GET" or "POST", got ${JSON.stringify(method).slice(0, 40)}`);
  const headers: Array<readonly [string, string]> = [];
  const rawHeaders = value["headers"] ?? {};
  if (!isRecord(rawHeaders)) return invalid("headers must be an object of string values");
  for (const [name, headerValue] of Object.entries(rawHeaders)) {
    if (!TOKEN.test(name)) return invalid(`header name "${name.slice(0, 40)}" is not a valid HTTP token`);
    if (FORBIDDEN_HEADERS.has(name.toLowerCase())) return invalid(`header "${name}" is managed by the connection and may not be set`);
    if (typeof headerValue !== "string" || !HEADER_VALUE.test(headerValue)) return invalid(`header "${name}" must be a string without control characters`);
    headers.push([name, headerValue]);
  }
  const text = value["body"];
  const b64 = value["bodyBase64"];
  if (text !== undefined && b64 !== undefined) return invalid("give at most one of body and bodyBase64");
  if (text !== undefined && typeof text !== "string") return invalid("body must be a string");
  if (b64 !== undefined && (typeof b64 !== "string" || !BASE64.test(b64) || b64.length % 4 !== 0)) return invalid("bodyBase64 must be standard padded base64");
  let body: Uint8Array | undefined;
  if (typeof text === "string") body = Buffer.from(text, "utf8");
  else if (typeof b64 === "string") body = Buffer.from(b64, "base64");
  if (body !== undefined && method === "GET") return invalid("a GET request has no body; use POST");
  return { kind: "ok", input: { url, method, headers, body } };
}

function failed(error: string): CapabilityOutcome {
  return { kind: "failed", error: `http-fetch: ${error}` };
}

/** A network error as deterministic text: the error code, not the message (which may vary). */
function networkFailure(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === undefined ? "request failed" : `request failed (${code})`;
}

function responseOutput(res: http.IncomingMessage, body: Buffer): Uint8Array {
  const headers: Record<string, string> = {};
  for (const name of Object.keys(res.headers).sort()) {
    const value = res.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    text = undefined;
  }
  return jsonBytes(
    text === undefined
      ? { status: res.statusCode ?? 0, headers, bodyBase64: body.toString("base64") }
      : { status: res.statusCode ?? 0, headers, body: text },
  );
}

/** One request under the limits; never rejects. */
export function performHttpFetch(config: HttpFetchConfig, input: HttpFetchInput, signal: AbortSignal): Promise<CapabilityOutcome> {
  if (input.url.protocol === "http:" && !config.allowInsecureHttp) {
    return Promise.resolve(failed("plain http is not allowed by this capability's configuration; use https"));
  }
  if (!hostAllowed(config.allowedHosts, input.url)) {
    return Promise.resolve(failed(`host ${input.url.host} is not on the allowlist`));
  }
  return new Promise<CapabilityOutcome>((resolve) => {
    let settled = false;
    let timedOut = false;
    // Every path ends here once; the socket is destroyed unless the response was read to its end
    // (then it may go back to the agent's keep-alive pool).
    const finish = (outcome: CapabilityOutcome, complete = false): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      if (!complete) req.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish(failed("canceled: the capability service is shutting down"));
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of input.headers) headers[name] = value;
    if (input.body !== undefined) headers["content-length"] = String(input.body.length);
    const requestFn = input.url.protocol === "https:" ? https.request : http.request;
    const req = requestFn(input.url, { method: input.method, headers }, (res) => {
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > config.maxResponseBytes) {
        finish(failed(`response body exceeds the limit of ${config.maxResponseBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on("data", (chunk: Buffer) => {
        total += chunk.length;
        if (total > config.maxResponseBytes) finish(failed(`response body exceeds the limit of ${config.maxResponseBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on("end", () => finish({ kind: "ok", payload: responseOutput(res, Buffer.concat(chunks, total)) }, true));
      res.on("error", (error) => finish(timedOut ? failed(`timed out after ${config.timeoutMs} ms`) : failed(networkFailure(error))));
      res.on("aborted", () => finish(timedOut ? failed(`timed out after ${config.timeoutMs} ms`) : failed("response aborted by the server")));
    });
    const timer = setTimeout(() => {
      timedOut = true;
      finish(failed(`timed out after ${config.timeoutMs} ms`));
    }, config.timeoutMs);
    req.on("error", (error) => finish(timedOut ? failed(`timed out after ${config.timeoutMs} ms`) : failed(networkFailure(error))));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    req.end(input.body === undefined ? undefined : Buffer.from(input.body));
  });
}

export function createHttpFetchCapability(config: HttpFetchConfig): CapabilityExecutor<HttpFetchInput> {
  return Object.freeze({
    id: HTTP_FETCH_ID,
    description: "One HTTP GET or POST to an allowlisted host, with a timeout and a response-size cap; headers and body passed through.",
    inputSchema,
    outputSchema,
    parse: (payload: Uint8Array) => parseHttpFetchInput(payload),
    execute: (input: HttpFetchInput, call: CapabilityCall) => performHttpFetch(config, input, call.signal),
  });
}
