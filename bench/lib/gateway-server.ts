/**
 * The server process of bench/gateway.ts: a gateway (or, as the baseline, the runtime alone holding
 * unanswered unary calls) in a process of its own, loading what a gateway process loads and nothing
 * of the load side (no fake nodes, no clients), so its memory is the gateway's.
 *
 *   node <bin/node-options> <this file compiled by bin/compiled.js> --bench-gateway-server <mode> <member keys, hex, comma-separated> <requestTimeoutMs>
 *
 * (or `node --import tsx bench/lib/gateway-server.ts …`, bench/gateway.ts --loader tsx). It talks to
 * its parent over the IPC channel: first `{ ready: { gatewayUrl, echoUrl } }`, then a `{ stats }`
 * reply for every `{ cmd: "stats" }`.
 */
import { Gateway } from "../../src/contract/index.js";
import { createGateway, deferredGateway, resolveGatewayOptions } from "../../src/services/gateway/index.js";
import { createServer, implement, leanUnary, silentLogger } from "../../src/transport/index.js";

export const BENCH_GATEWAY_ID = "bench-gw";
export const BENCH_DON_ID = "bench-don";

/** "gateway" also serves the bare echo (throughput runs); "gateway-only" does not (memory runs). */
export type ServerMode = "gateway" | "gateway-only" | "hang";
export type ServerCommand = { readonly cmd: "stats" };
export interface ServerStats {
  readonly inFlight: number;
  /** Fan-out messages still queued towards the nodes (0 in the "hang" mode). */
  readonly queuedToNodes: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly cpuUs: number;
}
export type ServerReply = { readonly ready: { readonly gatewayUrl: string; readonly echoUrl: string } } | { readonly stats: ServerStats };

/** The most requests the memory run holds; limits are set above it. */
export const BENCH_IN_FLIGHT = 10_000;

async function run(mode: ServerMode, members: readonly Uint8Array[], requestTimeoutMs: number): Promise<void> {
  let inFlight: () => number;
  let queuedToNodes = (): number => 0;
  let urls: { gatewayUrl: string; echoUrl: string };
  if (mode === "hang") {
    // The runtime alone: unary calls whose handler answers only when the call ends, on the same
    // path the gateway's calls take (the lean gRPC path), so the difference is the gateway's own.
    let pending = 0;
    const hold = (signal: { addEventListener(type: "abort", l: () => void): void }): Promise<never> => {
      pending++;
      return new Promise<never>((_, reject) =>
        signal.addEventListener("abort", () => {
          pending--;
          reject(new Error("call ended"));
        }),
      );
    };
    const server = createServer({
      name: "hang",
      logger: silentLogger(),
      services: [implement(Gateway, { executeCapability: (_req, ctx) => hold(ctx.signal) })],
      leanUnary: [leanUnary(Gateway.method.executeCapability, (_req, call) => hold(call.signal))],
    });
    const { url } = await server.listen();
    inFlight = () => pending;
    urls = { gatewayUrl: url, echoUrl: url };
  } else {
    const n = members.length;
    const config = resolveGatewayOptions({
      gatewayId: BENCH_GATEWAY_ID,
      donId: BENCH_DON_ID,
      members,
      f: Math.floor((n - 1) / 3),
      requestTimeoutMs,
      // The fake nodes live in the load process, which the memory run saturates while it opens
      // 10 000 calls: with the default 10 s send bound the gateway rightly counted those nodes as
      // failed ("failed to forward user request to nodes") and the calls dropped out before the
      // measurement. Here a node is slow, not dead, for as long as a request may live.
      nodeSendTimeoutMs: requestTimeoutMs,
      maxInFlight: 2 * BENCH_IN_FLIGHT,
      nodeQueueLimit: 4 * BENCH_IN_FLIGHT,
      ingress: { global: { ratePerSec: 1e9, burst: 1e9 }, perSender: { ratePerSec: 1e9, burst: 1e9 } },
    });
    // As src/cli/processes/gateway.ts wires it: createServer owns the metrics registry, so the
    // gateway is bound late; plain gRPC unary calls take the lean path.
    const late = deferredGateway();
    const server = createServer({
      name: "gateway",
      logger: silentLogger(),
      services: [implement(Gateway, late.service)],
      leanUnary: late.leanUnary,
      leanBidi: late.leanBidi,
      httpRoutes: [{ method: "POST", path: "/", handler: late.jsonRpcHandler }],
    });
    const gateway = createGateway({ config, registry: server.metrics.registry });
    late.bind(gateway);
    const a = await server.listen();
    let echoUrl = a.url;
    if (mode === "gateway") {
      // The bare echo: the same request message on the same runtime and the same (lean) path.
      const echoAnswer = (req: { payload: Uint8Array }) => Promise.resolve({ result: { payload: req.payload } });
      const echo = createServer({
        name: "echo",
        logger: silentLogger(),
        services: [implement(Gateway, { executeCapability: echoAnswer })],
        leanUnary: [leanUnary(Gateway.method.executeCapability, echoAnswer)],
      });
      echoUrl = (await echo.listen()).url;
    }
    inFlight = () => gateway.core.inFlightCount;
    queuedToNodes = () => gateway.core.queuedToNodes;
    urls = { gatewayUrl: a.url, echoUrl };
  }
  process.on("message", (m: ServerCommand) => {
    if (m.cmd !== "stats") return;
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const stats: ServerStats = { inFlight: inFlight(), queuedToNodes: queuedToNodes(), rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, cpuUs: cpu.user + cpu.system };
    process.send?.({ stats } satisfies ServerReply);
  });
  process.send?.({ ready: urls } satisfies ServerReply);
}

/** The first argument that makes this module run as the server process. */
export const SERVER_PROCESS_FLAG = "--bench-gateway-server";

if (process.argv[2] === SERVER_PROCESS_FLAG) {
  const members = (process.argv[4] ?? "").split(",").map((hex) => new Uint8Array(Buffer.from(hex, "hex")));
  run(process.argv[3] as ServerMode, members, Number(process.argv[5])).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
