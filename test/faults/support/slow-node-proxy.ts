/**
 * A slow relay node without touching the product: a `Gateway.ConnectNode` proxy that sits between
 * one relay node and the real gateway and holds every ANSWER the node sends for `delayMs` before
 * passing it on. Everything else passes at once in both directions — the handshake (its proof
 * must reach the gateway within the gateway's tolerance), heartbeats, requests and cancels — so
 * the node stays connected and authenticated and is exactly "a node that answers `delayMs` late".
 *
 * The handshake is bound to the gateway id, DON id, challenge timestamp and nonce, not to the
 * connection, so relaying it unchanged is transparent to both ends (the proxy learns nothing it
 * could sign with). Point a node at it by setting that node's `relayNode.gatewayUrls` to the
 * proxy's URL (the node's config file in the test's throwaway deployment directory).
 *
 * The delay can be changed while streams are open (`setDelayMs`), so one test can compare the same
 * topology with and without the delay. Answers keep their order: a fixed delay per answer.
 */
import type { Client, HandlerContext } from "@connectrpc/connect";
import { Gateway, type ConnectNodeRequest, type ConnectNodeResponse } from "../../../src/contract/index.js";
import { createServer, createServiceClient, Http2SessionPool, implement, type CcrServer } from "../../../src/transport/index.js";

/** A push-fed async iterable (the proxy's upstream request stream). */
class Pipe<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | null = null;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w({ value: item, done: false });
    } else this.items.push(item);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiter = resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
      throw: (error: unknown) => {
        this.close();
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      },
    };
  }
}

export interface SlowNodeProxyStats {
  /** Node streams the proxy has relayed (one per node (re)connect). */
  readonly sessions: number;
  /** Answers passed on, and how many of them were held for a non-zero delay. */
  readonly answersForwarded: number;
  readonly answersDelayed: number;
  /** Answers held right now. */
  readonly answersHeld: number;
}

export interface SlowNodeProxy {
  /** The URL to give the relay node as its gateway. */
  readonly url: string;
  setDelayMs(delayMs: number): void;
  stats(): SlowNodeProxyStats;
  /** Ends every relayed stream and stops listening. */
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) in front of the gateway at `gatewayUrl`. */
export async function startSlowNodeProxy(options: { readonly gatewayUrl: string; readonly delayMs: number }): Promise<SlowNodeProxy> {
  let delayMs = options.delayMs;
  let sessions = 0;
  let answersForwarded = 0;
  let answersDelayed = 0;
  const held = new Set<NodeJS.Timeout>();
  const pool = new Http2SessionPool();
  const upstream: Client<typeof Gateway> = createServiceClient(Gateway, { baseUrl: options.gatewayUrl, protocol: "grpc", sessions: pool });
  const open = new Set<AbortController>();

  async function* connectNode(requests: AsyncIterable<ConnectNodeRequest>, ctx: HandlerContext): AsyncGenerator<ConnectNodeResponse> {
    sessions++;
    const toGateway = new Pipe<ConnectNodeRequest>();
    const session = new AbortController();
    open.add(session);
    const onClientGone = (): void => session.abort(new Error("relay node stream closed"));
    ctx.signal.addEventListener("abort", onClientGone, { once: true });
    // Node → gateway: answers held for the delay in force when they arrive, the rest at once.
    const pump = (async () => {
      try {
        for await (const message of requests) {
          if (message.message.case !== "answer" || delayMs <= 0) {
            if (message.message.case === "answer") answersForwarded++;
            toGateway.push(message);
            continue;
          }
          answersDelayed++;
          const timer = setTimeout(() => {
            held.delete(timer);
            answersForwarded++;
            toGateway.push(message);
          }, delayMs);
          held.add(timer);
        }
      } catch {
        // the node went away; the gateway side ends below
      } finally {
        toGateway.close();
      }
    })();
    try {
      // Gateway → node: everything at once.
      for await (const message of upstream.connectNode(toGateway, { signal: session.signal })) yield message;
    } finally {
      ctx.signal.removeEventListener("abort", onClientGone);
      session.abort(new Error("proxy session ended"));
      toGateway.close();
      open.delete(session);
      void pump;
    }
  }

  const server: CcrServer = createServer({ name: "slow-node-proxy", services: [implement(Gateway, { connectNode })], defaultMetrics: false, shutdownGraceMs: 500 });
  const { url } = await server.listen();
  return {
    url,
    setDelayMs: (ms) => {
      delayMs = ms;
    },
    stats: () => ({ sessions, answersForwarded, answersDelayed, answersHeld: held.size }),
    close: async () => {
      for (const timer of held) clearTimeout(timer);
      held.clear();
      for (const s of open) s.abort(new Error("proxy closing"));
      await server.close({ graceMs: 500 });
      pool.closeAll();
    },
  };
}
