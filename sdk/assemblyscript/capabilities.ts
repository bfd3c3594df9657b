// Capability calls: `callCapability` for any capability, typed wrappers for the built-ins
// `echo@1.0.0` and `http-fetch@1.0.0` (shapes: docs/wasm-abi.md, "Built-in capabilities").
import { base64Decode, base64Encode } from "./base64";
import { rawCallCapability } from "./host";
import { JsonValue, jsonObject, jsonString, parseJson, jsonError } from "./json";

export const ECHO_ID = "echo@1.0.0";
export const HTTP_FETCH_ID = "http-fetch@1.0.0";
/** The method every built-in capability serves. */
export const EXECUTE_METHOD = "Execute";

function utf8Bytes(text: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(text));
}

function utf8Text(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>bytes.length);
}

/** A capability's output bytes, or its error (`error` non-empty). */
export class CapabilityResult {
  constructor(
    public payload: Uint8Array,
    public error: string,
  ) {}
  get ok(): bool {
    return this.error.length == 0;
  }
  payloadText(): string {
    return utf8Text(this.payload);
  }
  /** The payload parsed as JSON (built-ins answer JSON); null if it is not JSON. */
  payloadJson(): JsonValue | null {
    return parseJson(this.payloadText());
  }
}

/** Calls capability `id` (`name@semver`) with raw payload bytes. Blocks until the host answers. */
export function callCapability(id: string, method: string, payload: Uint8Array): CapabilityResult {
  const req = jsonObject().set("id", jsonString(id)).set("method", jsonString(method)).set("payload", jsonString(base64Encode(payload)));
  const answer = parseJson(rawCallCapability(req.stringify()));
  if (answer === null) return new CapabilityResult(new Uint8Array(0), "malformed host answer: " + jsonError());
  const err = answer.get("error");
  if (err !== null) return new CapabilityResult(new Uint8Array(0), err.isString() ? err.asString() : err.stringify());
  const bytes = base64Decode(answer.getString("payload"));
  if (bytes === null) return new CapabilityResult(new Uint8Array(0), "malformed host answer: payload is not base64");
  return new CapabilityResult(bytes, "");
}

/** Calls a capability whose input is JSON (every built-in). */
export function callCapabilityJson(id: string, method: string, input: JsonValue): CapabilityResult {
  return callCapability(id, method, utf8Bytes(input.stringify()));
}

/** The answer of `echo`: the same JSON value, or the error. */
export class EchoResult {
  constructor(
    public value: JsonValue | null,
    public error: string,
  ) {}
  get ok(): bool {
    return this.error.length == 0;
  }
}

/** `echo@1.0.0`: returns its input unchanged. */
export function echo(value: JsonValue): EchoResult {
  const r = callCapabilityJson(ECHO_ID, EXECUTE_METHOD, value);
  if (!r.ok) return new EchoResult(null, r.error);
  const v = r.payloadJson();
  return v === null ? new EchoResult(null, "echo answered non-JSON: " + jsonError()) : new EchoResult(v, "");
}

/** Input of `http-fetch@1.0.0`: {url, method: "GET"|"POST", headers?, body?}. */
export class HttpRequest {
  headers: JsonValue = jsonObject();
  body: string | null = null;

  constructor(
    public url: string,
    public method: string = "GET",
  ) {}

  static get(url: string): HttpRequest {
    return new HttpRequest(url, "GET");
  }
  static post(url: string, body: string): HttpRequest {
    const r = new HttpRequest(url, "POST");
    r.body = body;
    return r;
  }
  header(name: string, value: string): HttpRequest {
    this.headers.set(name, jsonString(value));
    return this;
  }
  toJson(): JsonValue {
    const o = jsonObject().set("url", jsonString(this.url)).set("method", jsonString(this.method));
    if (this.headers.length > 0) o.set("headers", this.headers);
    const body = this.body;
    if (body !== null) o.set("body", jsonString(body));
    return o;
  }
}

/**
 * Output of `http-fetch@1.0.0`: {status, headers, body} where `body` is the response body as UTF-8
 * text, or {status, headers, bodyBase64} when the body is not valid UTF-8. `bodyBytes` holds the
 * raw bytes either way; `body` is "" in the base64 case. Any HTTP status is a successful call:
 * check `status`. `error` is set only when no response was had (host not allowed, timeout, …).
 */
export class HttpResponse {
  status: i32 = 0;
  headers: JsonValue = jsonObject();
  body: string = "";
  bodyBytes: Uint8Array = new Uint8Array(0);
  error: string = "";

  get ok(): bool {
    return this.error.length == 0;
  }
  /** A response header (names are lowercase); "" when absent. */
  header(name: string): string {
    return this.headers.getString(name.toLowerCase());
  }
  /** The body parsed as JSON; null if it is not JSON. */
  json(): JsonValue | null {
    return parseJson(this.body);
  }
}

function failedResponse(error: string): HttpResponse {
  const r = new HttpResponse();
  r.error = error;
  return r;
}

/** `http-fetch@1.0.0`: one GET or POST to an allowlisted host. */
export function httpFetch(request: HttpRequest): HttpResponse {
  const r = callCapabilityJson(HTTP_FETCH_ID, EXECUTE_METHOD, request.toJson());
  if (!r.ok) return failedResponse(r.error);
  const out = r.payloadJson();
  if (out === null || !out.isObject()) return failedResponse("http-fetch answered a malformed payload");
  const res = new HttpResponse();
  res.status = <i32>out.getNumber("status", 0);
  const headers = out.get("headers");
  if (headers !== null && headers.isObject()) res.headers = headers;
  const body = out.get("body");
  const body64 = out.get("bodyBase64");
  if (body !== null && body.isString()) {
    res.body = body.asString();
    res.bodyBytes = utf8Bytes(res.body);
  } else if (body64 !== null && body64.isString()) {
    const bytes = base64Decode(body64.asString());
    if (bytes === null) return failedResponse("http-fetch answered a bodyBase64 that is not base64");
    res.bodyBytes = bytes;
  }
  return res;
}
