/**
 * The fuzzer's raw clients: nothing here validates what it sends, so malformed input reaches the
 * servers as bytes.
 *
 *   - `H1Client`: HTTP/1.1 with keep-alive (a bounded agent per server), any method/path/headers/body;
 *   - `H2Client`: cleartext HTTP/2 with one long-lived session per server (re-opened after GOAWAY or
 *     a reset), any pseudo-headers and body, reading gRPC status from headers or trailers; plus
 *     `script` for streams that need a conversation (the node handshake);
 *   - `rawTcp`: bytes on a fresh TCP connection (malformed HTTP/1.1 and HTTP/2 framing).
 * Every call is bounded by a timeout and resolves (never rejects) with what happened on the wire.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

export type WireResult =
  | {
      readonly kind: "answered";
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly trailers: Readonly<Record<string, string>>;
      readonly body: Buffer;
    }
  /** The server reset the stream, sent GOAWAY or closed the connection without answering. */
  | { readonly kind: "reset"; readonly detail: string }
  /** Could not reach the server at all (refused): the process is gone. */
  | { readonly kind: "unreachable"; readonly detail: string }
  | { readonly kind: "timeout" };

const MAX_BODY = 256 * 1024;

function flatHeaders(h: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : String(v);
  return out;
}

function unreachable(error: NodeJS.ErrnoException): boolean {
  return error.code === "ECONNREFUSED" || error.code === "EHOSTUNREACH";
}

export interface H1Request {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export class H1Client {
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly socketsPerServer = 8) {}

  private agent(origin: string): http.Agent {
    let a = this.agents.get(origin);
    if (a === undefined) {
      a = new http.Agent({ keepAlive: true, maxSockets: this.socketsPerServer, keepAliveMsecs: 1_000 });
      this.agents.set(origin, a);
    }
    return a;
  }

  /** One request; a keep-alive socket the server closed just before reuse is retried once on a fresh one. */
  async request(baseUrl: string, req: H1Request, timeoutMs: number): Promise<WireResult> {
    const first = await this.once(baseUrl, req, timeoutMs, false);
    if (first.kind === "reset" && first.detail.startsWith("reused socket")) return this.once(baseUrl, req, timeoutMs, true);
    return first;
  }

  private once(baseUrl: string, req: H1Request, timeoutMs: number, fresh: boolean): Promise<WireResult> {
    const url = new URL(baseUrl);
    return new Promise<WireResult>((resolve) => {
      let done = false;
      const finish = (r: WireResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(r);
      };
      const r = http.request({
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers: { ...req.headers, "content-length": String(req.body.length) },
        agent: fresh ? false : this.agent(url.origin),
      });
      const timer = setTimeout(() => {
        r.destroy();
        finish({ kind: "timeout" });
      }, timeoutMs);
      r.on("error", (error: NodeJS.ErrnoException) => {
        if (unreachable(error)) finish({ kind: "unreachable", detail: error.code ?? error.message });
        else finish({ kind: "reset", detail: `${r.reusedSocket ? "reused socket: " : ""}${error.code ?? error.message}` });
      });
      r.on("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < MAX_BODY) chunks.push(c);
          size += c.length;
        });
        res.on("error", () => finish({ kind: "reset", detail: "response aborted" }));
        res.on("end", () =>
          finish({ kind: "answered", status: res.statusCode ?? 0, headers: flatHeaders(res.headers), trailers: flatHeaders(res.trailers as http.IncomingHttpHeaders), body: Buffer.concat(chunks) }),
        );
      });
      r.end(Buffer.from(req.body.buffer, req.body.byteOffset, req.body.length));
    });
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

export interface H2Request {
  readonly path: string;
  readonly method?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** One step of a scripted HTTP/2 stream. */
export type ScriptStep =
  | { readonly kind: "send"; readonly bytes: Uint8Array }
  /** Waits (bounded) until the server has sent at least `count` complete gRPC messages in total. */
  | { readonly kind: "await-messages"; readonly count: number; readonly timeoutMs: number }
  | { readonly kind: "end" }
  /** Resets the stream (CANCEL) after `ms`. */
  | { readonly kind: "cancel"; readonly ms: number };

/**
 * Streams per HTTP/2 connection before the client moves to a new one. Malformed calls often leave
 * request bytes the server never reads (it answers early); Node's server counts them against the
 * connection's memory (maxSessionMemory, 10 MB) and, once over, refuses new streams on that
 * connection (ENHANCE_YOUR_CALM). That protects the server from one abusive connection — here, the
 * fuzzer's own — so the fuzzer spreads its calls over fresh connections, as many clients would.
 */
const STREAMS_PER_SESSION = 500;

export class H2Client {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private readonly opened = new Map<string, number>();
  /** Connections opened, and streams retried after a refusal or a connection another call ended. */
  sessionsOpened = 0;
  refusedRetries = 0;

  private session(baseUrl: string): http2.ClientHttp2Session {
    const origin = new URL(baseUrl).origin;
    let s = this.sessions.get(origin);
    if (s !== undefined && (this.opened.get(origin) ?? 0) >= STREAMS_PER_SESSION) {
      // Retire it: streams in flight finish, new ones go to a new connection.
      this.sessions.delete(origin);
      s.close();
      s = undefined;
    }
    if (s === undefined || s.closed || s.destroyed) {
      this.opened.set(origin, 0);
      this.sessionsOpened++;
      s = http2.connect(origin);
      const created = s;
      created.on("error", () => undefined);
      created.on("goaway", () => {
        if (this.sessions.get(origin) === created) this.sessions.delete(origin);
      });
      created.on("close", () => {
        if (this.sessions.get(origin) === created) this.sessions.delete(origin);
      });
      created.unref();
      this.sessions.set(origin, created);
    }
    this.opened.set(origin, (this.opened.get(origin) ?? 0) + 1);
    return s;
  }

  /** Sends headers and a body, ends the stream, and collects the answer. */
  request(baseUrl: string, req: H2Request, timeoutMs: number): Promise<WireResult> {
    return this.scriptOnce(baseUrl, req.path, req.headers, [{ kind: "send", bytes: req.body }, { kind: "end" }], timeoutMs, req.method).then((r) => r.result);
  }

  /**
   * `script`, retried (up to three times) on a fresh connection when the stream was refused unprocessed
   * (REFUSED_STREAM, e.g. the connection was going away; ENHANCE_YOUR_CALM, the connection was over
   * its memory bound, see STREAMS_PER_SESSION): such a stream never reached a handler, so it says
   * nothing about the input.
   */
  async scriptOnce(
    baseUrl: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    steps: readonly ScriptStep[],
    timeoutMs: number,
    method = "POST",
  ): Promise<{ result: WireResult; messages: Uint8Array[] }> {
    // REFUSED_STREAM (7) and ENHANCE_YOUR_CALM (11): the connection refused the stream unprocessed;
    // GOAWAY / session errors: the connection was going away (retired, or ended by another call).
    const refused = (r: WireResult): boolean => r.kind === "reset" && / rst (7|11)$|^ERR_HTTP2_(GOAWAY_SESSION|SESSION_ERROR)/.test(r.detail);
    let attempt = await this.script(baseUrl, path, headers, steps, timeoutMs, method);
    for (let retries = 0; retries < 3 && refused(attempt.result); retries++) {
      this.refusedRetries++;
      this.drop(baseUrl);
      attempt = await this.script(baseUrl, path, headers, steps, timeoutMs, method);
    }
    return attempt;
  }

  private drop(baseUrl: string): void {
    const origin = new URL(baseUrl).origin;
    const s = this.sessions.get(origin);
    this.sessions.delete(origin);
    s?.close();
  }

  /** Runs `steps` on one stream; resolves with the outcome and the gRPC messages the server sent. */
  script(
    baseUrl: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    steps: readonly ScriptStep[],
    timeoutMs: number,
    method = "POST",
  ): Promise<{ result: WireResult; messages: Uint8Array[] }> {
    return new Promise((resolve) => {
      let stream: http2.ClientHttp2Stream;
      const messages: Uint8Array[] = [];
      let done = false;
      let status = 0;
      let resHeaders: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      let buffered = Buffer.alloc(0);
      let size = 0;
      let wake: (() => void) | null = null;
      const finish = (r: WireResult): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        wake?.();
        if (!stream.closed) {
          // A stream the server has answered closes by itself once our side ends; resetting it
          // at once would make every call a RST_STREAM, the "rapid reset" pattern servers defend
          // against (ENHANCE_YOUR_CALM). Only a stream still open after a grace is cancelled.
          if (r.kind === "answered") {
            if (!stream.writableEnded) stream.end();
            setTimeout(() => {
              if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
            }, 2_000).unref();
          } else stream.close(http2.constants.NGHTTP2_CANCEL);
        }
        resolve({ result: r, messages });
      };
      const timer = setTimeout(() => finish({ kind: "timeout" }), timeoutMs);
      try {
        stream = this.session(baseUrl).request({ ":method": method, ":path": path, ...headers }, { endStream: false });
      } catch (error) {
        clearTimeout(timer);
        resolve({ result: { kind: "reset", detail: `request: ${(error as Error).message}` }, messages });
        return;
      }
      stream.on("error", (error: NodeJS.ErrnoException) => {
        if (unreachable(error)) finish({ kind: "unreachable", detail: error.code ?? error.message });
        else finish({ kind: "reset", detail: `${error.code ?? error.message}${stream.rstCode === undefined ? "" : ` rst ${stream.rstCode}`}` });
      });
      stream.on("response", (h) => {
        status = Number(h[":status"] ?? 0);
        resHeaders = flatHeaders(h);
      });
      stream.on("trailers", (t) => {
        trailers = flatHeaders(t);
      });
      stream.on("data", (c: Buffer) => {
        if (size < MAX_BODY) chunks.push(c);
        size += c.length;
        buffered = Buffer.concat([buffered, c]);
        // Split complete gRPC messages (5-byte prefix) as they arrive.
        while (buffered.length >= 5) {
          const len = buffered.readUInt32BE(1);
          if (buffered.length < 5 + len) break;
          messages.push(new Uint8Array(buffered.subarray(5, 5 + len)));
          buffered = buffered.subarray(5 + len);
        }
        wake?.();
      });
      stream.on("close", () => {
        if (status === 0) finish({ kind: "reset", detail: `stream closed without an answer (rst ${stream.rstCode})` });
        else finish({ kind: "answered", status, headers: resHeaders, trailers, body: Buffer.concat(chunks) });
      });
      // The answer is complete once the server ended its side, even while ours is still open: a
      // server that refuses a body early (e.g. over the size limit) answers before reading it all,
      // and our unsent bytes then wait on flow control until we reset the stream.
      stream.on("end", () => {
        if (status !== 0) finish({ kind: "answered", status, headers: resHeaders, trailers, body: Buffer.concat(chunks) });
        else wake?.();
      });
      void (async () => {
        for (const step of steps) {
          if (done) return;
          switch (step.kind) {
            case "send":
              if (step.bytes.length > 0 && !stream.closed) stream.write(Buffer.from(step.bytes.buffer, step.bytes.byteOffset, step.bytes.length));
              break;
            case "end":
              if (!stream.closed) stream.end();
              break;
            case "cancel":
              await new Promise((r) => setTimeout(r, step.ms));
              if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
              break;
            case "await-messages": {
              const deadline = Date.now() + step.timeoutMs;
              while (!done && messages.length < step.count && !stream.closed && !stream.readableEnded && Date.now() < deadline) {
                await new Promise<void>((r) => {
                  wake = r;
                  setTimeout(r, Math.max(1, deadline - Date.now()));
                });
                wake = null;
              }
              break;
            }
          }
        }
      })();
    });
  }

  close(): void {
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}

/** Writes `bytes` on a fresh connection and collects what comes back until close or `waitMs`. */
export function rawTcp(baseUrl: string, bytes: Uint8Array, waitMs: number): Promise<{ kind: "closed" | "waiting" | "unreachable" | "reset"; response: Buffer }> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    const finish = (kind: "closed" | "waiting" | "unreachable" | "reset"): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ kind, response: Buffer.concat(chunks).subarray(0, 4096) });
    };
    const timer = setTimeout(() => finish("waiting"), waitMs);
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (c: Buffer) => {
      if (chunks.length < 64) chunks.push(c);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => finish(unreachable(error) ? "unreachable" : "reset"));
    socket.on("close", () => finish("closed"));
  });
}

/** A gRPC length-prefixed message: flags, a 4-byte big-endian length (or `declaredLength`), the bytes. */
export function grpcFrame(payload: Uint8Array, flags = 0, declaredLength = payload.length): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, declaredLength >>> 0);
  out.set(payload, 5);
  return out;
}
