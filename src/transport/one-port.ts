/**
 * One TCP port for cleartext HTTP/2 and HTTP/1.1.
 *
 * Node's `http2.createServer({ allowHTTP1: true })` only negotiates HTTP/1.1 over TLS ALPN, not in
 * cleartext (nodejs/node#26795), so the listener reads the first bytes of every connection: the
 * HTTP/2 client preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RFC 9113 §3.4) goes to an h2c
 * server, anything else to an HTTP/1.1 server, both calling the same request handler (recipe §2.2).
 * A connection that sends nothing within `idleTimeoutMs` is closed.
 *
 * It also keeps what graceful shutdown needs: every socket, every HTTP/2 session and every
 * HTTP/1.1 response in flight (see `drain`).
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { Logger } from "./logger.js";
import type { NodeRequest, NodeResponse } from "./http-routes.js";

export const http2Preface: Buffer = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type Protocol = "h2" | "http/1.1";

/**
 * Decides from the first bytes: "h2" for the full preface, "http/1.1" as soon as the bytes differ
 * from it, undefined while they are a proper prefix of it (wait for more).
 */
export function sniffProtocol(head: Uint8Array): Protocol | undefined {
  const n = Math.min(head.length, http2Preface.length);
  for (let i = 0; i < n; i++) {
    if (head[i] !== http2Preface[i]) return "http/1.1";
  }
  return head.length >= http2Preface.length ? "h2" : undefined;
}

export interface OnePortOptions {
  readonly handler: (req: NodeRequest, res: NodeResponse) => void;
  /**
   * Sees every HTTP/2 stream before the compatibility API does; returns true for a stream it serves
   * itself (lean-unary.ts, lean-stream.ts), false to hand it to `handler` as usual.
   */
  readonly takeStream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;
  readonly idleTimeoutMs: number;
  readonly logger: Logger;
}

export class OnePortListener {
  private readonly tcp: net.Server;
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly pending = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly h2Sockets = new Set<net.Socket>();
  /** HTTP/1.1 responses not yet finished, by socket. */
  private readonly h1Busy = new Map<net.Socket, Set<http.ServerResponse>>();
  private draining = false;
  private allClosed: (() => void) | undefined;

  constructor(private readonly options: OnePortOptions) {
    const handler = options.handler;
    this.h1 = http.createServer((req, res) => this.onHttp1Request(req, res, handler));
    // Node only tracks HTTP/1.1 connections (and enforces headersTimeout / requestTimeout against
    // slow clients) once the server has emitted "listening"; this one never listens itself because
    // its sockets arrive from the sniffing listener.
    this.h1.emit("listening");
    this.h2 = http2.createServer(handler);
    const takeStream = options.takeStream;
    if (takeStream !== undefined) {
      // Node's compatibility API is itself a "stream" listener, added with the request handler. Put
      // a dispatcher in its place that offers each stream to `takeStream` first.
      const compat = this.h2.listeners("stream") as ((...args: unknown[]) => void)[];
      this.h2.removeAllListeners("stream");
      const server = this.h2;
      this.h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
        if (takeStream(stream, headers)) return;
        for (const listener of compat) listener.call(server, stream, headers, ...rest);
      });
    }
    this.h2.on("session", (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      if (this.draining) session.close();
    });
    this.h2.on("sessionError", (error: Error) => options.logger.debug({ error: error.message }, "http/2 session error"));
    this.tcp = net.createServer((socket) => this.onConnection(socket));
  }

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.tcp.once("error", onError);
      this.tcp.listen({ host, port }, () => {
        this.tcp.off("error", onError);
        this.tcp.on("error", (error) => this.options.logger.error({ err: error }, "listener error"));
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.pending.delete(socket);
      this.h1Busy.delete(socket);
      this.h2Sockets.delete(socket);
      if (this.sockets.size === 0) this.allClosed?.();
    });
    // After hand-over the HTTP servers handle errors too; this keeps a reset before or during
    // sniffing from becoming an uncaught exception.
    socket.on("error", (error) => this.options.logger.debug({ error: error.message }, "socket error"));
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    const onIdle = (): void => {
      this.options.logger.debug("connection closed: nothing received before the idle timeout");
      socket.destroy();
    };
    socket.setTimeout(this.options.idleTimeoutMs);
    socket.once("timeout", onIdle);
    let head: Buffer = Buffer.alloc(0);
    const onEnd = (): void => {
      socket.off("readable", onReadable);
      socket.destroy();
    };
    const onReadable = (): void => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      }
      const protocol = sniffProtocol(head);
      if (protocol === undefined) return;
      socket.off("readable", onReadable);
      socket.off("end", onEnd);
      socket.off("timeout", onIdle);
      socket.setTimeout(0);
      this.pending.delete(socket);
      if (protocol === "h2") this.h2Sockets.add(socket);
      socket.unshift(head);
      (protocol === "h2" ? this.h2 : this.h1).emit("connection", socket);
    };
    socket.on("readable", onReadable);
    socket.once("end", onEnd);
  }

  private onHttp1Request(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    handler: (req: NodeRequest, res: NodeResponse) => void,
  ): void {
    const socket = req.socket;
    let busy = this.h1Busy.get(socket);
    if (busy === undefined) {
      busy = new Set();
      this.h1Busy.set(socket, busy);
    }
    busy.add(res);
    if (this.draining) res.setHeader("connection", "close");
    res.once("close", () => {
      busy.delete(res);
      // A response whose headers went out before the drain began kept the connection alive.
      if (this.draining && busy.size === 0) socket.end();
    });
    handler(req, res);
  }

  /**
   * Stops accepting and winds connections down without cutting any call: the listener closes,
   * unsniffed connections are dropped, HTTP/2 sessions get GOAWAY (existing streams finish),
   * idle HTTP/1.1 connections end, busy ones end after their response (which says
   * `connection: close` when its headers have not gone out yet).
   */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.tcp.close();
    for (const socket of this.pending) socket.destroy();
    for (const session of this.sessions) session.close();
    for (const socket of this.sockets) {
      if (this.pending.has(socket) || this.h2Sockets.has(socket)) continue;
      const busy = this.h1Busy.get(socket);
      if (busy === undefined || busy.size === 0) {
        socket.end();
        continue;
      }
      for (const res of busy) if (!res.headersSent) res.setHeader("connection", "close");
    }
  }

  /** Resolves once every connection is closed (immediately if none is open). */
  whenAllClosed(): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.allClosed;
      this.allClosed = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Destroys every remaining connection; returns how many there were. */
  destroyAll(): number {
    const count = this.sockets.size;
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    return count;
  }

  /** Releases the HTTP/1.1 server's connection-checking timer. Call after the sockets are gone. */
  dispose(): void {
    this.h1.close();
  }
}
