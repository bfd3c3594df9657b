/**
 * Gateway relay benchmark (issue 3):
 *   npx tsx bench/gateway.ts [--runs 3] [--seconds 2] [--concurrency 64] [--skip-throughput] [--skip-rss]
 *                            [--memory grpc,runtime,jsonrpc] [--loader ccr|tsx] [--semi-space-mb N]
 *
 * Shape, as deployed: the gateway runs in its own process (bench/lib/gateway-server.ts, a child of
 * this one, loading only what a gateway loads, started as bin/ccr starts ccr; `--loader`) on the real
 * one-port runtime (src/transport), plain gRPC calls and node streams on its lean paths; this process
 * holds the enclave client and N in-process fake relay nodes (test/support/fake-nodes.ts) that dial
 * the gateway over real HTTP/2 sockets (one connection each, gRPC) and sign every request at once.
 *
 * Throughput: for N = 4, 7, 16, 31 (F = ⌊(N−1)/3⌋), relay throughput, p50 and p99 beside a bare unary
 * echo (ExecuteCapability answered at once: same request message, same runtime and lean path, served
 * by the same child process) in the same run, interleaved; median/min/max over the runs and the
 * relay/echo ratio. Also the gateway process's CPU time per request (process.cpuUsage in the child),
 * which a busy shared machine distorts far less than wall-clock throughput.
 *
 * Memory: the gateway process's RSS with 10 000 requests in flight and fanned out (N=4, nodes that
 * never answer), and beside it the same runtime holding 10 000 unary calls whose handler never
 * answers (no gateway), so the gateway's own share is visible. Calls that end before the measurement
 * are counted by error.
 *
 * The last line is one JSON object: {"bench":"gateway",...}.
 * Targets: relay throughput at N=4 ≥ 40% of bare echo; cost per added node roughly linear;
 * 10 000 in flight < 150 MB RSS.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as http2 from "node:http2";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ExecuteCapabilityRequestSchema, Gateway, type ExecuteCapabilityRequest } from "../src/contract/index.js";
import { createServiceClient, createServiceTransport, Http2SessionPool } from "../src/transport/index.js";
import {
  BENCH_DON_ID,
  BENCH_GATEWAY_ID,
  BENCH_IN_FLIGHT,
  SERVER_PROCESS_FLAG,
  type ServerCommand,
  type ServerMode,
  type ServerReply,
  type ServerStats,
} from "./lib/gateway-server.js";
import { startFakeDon, testSigner, type FakeDon, type FakeNodeBehavior } from "../test/support/fake-nodes.js";
import { prepareCompiled } from "../bin/compiled.js";
import { nodeOptions } from "../bin/node-options.js";

const GATEWAY_ID = BENCH_GATEWAY_ID;
const DON_ID = BENCH_DON_ID;
const SIZES = [4, 7, 16, 31];
const IN_FLIGHT = BENCH_IN_FLIGHT;
type Mode = ServerMode;
type ChildStats = ServerStats;
type ChildReply = ServerReply;

/**
 * How the server process starts. "ccr" (the default): as `npx ccr gateway` runs, i.e. bin/ccr's way:
 * the bundle compiled from the sources (bin/compiled.js; here of bench/lib/gateway-server.ts) run by
 * plain node with the options of bin/node-options (a capped young generation). "tsx": how every ccr
 * process ran before that launcher: tsx's ESM hooks, which Node 20 runs on a worker thread with a
 * heap of its own (about 30 MB of RSS), and V8's default young generation (up to 16 MB per
 * semi-space, which a burst grows to and keeps); kept to show what the launcher changed.
 */
type Loader = "ccr" | "tsx";
const SERVER_SOURCE = "bench/lib/gateway-server.ts";

async function serverEntry(which: Loader): Promise<{ readonly execArgv: readonly string[]; readonly script: string }> {
  if (which === "tsx") return { execArgv: ["--import", "tsx"], script: fileURLToPath(new URL("./lib/gateway-server.ts", import.meta.url)) };
  const compiled = await prepareCompiled({ entry: SERVER_SOURCE });
  if (compiled.url === undefined) throw new Error(`cannot compile ${SERVER_SOURCE} as bin/ccr would: ${compiled.reason}`);
  return { execArgv: nodeOptions(), script: fileURLToPath(compiled.url) };
}

// ── the load side ─────────────────────────────────────────────────────────────────────────────────

interface Child {
  readonly gatewayUrl: string;
  readonly echoUrl: string;
  stats(): Promise<ChildStats>;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

function loader(): Loader {
  const i = process.argv.indexOf("--loader");
  const value = i >= 0 ? process.argv[i + 1] : "ccr";
  if (value !== "ccr" && value !== "tsx") throw new Error(`--loader must be ccr or tsx, got ${String(value)}`);
  return value;
}

async function startChild(mode: Mode, n: number, requestTimeoutMs: number): Promise<Child> {
  const members = Array.from({ length: n }, (_, i) => Buffer.from(testSigner(i).publicKey).toString("hex")).join(",");
  const entry = await serverEntry(loader());
  const semiSpaceMb = arg("semi-space-mb", 0);
  const proc = fork(entry.script, [SERVER_PROCESS_FLAG, mode, members, String(requestTimeoutMs)], {
    // --semi-space-mb overrides the young generation's cap (a later option wins).
    execArgv: [...entry.execArgv, ...(semiSpaceMb > 0 ? [`--max-semi-space-size=${semiSpaceMb}`] : [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(proc);
  proc.once("exit", () => children.delete(proc));
  const ready = await new Promise<{ gatewayUrl: string; echoUrl: string }>((resolve, reject) => {
    proc.once("message", (m: ChildReply) => ("ready" in m ? resolve(m.ready) : reject(new Error("unexpected first message"))));
    proc.once("exit", (code) => reject(new Error(`server process exited with ${code}`)));
  });
  return {
    ...ready,
    stats: () =>
      new Promise((resolve) => {
        const on = (m: ChildReply): void => {
          if ("stats" in m) {
            proc.off("message", on);
            resolve(m.stats);
          }
        };
        proc.on("message", on);
        proc.send({ cmd: "stats" } satisfies ServerCommand);
      }),
    async stop() {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

let seq = 0;
function request(payload: Uint8Array): ExecuteCapabilityRequest {
  seq++;
  return create(ExecuteCapabilityRequestSchema, {
    requestId: `b-${seq}`,
    workflowId: "ab".repeat(32),
    owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    executionId: "cd".repeat(32),
    referenceId: String(seq),
    capabilityId: "echo@1.0.0",
    payload,
    timestampMs: BigInt(Date.now()),
    attestation: { document: new TextEncoder().encode("bench-attestation-document") },
  });
}

interface RunResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Server-process CPU per completed request. */
  readonly serverCpuUs: number;
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? Number.NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

async function load(child: Child, call: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<RunResult> {
  const latencies: number[] = [];
  let errors = 0;
  const cpu0 = (await child.stats()).cpuUs;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await call();
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - start;
  const cpu1 = (await child.stats()).cpuUs;
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: (latencies.length / elapsed) * 1000,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    errors,
    serverCpuUs: (cpu1 - cpu0) / Math.max(1, latencies.length),
  };
}

interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function stat(xs: readonly number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number };
}

function startDon(url: string, n: number, behavior: FakeNodeBehavior): { don: FakeDon; pools: Http2SessionPool[] } {
  const pools = Array.from({ length: n }, () => new Http2SessionPool());
  const don = startFakeDon({
    transport: (i) => createServiceTransport({ baseUrl: url, protocol: "grpc", sessions: pools[i] }),
    gatewayId: GATEWAY_ID,
    donId: DON_ID,
    behaviors: Array.from({ length: n }, () => behavior),
  });
  for (const node of don.nodes) (node.options as { recordRequests?: boolean }).recordRequests = false;
  return { don, pools };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const fmt = (x: number, d = 0): string => x.toFixed(d);
const trio = (s: Stat, d = 0): string => `${fmt(s.median, d)}/${fmt(s.min, d)}/${fmt(s.max, d)}`;

interface SizeResult {
  readonly n: number;
  readonly f: number;
  readonly echo: { rps: Stat; p50Ms: number; p99Ms: number; serverCpuUs: number };
  readonly relay: { rps: Stat; p50Ms: number; p99Ms: number; serverCpuUs: number };
  readonly ratio: Stat;
  readonly cpuRatio: number;
  readonly errors: number;
}

async function throughput(runs: number, seconds: number, concurrency: number, payload: Uint8Array): Promise<SizeResult[]> {
  console.log(`throughput: ${runs} runs × ${seconds} s per side, ${concurrency} calls in flight, payload ${payload.length} B`);
  console.log("N   F   echo rps med/min/max  relay rps med/min/max  ratio  echo p50/p99 ms  relay p50/p99 ms  gw CPU µs/req echo→relay");
  const out: SizeResult[] = [];
  for (const n of SIZES) {
    const f = Math.floor((n - 1) / 3);
    const child = await startChild("gateway", n, 30_000);
    const { don, pools } = startDon(child.gatewayUrl, n, "honest");
    await don.ready();
    const clientPool = new Http2SessionPool();
    const relay: Client<typeof Gateway> = createServiceClient(Gateway, { baseUrl: child.gatewayUrl, protocol: "grpc", sessions: clientPool });
    const echo: Client<typeof Gateway> = createServiceClient(Gateway, { baseUrl: child.echoUrl, protocol: "grpc", sessions: clientPool });
    const relayCall = (): Promise<unknown> => relay.executeCapability(request(payload));
    const echoCall = (): Promise<unknown> => echo.executeCapability(request(payload));
    await load(child, echoCall, concurrency, 500); // warm-up: JIT, connections
    await load(child, relayCall, concurrency, 500);
    const e: RunResult[] = [];
    const r: RunResult[] = [];
    for (let i = 0; i < runs; i++) {
      e.push(await load(child, echoCall, concurrency, seconds * 1000));
      r.push(await load(child, relayCall, concurrency, seconds * 1000));
    }
    const res: SizeResult = {
      n,
      f,
      echo: {
        rps: stat(e.map((x) => x.rps)),
        p50Ms: stat(e.map((x) => x.p50Ms)).median,
        p99Ms: stat(e.map((x) => x.p99Ms)).median,
        serverCpuUs: stat(e.map((x) => x.serverCpuUs)).median,
      },
      relay: {
        rps: stat(r.map((x) => x.rps)),
        p50Ms: stat(r.map((x) => x.p50Ms)).median,
        p99Ms: stat(r.map((x) => x.p99Ms)).median,
        serverCpuUs: stat(r.map((x) => x.serverCpuUs)).median,
      },
      ratio: stat(r.map((x, i) => x.rps / (e[i] as RunResult).rps)),
      cpuRatio: 0,
      errors: [...e, ...r].reduce((s, x) => s + x.errors, 0),
    };
    const withCpu = { ...res, cpuRatio: res.echo.serverCpuUs / res.relay.serverCpuUs };
    out.push(withCpu);
    console.log(
      `${String(n).padEnd(3)} ${String(f).padEnd(3)} ${trio(res.echo.rps).padEnd(21)} ${trio(res.relay.rps).padEnd(22)} ` +
        `${fmt(res.ratio.median, 2).padEnd(6)} ${`${fmt(res.echo.p50Ms, 1)}/${fmt(res.echo.p99Ms, 1)}`.padEnd(16)} ` +
        `${`${fmt(res.relay.p50Ms, 1)}/${fmt(res.relay.p99Ms, 1)}`.padEnd(17)} ${fmt(res.echo.serverCpuUs)}→${fmt(res.relay.serverCpuUs)}` +
        (withCpu.errors > 0 ? `  (${withCpu.errors} errors)` : ""),
    );
    await don.stop();
    for (const p of pools) p.closeAll();
    clientPool.closeAll();
    await child.stop();
  }
  return out;
}

/** Least-squares line y = a + b·x, with R². */
function fit(points: readonly (readonly [number, number])[]): { intercept: number; slope: number; r2: number } {
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const mx = mean(xs);
  const my = mean(ys);
  const slope = xs.reduce((s, x, i) => s + (x - mx) * ((ys[i] as number) - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const intercept = my - slope * mx;
  const ssRes = ys.reduce((s, y, i) => s + (y - (intercept + slope * (xs[i] as number))) ** 2, 0);
  const ssTot = ys.reduce((s, y) => s + (y - my) ** 2, 0);
  return { intercept, slope, r2: 1 - ssRes / ssTot };
}

/** Opens an HTTP/2 POST / JSON-RPC call that stays pending; resolves when the stream ends. */
function jsonRpcCall(session: http2.ClientHttp2Session, i: number, payload: Uint8Array): Promise<unknown> {
  return new Promise((resolve) => {
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: `j-${i}`,
      method: "confidential.capability.execute",
      params: {
        workflow_id: "ab".repeat(32),
        owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        execution_id: "cd".repeat(32),
        reference_id: String(i),
        capability_id: "echo@1.0.0",
        payload: Buffer.from(payload).toString("base64"),
        attestation: Buffer.from("bench-attestation-document").toString("base64"),
        timestamp_ms: Date.now(),
      },
    });
    const stream = session.request({ ":method": "POST", ":path": "/", "content-type": "application/json" });
    stream.on("error", () => resolve(undefined));
    stream.on("close", () => resolve(undefined));
    stream.resume();
    stream.end(body);
  });
}

async function holdInFlight(
  mode: Mode,
  payload: Uint8Array,
  via: "grpc" | "jsonrpc" = "grpc",
): Promise<{ inFlight: number; rssMb: number; idleRssMb: number; heapMb: number }> {
  // The memory run's gateway process serves no echo: it holds what a gateway holds.
  const child = await startChild(mode === "gateway" ? "gateway-only" : mode, 4, 600_000);
  const dial = mode === "gateway" ? startDon(child.gatewayUrl, 4, "silent") : undefined;
  await dial?.don.ready();
  await new Promise((r) => setTimeout(r, 300));
  const idle = await child.stats();
  // An HTTP/2 client allows 100 concurrent streams per connection until the server says otherwise
  // (Node's peerMaxConcurrentStreams), so spread the calls over enough connections.
  const connections = Math.ceil(IN_FLIGHT / 90);
  const clientPools = Array.from({ length: connections }, () => new Http2SessionPool());
  const clients = clientPools.map((sessions) => createServiceClient(Gateway, { baseUrl: child.gatewayUrl, protocol: "grpc", sessions }));
  const sessions = via === "jsonrpc" ? Array.from({ length: connections }, () => http2.connect(child.gatewayUrl)) : [];
  for (const session of sessions) session.on("error", () => undefined);
  const pending: Promise<unknown>[] = [];
  // Calls that ended before the measurement, by error: a call that drops out says why.
  const early = new Map<string, number>();
  let measuring = true;
  const noteEnd = (e: unknown): void => {
    if (!measuring) return;
    const what = e instanceof ConnectError ? `${Code[e.code]}: ${e.rawMessage}` : String(e);
    early.set(what, (early.get(what) ?? 0) + 1);
  };
  for (let i = 0; i < IN_FLIGHT; i++) {
    pending.push(
      via === "jsonrpc"
        ? jsonRpcCall(sessions[i % sessions.length] as http2.ClientHttp2Session, i, payload)
        : (clients[i % clients.length] as Client<typeof Gateway>).executeCapability(request(payload)).then(() => noteEnd("answered"), noteEnd),
    );
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const deadline = performance.now() + 120_000;
  let s = await child.stats();
  // Steady state: every request in flight and fanned out (the nodes, in this busy process, read
  // their streams late; a backlog still queued at the gateway is not what "in flight" means here).
  while ((s.inFlight < IN_FLIGHT || s.queuedToNodes > 0) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    s = await child.stats();
  }
  await new Promise((r) => setTimeout(r, 500));
  s = await child.stats();
  measuring = false;
  if (s.queuedToNodes > 0) console.log(`  ${mode}/${via}: ${s.queuedToNodes} fan-out messages still queued towards the nodes at the measurement`);
  if (early.size > 0) console.log(`  ${mode}/${via}: calls ended before the measurement: ${[...early].map(([k, v]) => `${v}× ${k}`).join("; ")}`);
  await child.stop();
  for (const p of clientPools) p.closeAll();
  for (const session of sessions) session.destroy();
  await Promise.allSettled(pending);
  if (dial !== undefined) {
    await dial.don.stop().catch(() => undefined);
    for (const p of dial.pools) p.closeAll();
  }
  return { inFlight: s.inFlight, rssMb: s.rssBytes / 2 ** 20, idleRssMb: idle.rssBytes / 2 ** 20, heapMb: s.heapUsedBytes / 2 ** 20 };
}

async function runBench(): Promise<void> {
  const runs = arg("runs", 3);
  const seconds = arg("seconds", 2);
  const concurrency = arg("concurrency", 64);
  const payload = new TextEncoder().encode("x".repeat(256));

  const which = loader();
  const execArgv = (await serverEntry(which)).execArgv;
  const server = { loader: which, execArgv, semiSpaceMb: arg("semi-space-mb", 0) };
  console.log(
    `server process: ${which === "ccr" ? "as bin/ccr starts it (compiled bundle, plain node)" : "tsx ESM hooks (worker thread)"}, ` +
      `node options: ${[...execArgv.filter((a) => a.startsWith("--max-semi")), ...(server.semiSpaceMb > 0 ? [`--max-semi-space-size=${server.semiSpaceMb}`] : [])].join(" ") || "none (V8 defaults)"}`,
  );
  const results = process.argv.includes("--skip-throughput") ? [] : await throughput(runs, seconds, concurrency, payload);
  let perNode: ReturnType<typeof fit> | undefined;
  if (results.length > 1) {
    // Cost per added node, two ways: wall-clock µs per relayed request (all processes, one busy box)
    // and the gateway process's own CPU µs per request.
    const wall = fit(results.map((r) => [r.n, 1e6 / r.relay.rps.median] as const));
    perNode = fit(results.map((r) => [r.n, r.relay.serverCpuUs] as const));
    console.log(
      `cost per relayed request vs N: wall ≈ ${fmt(wall.intercept)} + ${fmt(wall.slope, 1)}·N µs (R² ${fmt(wall.r2, 3)}); ` +
        `gateway CPU ≈ ${fmt(perNode.intercept)} + ${fmt(perNode.slope, 1)}·N µs (R² ${fmt(perNode.r2, 3)})`,
    );
  }

  let memory: Record<string, unknown> | undefined;
  if (!process.argv.includes("--skip-rss")) {
    // --memory picks runs (default all three); a run left out reports zeros.
    const i = process.argv.indexOf("--memory");
    const picked = new Set((i >= 0 ? (process.argv[i + 1] ?? "") : "grpc,runtime,jsonrpc").split(","));
    const none = { inFlight: 0, rssMb: 0, idleRssMb: 0, heapMb: 0 };
    const gw = picked.has("grpc") ? await holdInFlight("gateway", payload) : none;
    const bare = picked.has("runtime") ? await holdInFlight("hang", payload) : none;
    const viaJson = picked.has("jsonrpc") ? await holdInFlight("gateway", payload, "jsonrpc") : none;
    const ownKb = ((gw.rssMb - gw.idleRssMb - (bare.rssMb - bare.idleRssMb)) * 1024) / IN_FLIGHT;
    console.log(
      `RSS with ${gw.inFlight} gRPC requests in flight (N=4): gateway ${fmt(gw.rssMb, 1)} MB (idle ${fmt(gw.idleRssMb, 1)} MB, heap ${fmt(gw.heapMb, 1)} MB)\n` +
        `  the runtime alone holding ${bare.inFlight} unanswered unary gRPC calls: ${fmt(bare.rssMb, 1)} MB (idle ${fmt(bare.idleRssMb, 1)} MB) → ` +
        `gateway's own share ≈ ${fmt(ownKb, 1)} KB per request\n` +
        `  the same ${viaJson.inFlight} requests through the JSON-RPC endpoint (HTTP/2): ${fmt(viaJson.rssMb, 1)} MB (heap ${fmt(viaJson.heapMb, 1)} MB)`,
    );
    memory = { gateway: gw, runtimeOnly: bare, jsonRpc: viaJson, gatewayOwnKbPerRequest: ownKb };
  }

  const n4 = results.find((r) => r.n === 4);
  const summary = {
    bench: "gateway",
    runs,
    secondsPerRun: seconds,
    concurrency,
    payloadBytes: payload.length,
    server,
    results,
    perNodeGatewayCpu: perNode,
    inFlight: memory,
    targets: {
      relayToEchoAtN4: { target: 0.4, value: n4?.ratio.median, pass: n4 === undefined ? null : n4.ratio.median >= 0.4 },
      linearPerNode: { targetR2: 0.9, value: perNode?.r2, pass: perNode === undefined ? null : perNode.r2 >= 0.9 },
      rssAt10kInFlightMb: {
        target: 150,
        value: (memory?.["gateway"] as { rssMb: number } | undefined)?.rssMb,
        pass: memory === undefined ? null : (memory["gateway"] as { rssMb: number }).rssMb < 150,
      },
    },
  };
  console.log(JSON.stringify(summary));
}

try {
  await runBench();
} catch (e) {
  console.error(e);
  process.exit(1);
}
process.exit(0);
