/**
 * End-to-end relay benchmark (issue 9, "End-to-end relay"):
 *
 *   npx tsx bench/e2e-relay.ts [--quick] [--runs 3] [--seconds 4] [--sizes 4,7,16]
 *                              [--concurrency 16,64] [--senders 16] [--log-level info]
 *                              [--topology up|processes] [--profile-dir DIR]
 *   --profile-dir writes a V8 CPU profile of every ccr process (node --cpu-prof) into DIR.
 *
 * What runs: for each N (F = 1, 2, 5 for N = 4, 7, 16), a fresh deployment started with the public CLI
 * (bench/lib/mesh.ts), in one of two shapes:
 *   --topology up (default): `node <bin/node-options> bin/ccr.js up --json --base-port 0 --dir <tmp> --nodes N --f F`,
 *     which hosts the gateway, the N relay nodes, the Vault, the Capability service, the enclave host
 *     and the workflow node in ONE OS process (src/cli/mesh.ts);
 *   --topology processes: `ccr init`, then one OS process per server (`ccr gateway|relay-node|vault|
 *     capability --config DIR/config/<name>.json`), as an operator runs them.
 * Every hop is a real loopback socket: the enclave's calls to the gateway (gRPC), the N node streams
 * to the gateway, and each node's calls to the Capability service. Measuring starts once the gateway
 * reports all N nodes connected.
 *
 * The load: this process plays the enclave. It reuses the enclave's own relay client
 * (src/services/confidential-workflows/relay-client.ts) with the deployment's dev attestation CA
 * (DIR/keys/attestation-ca.{pem,key}), this build's measurements (computeEnclaveMeasurements(),
 * which `ccr up` put in DIR/measurements.json) and the workflow node's key (DIR/keys/workflow-node.key)
 * for the authorization. So every request is a valid `Gateway.ExecuteCapability(echo@1.0.0)`:
 * attestation in binding mode (b) (a session document, verified once per node and cached, plus an
 * ed25519 session signature checked on every node for every request), the workflow node's
 * authorization checked on every node, N Capability calls, N signatures, and the quorum certificate
 * (F+1 signatures over the recomputed result hash) verified here, as the enclave does, before the
 * answer counts as a success. The payload must come back byte for byte.
 *
 * `--senders` enclave identities (each its own keys and session document) share the load: the
 * gateway rate-limits per sender (100/s, burst 200 by default) and globally (1 000/s, burst 2 000);
 * those limits are part of what is measured once the mesh goes faster than them.
 * Each identity starts a new execution (and authorization) every 10 calls; each call has a new
 * reference id, so the Capability service's memo misses for the first node and hits for the others.
 *
 * Figures (per N; medians over `--runs` runs, with min and max):
 *   - maximum throughput: closed loop at each `--concurrency`, the best of them per run;
 *   - p50/p99 latency at 50% and 90% of the maximum: open loop, calls issued at that fixed rate,
 *     latency from each call's scheduled start (no coordinated omission); each run lasts at least
 *     `--seconds` and long enough for 40 calls (at most 10 s quick, 20 s full);
 *   - baseline, measured in the same run, same client stack and connection type: a bare unary
 *     `grpc.health.v1.Health/Check` on relay node 0's server (inside the same ccr process): closed
 *     loop at the highest concurrency for throughput, and open loop at the same rates for latency;
 *   - ratios relay/baseline per run (throughput) and per rate (latency);
 *   - the mesh's CPU time per call (all its processes, from /proc, less its idle CPU use over the same
 *     time), which a shared machine distorts less than wall-clock throughput, and each process's RSS.
 * The machine is shared: the load average is recorded before and after.
 *
 * The last line is one JSON object: {"bench":"e2e-relay",...}.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { authorizationPayload, Gateway, health, WorkflowAuthorizationSchema } from "../src/contract/index.js";
import { systemClock, type RandomBytes } from "../src/domain/clock.js";
import { CONFIDENTIAL_WORKFLOWS_DEFAULTS, generateEnclaveKeys } from "../src/services/confidential-workflows/index.js";
import { EnclaveAttestation } from "../src/services/confidential-workflows/enclave-attestation.js";
import { RelayClient, type ExecutionIdentity } from "../src/services/confidential-workflows/relay-client.js";
import { createServiceClient, Http2SessionPool } from "../src/transport/index.js";
import { closedLoop, openLoop, type Call, type LoadResult, type OpenLoopResult } from "./lib/load.js";
import { loadDeploymentEnclave } from "./lib/deployment-enclave.js";
import { startBenchMesh, type BenchMesh, type Topology } from "./lib/mesh.js";
import { linearFit, pairedRatio, roundSig, roundSummary, summarize, type Summary } from "./lib/stats.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    seconds: { type: "string" },
    sizes: { type: "string", default: "4,7,16" },
    concurrency: { type: "string" },
    senders: { type: "string", default: "16" },
    "log-level": { type: "string", default: "info" },
    "profile-dir": { type: "string" },
    topology: { type: "string", default: "up" },
  },
  strict: true,
});
const QUICK = values.quick;
const RUNS = Number(values.runs ?? (QUICK ? 2 : 3));
const SECONDS = Number(values.seconds ?? (QUICK ? 2 : 4));
const SIZES = values.sizes.split(",").map(Number);
const CONCURRENCY = (values.concurrency ?? (QUICK ? "64" : "16,64")).split(",").map(Number);
const SENDERS = Number(values.senders);
const LOG_LEVEL = values["log-level"];
if (values.topology !== "up" && values.topology !== "processes") throw new Error(`--topology must be "up" or "processes", got "${values.topology}"`);
const TOPOLOGY: Topology = values.topology;
const LOAD_FRACTIONS = [0.5, 0.9] as const;
/** Each open-loop run lasts long enough for this many calls, up to MAX_OPEN_LOOP_MS. */
const MIN_OPEN_LOOP_CALLS = 40;
const MAX_OPEN_LOOP_MS = QUICK ? 10_000 : 20_000;
const CALLS_PER_EXECUTION = 10;
const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const WORKFLOW_ID = "e2".repeat(32);

for (const [name, v] of [["runs", RUNS], ["seconds", SECONDS], ["senders", SENDERS], ...SIZES.map((n) => ["sizes", n] as const), ...CONCURRENCY.map((c) => ["concurrency", c] as const)] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
}

const randomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fOf = (n: number): number => Math.floor((n - 1) / 3);
const load3 = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));

/** The enclave side, built from the deployment directory exactly as the enclave process would. */
async function enclaveClients(dir: string, gatewayUrl: string, sessions: Http2SessionPool): Promise<{ calls: Call; senders: number }> {
  const { don, producer, workflowNode } = await loadDeploymentEnclave(dir, "i-bench-enc");
  const gateway = createServiceClient(Gateway, { baseUrl: gatewayUrl, protocol: "grpc", sessions });
  const clients = Array.from({ length: SENDERS }, () => {
    const keys = generateEnclaveKeys(randomBytes);
    const attestation = new EnclaveAttestation({
      producer,
      keys,
      clock: systemClock,
      mode: "session",
      refreshIntervalMs: CONFIDENTIAL_WORKFLOWS_DEFAULTS.refreshIntervalMs,
    });
    return new RelayClient({
      gateway,
      don: { signers: don.members.map((m) => new Uint8Array(Buffer.from(m.publicKey, "hex"))), f: don.f },
      keys,
      attestation,
      clock: systemClock,
      randomBytes,
      requestTimeoutMs: 30_000,
    });
  });
  const identities: ExecutionIdentity[] = [];
  const used: number[] = [];
  const newIdentity = (): ExecutionIdentity => {
    const executionId = hex(randomBytes(32));
    return {
      workflowId: WORKFLOW_ID,
      owner: OWNER,
      executionId,
      orgId: "",
      authorization: create(WorkflowAuthorizationSchema, {
        signatures: [{ signer: workflowNode.publicKey, signature: workflowNode.sign(authorizationPayload({ owner: OWNER, workflowId: WORKFLOW_ID, executionId })) }],
      }),
    };
  };
  for (let i = 0; i < SENDERS; i++) {
    identities.push(newIdentity());
    used.push(0);
  }
  let seq = 0;
  const calls: Call = async () => {
    const i = seq++;
    const s = i % SENDERS;
    if ((used[s] as number) >= CALLS_PER_EXECUTION) {
      identities[s] = newIdentity();
      used[s] = 0;
    }
    used[s] = (used[s] as number) + 1;
    const payload = Buffer.from(JSON.stringify({ call: i, pad: "x".repeat(48) }));
    const out = await (clients[s] as RelayClient).executeCapability(identities[s] as ExecutionIdentity, `ref-${i}`, { id: "echo@1.0.0", method: "Execute", payload }, new AbortController().signal);
    if (out.kind === "failed") return `${out.failure}: ${out.error.replace(/[0-9a-f]{16,}/g, "…").slice(0, 120)}`;
    if (out.response.kind !== "payload") return `capability error: ${out.response.error.slice(0, 80)}`;
    return Buffer.from(out.response.payload).equals(payload) ? undefined : "payload altered";
  };
  return { calls, senders: SENDERS };
}

/** Per-process RSS in MB (3 significant digits), null where unknown. */
function mb(rss: Record<string, number | undefined>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, v === undefined ? null : roundSig(v / 2 ** 20, 3)]));
}

function baselineCall(nodeUrl: string, sessions: Http2SessionPool): Call {
  const client = createServiceClient(health.Health, { baseUrl: nodeUrl, protocol: "grpc", sessions });
  return async () => {
    try {
      const res = await client.check({});
      return res.status === health.HealthCheckResponse_ServingStatus.SERVING ? undefined : `status ${res.status}`;
    } catch (e) {
      return `health: ${(e as Error).message.slice(0, 80)}`;
    }
  };
}

/** The mesh's CPU use while nothing is sent (timers, heartbeats, GC), in ms of CPU per second. */
async function idleCpuMsPerSec(mesh: BenchMesh, ms: number): Promise<number> {
  const c0 = mesh.cpuMs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c1 = mesh.cpuMs();
  return c0 === undefined || c1 === undefined ? Number.NaN : ((c1 - c0) / (performance.now() - t0)) * 1000;
}

/**
 * Runs `fn` and returns its result with the mesh's CPU time (all its processes) per successful call,
 * in µs, less what the mesh uses when idle over the same time (so background work is not charged to
 * the calls). /proc counts CPU in 10 ms ticks per process, so short runs at low rates are coarse.
 */
async function withCpu<T extends LoadResult>(mesh: BenchMesh, idleMsPerSec: number, fn: () => Promise<T>): Promise<T & { meshCpuUsPerCall: number }> {
  const c0 = mesh.cpuMs();
  const t0 = performance.now();
  const r = await fn();
  const c1 = mesh.cpuMs();
  const wallMs = performance.now() - t0;
  const done = (r.rps * r.elapsedMs) / 1000;
  const idle = Number.isFinite(idleMsPerSec) ? (idleMsPerSec * wallMs) / 1000 : 0;
  return { ...r, meshCpuUsPerCall: c0 === undefined || c1 === undefined || done === 0 ? Number.NaN : ((c1 - c0 - idle) * 1000) / done };
}

const fmt = (x: number, d = 0): string => (Number.isFinite(x) ? x.toFixed(d) : "–");
const trio = (s: Summary, d = 0): string => `${fmt(s.median, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`;

function mergeErrors(results: readonly LoadResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) out[k] = (out[k] ?? 0) + v;
  return out;
}

async function benchSize(n: number): Promise<Record<string, unknown>> {
  const f = fOf(n);
  const startMs = Date.now();
  const mesh = await startBenchMesh({
    cwd: REPO,
    topology: TOPOLOGY,
    nodes: n,
    f,
    readyTimeoutMs: 240_000,
    env: { ...process.env, CCR_SERVER_LOG_LEVEL: LOG_LEVEL },
    ...(values["profile-dir"] === undefined ? {} : { nodeArgs: ["--cpu-prof", "--cpu-prof-dir", values["profile-dir"]] }),
  });
  const startupMs = Date.now() - startMs;
  const sessions = new Http2SessionPool();
  try {
    const idleRss = mesh.rssBytes();
    const { calls: relay } = await enclaveClients(mesh.dir, mesh.gatewayUrl, sessions);
    const bare = baselineCall(mesh.relayNodeUrls[0] as string, sessions);
    // Warm-up: every sender's session document gets its one full verification on every node, and the
    // JIT and connections settle; nothing here is measured.
    const first = await Promise.all(Array.from({ length: SENDERS }, () => relay()));
    const firstFailure = first.find((x) => x !== undefined);
    if (firstFailure !== undefined) throw new Error(`N=${n}: the first relay call failed: ${firstFailure}\n${mesh.logsTail()}`);
    await closedLoop(relay, { concurrency: Math.max(...CONCURRENCY), durationMs: 1_000 });
    await closedLoop(bare, { concurrency: Math.max(...CONCURRENCY), durationMs: 500 });
    const idleCpu = await idleCpuMsPerSec(mesh, QUICK ? 2_000 : 3_000);

    const cmax = Math.max(...CONCURRENCY);
    const base: (LoadResult & { meshCpuUsPerCall: number })[] = [];
    const best: (LoadResult & { meshCpuUsPerCall: number; concurrency: number })[] = [];
    const byConcurrency: Record<string, number[]> = {};
    for (let run = 0; run < RUNS; run++) {
      base.push(await withCpu(mesh, idleCpu, () => closedLoop(bare, { concurrency: cmax, durationMs: SECONDS * 1000 })));
      let top: (LoadResult & { meshCpuUsPerCall: number; concurrency: number }) | undefined;
      for (const c of CONCURRENCY) {
        const r = { ...(await withCpu(mesh, idleCpu, () => closedLoop(relay, { concurrency: c, durationMs: SECONDS * 1000 }))), concurrency: c };
        (byConcurrency[c] ??= []).push(r.rps);
        if (top === undefined || r.rps > top.rps) top = r;
      }
      best.push(top!);
    }
    const maxRps = summarize(best.map((r) => r.rps));
    const throughputRatio = pairedRatio(
      best.map((r) => r.rps),
      base.map((r) => r.rps),
    );

    // Open loop at fractions of the median maximum; the bare call at the same rates, in the same run.
    const atLoad: Record<string, unknown>[] = [];
    const openRuns: OpenLoopResult[] = [];
    for (const fraction of LOAD_FRACTIONS) {
      const rate = Math.max(1, Math.round(maxRps.median * fraction));
      // Long enough for MIN_OPEN_LOOP_CALLS calls at this rate (a slow mesh on a busy box answers only
      // a few per second), but never longer than MAX_OPEN_LOOP_MS.
      const openMs = Math.min(Math.max(SECONDS * 1000, (MIN_OPEN_LOOP_CALLS / rate) * 1000), MAX_OPEN_LOOP_MS);
      const relayRuns: OpenLoopResult[] = [];
      const baseRuns: OpenLoopResult[] = [];
      for (let run = 0; run < RUNS; run++) {
        relayRuns.push(await openLoop(relay, { ratePerSec: rate, durationMs: openMs }));
        baseRuns.push(await openLoop(bare, { ratePerSec: rate, durationMs: openMs }));
      }
      openRuns.push(...relayRuns, ...baseRuns);
      atLoad.push({
        fraction,
        offeredRps: rate,
        secondsPerRun: roundSig(openMs / 1000, 3),
        relay: {
          achievedRps: roundSummary(summarize(relayRuns.map((r) => r.rps))),
          p50Ms: roundSummary(summarize(relayRuns.map((r) => r.p50Ms))),
          p99Ms: roundSummary(summarize(relayRuns.map((r) => r.p99Ms))),
          samples: roundSummary(summarize(relayRuns.map((r) => r.count))),
          errors: relayRuns.reduce((s, r) => s + r.errorCount, 0),
          skipped: relayRuns.reduce((s, r) => s + r.skipped, 0),
        },
        baseline: {
          p50Ms: roundSummary(summarize(baseRuns.map((r) => r.p50Ms))),
          p99Ms: roundSummary(summarize(baseRuns.map((r) => r.p99Ms))),
          errors: baseRuns.reduce((s, r) => s + r.errorCount, 0),
        },
        p50Ratio: roundSummary(pairedRatio(relayRuns.map((r) => r.p50Ms), baseRuns.map((r) => r.p50Ms))),
        p99Ratio: roundSummary(pairedRatio(relayRuns.map((r) => r.p99Ms), baseRuns.map((r) => r.p99Ms))),
      });
    }
    const loadedRss = mesh.rssBytes();
    const result = {
      n,
      f,
      startupMs,
      processes: mesh.processes.length,
      idleMeshCpuMsPerSec: roundSig(idleCpu, 3),
      relay: {
        maxRps: roundSummary(maxRps),
        maxRpsByConcurrency: Object.fromEntries(Object.entries(byConcurrency).map(([c, xs]) => [c, roundSummary(summarize(xs))])),
        closedLoopP50Ms: roundSummary(summarize(best.map((r) => r.p50Ms))),
        closedLoopP99Ms: roundSummary(summarize(best.map((r) => r.p99Ms))),
        meshCpuUsPerCall: roundSummary(summarize(best.map((r) => r.meshCpuUsPerCall))),
      },
      baseline: {
        call: `grpc.health.v1.Health/Check on relay-node-0's server (${TOPOLOGY === "up" ? "inside the same ccr up process" : "its own process"}), gRPC over h2c`,
        concurrency: cmax,
        rps: roundSummary(summarize(base.map((r) => r.rps))),
        closedLoopP50Ms: roundSummary(summarize(base.map((r) => r.p50Ms))),
        closedLoopP99Ms: roundSummary(summarize(base.map((r) => r.p99Ms))),
        meshCpuUsPerCall: roundSummary(summarize(base.map((r) => r.meshCpuUsPerCall))),
      },
      throughputRatio: roundSummary(throughputRatio),
      cpuRatio: roundSig(summarize(best.map((r) => r.meshCpuUsPerCall)).median / summarize(base.map((r) => r.meshCpuUsPerCall)).median),
      atLoad,
      errors: mergeErrors([...base, ...best, ...openRuns]),
      rssMb: { idle: mb(idleRss), afterLoad: mb(loadedRss) },
    };
    const a50 = atLoad[0] as { offeredRps: number; relay: { p50Ms: Summary; p99Ms: Summary } };
    const a90 = atLoad[1] as { offeredRps: number; relay: { p50Ms: Summary; p99Ms: Summary } };
    console.log(
      `N=${String(n).padEnd(2)} F=${f}  relay max ${trio(maxRps)} /s   bare ${trio(summarize(base.map((r) => r.rps)))} /s   ratio ${trio(throughputRatio, 3)}   ` +
        `@50% (${a50.offeredRps}/s) p50/p99 ${fmt(a50.relay.p50Ms.median, 1)}/${fmt(a50.relay.p99Ms.median, 1)} ms   ` +
        `@90% (${a90.offeredRps}/s) ${fmt(a90.relay.p50Ms.median, 1)}/${fmt(a90.relay.p99Ms.median, 1)} ms   ` +
        `mesh CPU µs/call relay ${fmt(result.relay.meshCpuUsPerCall.median)} vs bare ${fmt(result.baseline.meshCpuUsPerCall.median)}   ` +
        `RSS MB ${Object.entries(result.rssMb.afterLoad).map(([k, v]) => `${k} ${fmt(v ?? Number.NaN)}`).join(", ")}` +
        (Object.keys(result.errors).length > 0 ? `   errors ${JSON.stringify(result.errors)}` : ""),
    );
    return result;
  } finally {
    sessions.closeAll();
    await mesh.stop();
  }
}

async function main(): Promise<void> {
  const loadBefore = load3();
  console.log(
    `e2e relay (${TOPOLOGY === "up" ? "ccr up, one process" : "one process per server"}): N ∈ {${SIZES.join(", ")}}, ${RUNS} runs × ${SECONDS} s, closed loop at concurrency ${CONCURRENCY.join("/")}, ` +
      `${SENDERS} enclave identities; load average ${loadBefore.join(" ")} on ${cpus().length} CPUs`,
  );
  const results: Record<string, unknown>[] = [];
  for (const n of SIZES) results.push(await benchSize(n));
  // The ccr process's CPU per relayed call against N: what each added node costs the whole mesh.
  const cpuPoints = results
    .map((r) => [r["n"] as number, (r["relay"] as { meshCpuUsPerCall: Summary }).meshCpuUsPerCall.median] as const)
    .filter(([, y]) => Number.isFinite(y));
  const fit = new Set(cpuPoints.map(([x]) => x)).size >= 2 ? linearFit(cpuPoints) : undefined;
  if (fit !== undefined) {
    console.log(`mesh CPU per relayed call ≈ ${fmt(fit.intercept)} + ${fmt(fit.slope)}·N µs (R² ${fmt(fit.r2, 3)})`);
  }
  console.log(
    JSON.stringify({
      bench: "e2e-relay",
      quick: QUICK,
      runs: RUNS,
      secondsPerRun: SECONDS,
      concurrency: CONCURRENCY,
      senders: SENDERS,
      callsPerExecution: CALLS_PER_EXECUTION,
      capability: "echo@1.0.0",
      bindingMode: "session",
      logLevel: LOG_LEVEL,
      topology: TOPOLOGY,
      topologyDescription:
        TOPOLOGY === "up"
          ? "ccr up: one OS process hosting the gateway, N relay nodes, vault, capability, enclave host and workflow node; loopback sockets between them"
          : "one OS process per server (ccr init, then ccr capability|vault|gateway|relay-node --config …); loopback sockets between them",
      baseline: "grpc.health.v1.Health/Check on relay-node-0's server (same client stack)",
      loadavgBefore: loadBefore,
      loadavgAfter: load3(),
      results,
      meshCpuPerCallVsN: fit === undefined ? null : { intercept: roundSig(fit.intercept), slope: roundSig(fit.slope), r2: roundSig(fit.r2) },
    }),
  );
}

try {
  await main();
  process.exit(0);
} catch (e) {
  console.error(e);
  process.exit(1);
}
