/**
 * Issue 9, "Bad input": a fuzzer sends at least 100 000 malformed requests over every public
 * endpoint — JSON-RPC, Connect JSON, Connect binary, gRPC (raw HTTP/2 framing), gRPC-Web, the node
 * stream handshake, malformed attestation documents in otherwise well-formed relay requests, and
 * malformed HTTP/1.1 and HTTP/2 framing — at the gateway, a relay node, the vault, the capability
 * service and the enclave host, each a separate OS process (test/support/process-mesh.ts).
 * Then it calls the relay nodes' attestation verifier directly on malformed documents.
 *
 * Claims:
 *   - zero crashes: every process still runs, was never restarted, and answers grpc.health SERVING;
 *   - client errors get client error codes (classify.ts): no Internal/Unknown/DataLoss, no HTTP 5xx,
 *     no JSON-RPC -32603, no hang, no answer a standard client cannot read. Every such answer is
 *     reported with the input that caused it. (Refusals on the wire — an HTTP/2 reset or GOAWAY, an
 *     HTTP/1.1 400-and-close — are client errors too; so is connect-node's 505 for a bidi-streaming
 *     call over HTTP/1.1, RFC 9110 §15.6.6, which the report lists separately.)
 *   - memory is flat afterwards: each process's RSS after a settle period is within
 *     RSS_BOUND_FACTOR × its RSS before the run plus RSS_BOUND_SLACK_MB. The before figure is taken
 *     after a warm-up (JIT code, caches, connection pools in place); V8 keeps the heap it grew to
 *     during the run, so the bound is loose on purpose and the report adds an RSS series every
 *     10 000 requests and each server's heap in use (nodejs_heap_size_used_bytes) before and after,
 *     to tell a leak (steady growth) from a heap that grew once;
 *   - the verifier never throws on document bytes and never accepts a must-reject document.
 *
 * Reproduce: every case is generated from Prng(seed, index). The suite prints its seed; rerun with
 * CCR_FAULTS_SEED=<seed>, or replay one case with CCR_FAULTS_SEED=<seed> CCR_FAULTS_FUZZ_CASE=<index>
 * (the findings list case indices). Knobs: CCR_FAULTS_FUZZ_REQUESTS (default 100 000),
 * CCR_FAULTS_FUZZ_VERIFY (direct verify documents, default 10 000).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { health } from "../../src/contract/index.js";
import { createServiceClient, Http2SessionPool } from "../../src/transport/index.js";
import { useProcessMesh, type ProcessMesh } from "../support/process-mesh.js";
import { buildFuzzEnv, SERVERS_UNDER_TEST } from "./fuzz/env.js";
import { cpuMs, rssBytes } from "./support/rss.js";
import { faultsSeed, Prng } from "./fuzz/prng.js";
import { emptyStats, FINDING_CLASSES, runFuzz, runOneCase, type Finding } from "./fuzz/run.js";
import { runDirectVerify } from "./fuzz/verify-direct.js";

const SEED = faultsSeed();
const REQUESTS = Number(process.env["CCR_FAULTS_FUZZ_REQUESTS"] ?? 100_000);
const VERIFY_DOCUMENTS = Number(process.env["CCR_FAULTS_FUZZ_VERIFY"] ?? 10_000);
const ONE_CASE = process.env["CCR_FAULTS_FUZZ_CASE"];
const WARMUP = Math.min(3_000, Math.ceil(REQUESTS / 20));
const CONCURRENCY = 48;
const REQUEST_TIMEOUT_MS = 20_000;
const SETTLE_MS = 5_000;
/** Memory bound: after ≤ before × factor + slack. */
const RSS_BOUND_FACTOR = 1.5;
const RSS_BOUND_SLACK_MB = 48;

const mb = (b: number | undefined): number => (b === undefined ? Number.NaN : Math.round((b / 2 ** 20) * 10) / 10);

async function rssOf(pids: Readonly<Record<string, number | undefined>>): Promise<Record<string, number | undefined>> {
  const out: Record<string, number | undefined> = {};
  for (const [name, pid] of Object.entries(pids)) out[name] = await rssBytes(pid);
  return out;
}

/** Each server's V8 heap in use (prom-client's nodejs_heap_size_used_bytes), MiB. */
async function heapOf(m: ProcessMesh): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name] of SERVERS_UNDER_TEST) out[name] = mb(await m.metric(name, "nodejs_heap_size_used_bytes").catch(() => Number.NaN));
  return out;
}

function findingText(f: Finding): string {
  return [
    `${f.count}× ${f.cls} ${f.label}${f.message === "" ? "" : ` "${f.message}"`}`,
    `  where: ${Object.entries(f.where).map(([w, n]) => `${w} ×${n}`).join(", ")}`,
    ...f.examples.map((e) => `  case ${e.caseIndex} (${e.category} → ${e.server}) [${e.variant}]: ${e.input}`),
  ].join("\n");
}

describe(`bad input: ${REQUESTS} malformed requests at every public endpoint (seed ${SEED}; replay with CCR_FAULTS_SEED=${SEED})`, () => {
  // Servers log at warn: an info line per refused call would cost the servers (and this process,
  // which reads every child's stderr) more than the calls themselves. Server faults log at error.
  const mesh = useProcessMesh({ nodes: 4, f: 1, env: { CCR_SERVER_LOG_LEVEL: "warn" } });

  it("no crash, client errors get client codes, memory flat afterwards", async () => {
    const m = mesh();
    const built = await buildFuzzEnv(m, { timeoutMs: REQUEST_TIMEOUT_MS });
    const sessions = new Http2SessionPool();
    try {
      const { env, verifier } = built;
      if (ONE_CASE !== undefined) {
        // Replay of one case (a finding's case index): fails the same way the finding did.
        const r = await runOneCase(env, SEED, Number(ONE_CASE));
        console.log(`[faults] fuzz case ${ONE_CASE} (seed ${SEED}): ${JSON.stringify(r, null, 1)}`);
        expect(FINDING_CLASSES.has(r.outcome.cls), JSON.stringify(r.outcome)).toBe(false);
        return;
      }
      const watched = m.names;
      const pidsAtStart = Object.fromEntries(watched.map((name) => [name, m.pid(name)]));

      // Warm-up (JIT, caches, connection pools), then the "before" memory figure.
      const stats = emptyStats();
      await runFuzz(env, { seed: SEED, from: 0, to: WARMUP, concurrency: CONCURRENCY, stats });
      await sleep(SETTLE_MS);
      const rssBefore = await rssOf(pidsAtStart);
      const heapBefore = await heapOf(m);

      /** RSS every 10 000 requests, to tell a leak (steady growth) from heap expansion (a plateau). */
      const rssSeries: { done: number; mb: Record<string, number> }[] = [];
      const cpuBefore = Object.fromEntries(await Promise.all(watched.map(async (name) => [name, await cpuMs(pidsAtStart[name])] as const)));
      const selfCpuBefore = process.cpuUsage();
      const t0 = performance.now();
      await runFuzz(env, {
        seed: SEED,
        from: WARMUP,
        to: WARMUP + REQUESTS,
        concurrency: CONCURRENCY,
        stats,
        onProgress: (done) => {
          console.log(`[faults] fuzz: ${done} / ${REQUESTS} after ${Math.round((performance.now() - t0) / 1000)} s`);
          void rssOf(pidsAtStart).then((r) => rssSeries.push({ done, mb: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, mb(v)])) }));
        },
      });
      const mainMs = performance.now() - t0;
      const selfCpu = process.cpuUsage(selfCpuBefore);
      const cpuAfter = Object.fromEntries(await Promise.all(watched.map(async (name) => [name, await cpuMs(pidsAtStart[name])] as const)));
      const cpuSeconds: Record<string, number> = { "fuzzer (this process)": Math.round((selfCpu.user + selfCpu.system) / 1e5) / 10 };
      for (const name of watched) cpuSeconds[name] = Math.round(((cpuAfter[name] ?? Number.NaN) - (cpuBefore[name] ?? Number.NaN)) / 100) / 10;
      const rssPeakish = await rssOf(pidsAtStart);
      await sleep(SETTLE_MS);
      const rssAfter = await rssOf(pidsAtStart);
      const heapAfter = await heapOf(m);

      // Direct verifier calls (in this process, the relay nodes' own policy and code).
      const v0 = performance.now();
      const direct = runDirectVerify(verifier, env.docs, new Prng(SEED).fork("direct-verify"), VERIFY_DOCUMENTS);
      const directMs = performance.now() - v0;

      // Every server still up, same process, answering health checks.
      const healthStatus: Record<string, string> = {};
      for (const [name] of SERVERS_UNDER_TEST) {
        const client = createServiceClient(health.Health, { baseUrl: m.url(name), protocol: "grpc", sessions });
        try {
          const res = await client.check({}, { timeoutMs: 10_000 });
          healthStatus[name] = health.HealthCheckResponse_ServingStatus[res.status] ?? String(res.status);
        } catch (error) {
          healthStatus[name] = `error: ${(error as Error).message}`;
        }
      }

      const memory = Object.fromEntries(
        watched.map((name) => {
          const before = rssBefore[name];
          const after = rssAfter[name];
          const boundMb = before === undefined ? Number.NaN : mb(before) * RSS_BOUND_FACTOR + RSS_BOUND_SLACK_MB;
          return [name, { beforeMb: mb(before), endOfRunMb: mb(rssPeakish[name]), afterSettleMb: mb(after), boundMb: Math.round(boundMb), deltaMb: Math.round((mb(after) - mb(before)) * 10) / 10 }];
        }),
      );
      const findings = [...stats.findings.values()].sort((a, b) => b.count - a.count);
      const report = {
        suite: "fuzz",
        seed: SEED,
        requests: REQUESTS,
        warmup: WARMUP,
        concurrency: CONCURRENCY,
        durationMs: Math.round(mainMs),
        requestsPerSecond: Math.round((REQUESTS / mainMs) * 1000),
        byClass: stats.byClass,
        byCategory: stats.byCategory,
        byServer: stats.byServer,
        answers: stats.labels,
        findings: findings.map((f) => ({ count: f.count, cls: f.cls, label: f.label, message: f.message, where: f.where, examples: f.examples.map((e) => ({ ...e, input: e.input.slice(0, 300) })) })),
        cpuSecondsDuringRun: cpuSeconds,
        http2Client: { connectionsOpened: env.h2.sessionsOpened, streamsRetriedAfterRefusal: env.h2.refusedRetries },
        health: healthStatus,
        memory,
        rssSeriesMb: rssSeries,
        heapUsedMb: Object.fromEntries(SERVERS_UNDER_TEST.map(([name]) => [name, { before: heapBefore[name], afterSettle: heapAfter[name] }])),
        directVerify: { ...direct, durationMs: Math.round(directMs) },
      };
      console.log(`[faults] ${JSON.stringify(report)}`);
      const findingsText = findings.length === 0 ? "none" : findings.map(findingText).join("\n");
      console.log(`[faults] fuzz findings (seed ${SEED}):\n${findingsText}`);

      // Each claim is checked on its own (soft), so a failing run names every claim it breaks.
      expect(stats.cases).toBe(WARMUP + REQUESTS);
      // Zero crashes: same processes, still running, serving.
      for (const name of watched) {
        expect.soft([name, m.running(name), m.starts(name), m.pid(name)], m.diagnostics()).toEqual([name, true, 1, pidsAtStart[name]]);
      }
      for (const [name] of SERVERS_UNDER_TEST) expect.soft([name, healthStatus[name]]).toEqual([name, "SERVING"]);
      // Client errors get client error codes; nothing hangs.
      expect.soft(findings.length, `server-side answers to malformed input (seed ${SEED}):\n${findingsText}`).toBe(0);
      // The verifier: never a throw, never a must-reject document accepted.
      expect.soft([direct.threw, direct.wronglyAccepted], JSON.stringify(direct, null, 1)).toEqual([0, 0]);
      // Memory flat afterwards.
      for (const [name, mem] of Object.entries(memory)) {
        expect.soft(mem.afterSettleMb, `${name} RSS ${JSON.stringify(mem)}`).toBeLessThanOrEqual(mem.boundMb);
      }
    } finally {
      built.close();
      sessions.closeAll();
    }
  }, 900_000);
});
