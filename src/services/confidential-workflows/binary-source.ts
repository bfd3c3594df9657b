/**
 * Fetches a workflow binary from `http(s)://` or `file://` with a size cap and a timeout (issue 6,
 * "Binary"). Outcomes are data; the service maps them to codes.
 *
 * Failure messages name the scheme and host only: a binary URL may be presigned (a signature and an
 * expiry in its query) or carry credentials in its userinfo, and error messages travel to the
 * workflow node and into logs. For `file://` the message names the path, which is the host's own.
 *
 * The bytes are returned exactly as served (ccr's artifact store serves raw artifacts); the caller
 * checks their SHA-256 before anything else looks at them.
 */
import { open, realpath, stat } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export type BinaryFetchOutcome =
  | { readonly kind: "ok"; readonly bytes: Uint8Array }
  /** The binary is larger than the cap (declared by Content-Length or the file size, or counted while reading). */
  | { readonly kind: "too-large"; readonly maxBytes: number }
  /** Could not be fetched: refused connection, DNS, timeout, non-2xx, missing file. `message` is safe to send. */
  | { readonly kind: "unreachable"; readonly message: string }
  /** The URL names a file outside the configured roots. */
  | { readonly kind: "forbidden"; readonly message: string };

export type BinarySource = (url: URL) => Promise<BinaryFetchOutcome>;

export interface BinarySourceOptions {
  readonly maxBytes: number;
  readonly fetchTimeoutMs: number;
  /** Absolute directories file:// binaries must lie in; undefined = anywhere. */
  readonly fileRoots: readonly string[] | undefined;
  /** Injected for tests; default the global fetch (undici). */
  readonly fetch?: typeof fetch;
}

/** "http://host:port" of a URL: never its userinfo, path or query. */
export function urlOrigin(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/**
 * A short reason for a failure, safe to send: the error code when there is one (ECONNREFUSED,
 * ENOTFOUND, CERT_HAS_EXPIRED, …), else the message with every part of the URL that may be secret
 * (path, query, credentials) cut out — undici and fs messages may quote the URL or path.
 */
function reasonOf(error: unknown, url?: URL): string {
  // undici wraps the socket error: TypeError("fetch failed", { cause: Error{ code: "ECONNREFUSED" } }).
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code !== "") return code;
  let message = cause instanceof Error ? cause.message : String(cause);
  if (url !== undefined) {
    for (const part of [url.href, url.pathname + url.search, url.search, url.username, url.password]) {
      if (part.length > 1) message = message.split(part).join("[redacted]");
    }
  }
  return message.length > 200 ? `${message.slice(0, 199)}…` : message;
}

/** Credentials in the URL become a Basic Authorization header (fetch refuses URLs carrying them). */
function withoutCredentials(url: URL): { target: URL; headers: Record<string, string> } {
  if (url.username === "" && url.password === "") return { target: url, headers: {} };
  const target = new URL(url.href);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  target.username = "";
  target.password = "";
  return { target, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` } };
}

async function fetchHttp(url: URL, options: BinarySourceOptions): Promise<BinaryFetchOutcome> {
  const where = urlOrigin(url);
  const timeout = AbortSignal.timeout(options.fetchTimeoutMs);
  const timedOut = (): BinaryFetchOutcome => ({ kind: "unreachable", message: `binary unreachable at ${where}: no answer within ${options.fetchTimeoutMs} ms` });
  const { target, headers } = withoutCredentials(url);
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(target, { signal: timeout, redirect: "follow", headers });
  } catch (error) {
    return timeout.aborted ? timedOut() : { kind: "unreachable", message: `binary unreachable at ${where}: ${reasonOf(error, url)}` };
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return { kind: "unreachable", message: `binary unreachable at ${where}: HTTP ${response.status}` };
  }
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    return { kind: "too-large", maxBytes: options.maxBytes };
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    if (response.body !== null) {
      for await (const chunk of response.body) {
        total += chunk.length;
        if (total > options.maxBytes) {
          await response.body.cancel().catch(() => undefined);
          return { kind: "too-large", maxBytes: options.maxBytes };
        }
        chunks.push(chunk);
      }
    }
  } catch (error) {
    return timeout.aborted ? timedOut() : { kind: "unreachable", message: `binary unreachable at ${where}: ${reasonOf(error, url)}` };
  }
  return { kind: "ok", bytes: new Uint8Array(Buffer.concat(chunks, total)) };
}

function inside(path: string, root: string): boolean {
  return root === "/" || path === root || path.startsWith(root + sep);
}

async function readLocal(url: URL, options: BinarySourceOptions): Promise<BinaryFetchOutcome> {
  let path: string;
  try {
    path = resolve(fileURLToPath(url));
  } catch (error) {
    return { kind: "unreachable", message: `binary unreachable: ${error instanceof Error ? error.message : String(error)}` };
  }
  let real: string;
  try {
    // Symlinks resolved first, so a link inside a root cannot point outside it.
    real = await realpath(path);
  } catch (error) {
    return { kind: "unreachable", message: `binary unreachable at file://${path}: ${reasonOf(error)}` };
  }
  if (options.fileRoots !== undefined) {
    const roots = await Promise.all(options.fileRoots.map((r) => realpath(r).catch(() => r)));
    if (!roots.some((root) => inside(real, root))) {
      return { kind: "forbidden", message: `binary_url file://${path} is outside the enclave's allowed file roots` };
    }
  }
  try {
    const info = await stat(real);
    // A FIFO or device could block or never end; only regular files are binaries.
    if (!info.isFile()) return { kind: "unreachable", message: `binary unreachable at file://${path}: not a regular file` };
    if (info.size > options.maxBytes) return { kind: "too-large", maxBytes: options.maxBytes };
    const handle = await open(real, "r");
    try {
      // Read at most maxBytes + 1: a file that grew since stat still cannot exceed the cap.
      const buffer = Buffer.allocUnsafe(Math.min(info.size, options.maxBytes) + 1);
      let total = 0;
      for (;;) {
        const { bytesRead } = await handle.read(buffer, total, buffer.length - total, total);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total > options.maxBytes) return { kind: "too-large", maxBytes: options.maxBytes };
        if (total === buffer.length) break;
      }
      return { kind: "ok", bytes: new Uint8Array(buffer.subarray(0, total)) };
    } finally {
      await handle.close();
    }
  } catch (error) {
    return { kind: "unreachable", message: `binary unreachable at file://${path}: ${reasonOf(error)}` };
  }
}

export function createBinarySource(options: BinarySourceOptions): BinarySource {
  return (url) => (url.protocol === "file:" ? readLocal(url, options) : fetchHttp(url, options));
}
