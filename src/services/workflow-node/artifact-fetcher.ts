/**
 * Fetches a workflow's binary or config from the URL the registry names (upstream
 * `FetchWorkflowArtifacts`, reference chainlink-workflows.md §6.2), with a size cap and a timeout.
 * `http(s)://` and `file://` URLs are accepted. The bytes are returned exactly as served: ccr's
 * artifact store serves the raw artifact (upstream's storage serves base64, which its fetcher
 * decodes — either way the node ends up with the artifact bytes that the id and the binary hash
 * cover).
 */
import { readFile, stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, ccrError } from "../../domain/errors.js";

export type ArtifactKind = "binary" | "config";

export type ArtifactFetcher = (url: string, kind: ArtifactKind, signal?: AbortSignal) => Promise<Uint8Array>;

export interface ArtifactFetcherOptions {
  readonly maxBytes: number;
  readonly timeoutMs: number;
  /** Injected for tests; default the global fetch. */
  readonly fetch?: typeof fetch;
}

export function createArtifactFetcher(options: ArtifactFetcherOptions): ArtifactFetcher {
  const doFetch = options.fetch ?? fetch;
  return async (url, kind, signal) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw fetchError(kind, url, "not a URL");
    }
    if (parsed.protocol === "file:") return readLocal(parsed, kind, url, options.maxBytes);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw fetchError(kind, url, `unsupported scheme ${parsed.protocol}; use http, https or file`);
    }
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    let response: Response;
    try {
      response = await doFetch(parsed, { signal: combined, redirect: "follow" });
    } catch (error) {
      const reason = timeout.aborted ? `no answer within ${options.timeoutMs} ms` : error instanceof Error ? error.message : String(error);
      throw fetchError(kind, url, reason, error);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw fetchError(kind, url, `HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get("content-length") ?? Number.NaN);
    if (Number.isFinite(declared) && declared > options.maxBytes) {
      await response.body?.cancel().catch(() => undefined);
      throw fetchError(kind, url, `${declared} bytes exceeds the limit of ${options.maxBytes} bytes`, undefined, Code.ResourceExhausted);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body ?? []) {
        total += chunk.length;
        if (total > options.maxBytes) {
          throw fetchError(kind, url, `more than the limit of ${options.maxBytes} bytes`, undefined, Code.ResourceExhausted);
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof ConnectError) throw error;
      throw fetchError(kind, url, error instanceof Error ? error.message : String(error), error);
    }
    return new Uint8Array(Buffer.concat(chunks, total));
  };
}

async function readLocal(url: URL, kind: ArtifactKind, raw: string, maxBytes: number): Promise<Uint8Array> {
  try {
    const path = fileURLToPath(url);
    const info = await stat(path);
    if (info.size > maxBytes) throw fetchError(kind, raw, `${info.size} bytes exceeds the limit of ${maxBytes} bytes`, undefined, Code.ResourceExhausted);
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    throw fetchError(kind, raw, error instanceof Error ? error.message : String(error), error);
  }
}

function fetchError(kind: ArtifactKind, url: string, reason: string, cause?: unknown, code: Code = Code.Unavailable) {
  return ccrError(`failed to fetch workflow ${kind} from ${displayUrl(url)}: ${reason}`, code, cause);
}

/** The URL without query, fragment or credentials: a presigned URL's signature is a credential. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
