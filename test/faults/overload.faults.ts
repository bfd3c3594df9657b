/**
 * Issue 9, "Overload": 10× the sustainable rate for 30 s. Required: no crash; RSS stays bounded
 * (figure given, asserted under a stated cap); the excess gets ResourceExhausted; throughput is back
 * to normal within 5 s after the load drops.
 *
 * Steps, on one mesh (N = 4, F = 1, separate processes; every node's answers held DON_ANSWER_DELAY_MS
 * by a proxy, see there), this process playing 16 enclaves:
 *   1. sustainable rate: closed loop at concurrency 32 (= the gateway's in-flight cap) for 4 s,
 *      every call certified; its throughput is "sustainable";
 *   2. "normal": an open loop at a quarter of that rate for 5 s, for the normal latency (a quarter,
 *      not a half: an open loop that stalls for a second on a busy 2-core box — this process or the
 *      gateway — then has a second of calls out at once, and at half the rate that alone reaches
 *      the in-flight cap, so normal load would already be refused; seen once at load average 14);
 *   3. overload: an open loop at 10× sustainable (at most MAX_OVERLOAD_RATE) for 30 s, with RSS and
 *      CPU of every mesh process sampled from /proc;
 *   4. from the moment the overload's schedule ends, the normal open loop again for 10 s.
 * Back to normal = from some scheduled time on, every call succeeds within 2× the normal p99 +
 * 50 ms; the figure is that time minus the drop. (The looser throughput reading — every 1-s window
 * completes ≥ 80% of the normal rate — is reported beside it.)
 *
 * The deployment caps the gateway's requests in flight (`gateway.maxInFlight`, here
 * CCR_GATEWAY_MAX_IN_FLIGHT) at MAX_IN_FLIGHT: that cap is the gateway's overload policy — beyond
 * it, ResourceExhausted at once, with a retry hint. With the default (10 000) the gateway admits
 * far more than the DON can work through within the 30 s deadline, and the excess ends as
 * DeadlineExceeded and "failed to forward" instead (docs/reliability.md has that run's figures).
 */
import { loadavg } from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useProcessMesh, type ProcessMesh } from "../support/process-mesh.js";
import { createEnclaveLoad, type EnclaveLoad } from "./support/enclave-load.js";
import { closedLoop, failureExamples, openLoop, type CallRecord } from "./support/load.js";
import { pidsOf, relayNodeNames, reportFigures, round, setRelayNodeGateways, whenGatewayNodes } from "./support/mesh-faults.js";
import { sampleProcesses } from "./support/rss.js";
import { startSlowNodeProxy, type SlowNodeProxy } from "./support/slow-node-proxy.js";
import { countOutcomes, latencyStats, throughputWindows } from "./support/stats.js";

/** The gateway's cap on requests in flight for this deployment (the default is 10 000). */
const MAX_IN_FLIGHT = 32;
const OVERLOAD_FACTOR = 10;
const OVERLOAD_MS = 30_000;
const AFTER_MS = 10_000;
/**
 * The most calls per second the load generator offers. This process signs and sends every call
 * (and checks every certificate) on the same 2 cores as the mesh; beyond this rate it would
 * measure itself. If 10× sustainable is above it, the test fails (it would no longer test 10×)
 * rather than quietly testing less; the figures state the rate used.
 */
const MAX_OVERLOAD_RATE = 2_000;
/** The load generator's own bound on calls out at once (beyond it calls are skipped and counted). */
const MAX_CLIENT_IN_FLIGHT = 5_000;
/**
 * Every relay node's answers reach the gateway this late: each node dials the gateway through a
 * ConnectNode proxy in this process (support/slow-node-proxy.ts) that holds its answers, as a DON
 * whose capability calls an external service would answer. Why: without it the DON on loopback
 * sustains ~250 calls/s at the in-flight cap, and 10× that is more signed, attested calls than one
 * load-generating process can offer next to the mesh on 2 cores. At 400 ms the sustainable rate is
 * at most 32 / 0.4 s = 80 calls/s, so 10× is within reach and the test stays a test of the
 * gateway's shedding, not of the load generator.
 */
const DON_ANSWER_DELAY_MS = 400;
/** The stated RSS cap per process (MiB): about 4× an idle process. */
const RSS_CAP_MB = 768;

/** The gateway's request counters by outcome (ccr_gateway_requests_total). */
async function gatewayOutcomes(m: ProcessMesh): Promise<Record<string, number>> {
  const labels = ["ok", "rate_limited", "capacity", "expired", "unobtainable", "forward_failed", "canceled", "edge_rejected"];
  const values = await Promise.all(labels.map((outcome) => m.metric("gateway", "ccr_gateway_requests_total", { outcome })));
  return Object.fromEntries(labels.map((l, i) => [l, values[i] ?? 0]));
}

const outcomes = (records: readonly CallRecord[]) => countOutcomes(records.map((r) => r.outcome));

describe("overload: 10× the sustainable rate for 30 s (N=4, F=1, separate processes)", () => {
  // Logs at warn: at info every refused call is a log line, written synchronously to a pipe that
  // this (busy) process reads — the gateway would be measuring its logging and our reading.
  const mesh = useProcessMesh({
    nodes: 4,
    f: 1,
    env: { CCR_SERVER_LOG_LEVEL: "warn" },
    processEnv: { gateway: { CCR_GATEWAY_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT) } },
  });
  let load: EnclaveLoad;
  const proxies: SlowNodeProxy[] = [];
  let startsAfterSetUp: Record<string, number> = {};

  beforeAll(async () => {
    const m = mesh();
    const nodes = relayNodeNames(m);
    for (const name of nodes) {
      const proxy = await startSlowNodeProxy({ gatewayUrl: m.url("gateway"), delayMs: DON_ANSWER_DELAY_MS });
      proxies.push(proxy);
      await m.stop(name);
      setRelayNodeGateways(m, name, [proxy.url]);
    }
    await Promise.all(nodes.map((name) => m.start(name)));
    await whenGatewayNodes(m, nodes.length, 60_000);
    startsAfterSetUp = Object.fromEntries(m.names.map((name) => [name, m.starts(name)]));
    load = await createEnclaveLoad({ dir: m.dir, gatewayUrl: m.url("gateway"), senders: 16 });
    const warm = await closedLoop(load.call, { concurrency: 16, maxCalls: 64, maxDurationMs: 60_000 });
    expect(outcomes(warm.records), JSON.stringify(failureExamples(warm.records))).toEqual({ ok: 64 });
  }, 120_000);

  afterAll(async () => {
    load?.close();
    await Promise.all(proxies.map((p) => p.close()));
  });

  it("no crash, bounded RSS, the excess answered ResourceExhausted, and normal throughput within 5 s of the load dropping", async () => {
    const m = mesh();
    const watched = m.names.filter((n) => n === "gateway" || n === "capability" || n.startsWith("relay-node-"));

    // 1. Sustainable.
    const sustained = await closedLoop(load.call, { concurrency: 32, maxDurationMs: 4_000 });
    expect(outcomes(sustained.records), JSON.stringify(failureExamples(sustained.records))).toEqual({ ok: sustained.records.length });
    const sustainableRps = (sustained.records.length / (sustained.endedMs - sustained.startedMs)) * 1000;
    const normalRate = Math.max(2, Math.round(sustainableRps / 4));
    const overloadRate = Math.min(MAX_OVERLOAD_RATE, Math.round(sustainableRps * OVERLOAD_FACTOR));

    // 2. Normal.
    const normal = await openLoop(load.call, { ratePerSec: normalRate, durationMs: 5_000 });
    expect(outcomes(normal.records), JSON.stringify(failureExamples(normal.records))).toEqual({ ok: normal.records.length });
    const normalStats = latencyStats(normal.records.map((r) => r.latencyMs));
    const normalBoundMs = 2 * normalStats.p99Ms + 50;

    // 3. Overload, with RSS sampled; 4. the normal rate again from the moment the overload's
    // schedule ends (its stragglers still draining).
    const gatewayBefore = await gatewayOutcomes(m);
    const rssBefore = await sampleProcesses(() => pidsOf(m, watched), { maxDurationMs: 1_000 }).stop();
    const rss = sampleProcesses(() => ({ ...pidsOf(m, watched), "load-generator": process.pid }), { intervalMs: 250, maxDurationMs: OVERLOAD_MS + 5_000 });
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    const overloadStartMs = performance.now();
    const overload = openLoop(load.call, { ratePerSec: overloadRate, durationMs: OVERLOAD_MS, maxInFlight: MAX_CLIENT_IN_FLIGHT, drainTimeoutMs: 40_000 });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, overloadStartMs + OVERLOAD_MS - performance.now())));
    const dropMs = performance.now();
    const series = await rss.stop();
    loopDelay.disable();
    const rssAfter = sampleProcesses(() => pidsOf(m, watched), { intervalMs: 250, maxDurationMs: AFTER_MS + 60_000 });
    const after = openLoop(load.call, { ratePerSec: normalRate, durationMs: AFTER_MS, drainTimeoutMs: 40_000 });
    const [over, afterRun] = await Promise.all([overload, after]);
    const seriesAfter = await rssAfter.stop();
    const gatewayAfter = await gatewayOutcomes(m);

    // Back to normal within 5 s: every call of the normal-rate run scheduled from some point on
    // succeeded in normal time; that point is at most 5 s after the drop.
    const afterRecords = [...afterRun.records].sort((a, b) => a.startMs - b.startMs);
    let firstNormal = afterRecords.length;
    for (let i = afterRecords.length - 1; i >= 0; i--) {
      const r = afterRecords[i]!;
      if (r.outcome !== "ok" || r.latencyMs > normalBoundMs) break;
      firstNormal = i;
    }
    const recoveredAtMs = firstNormal < afterRecords.length ? afterRecords[firstNormal]!.startMs : Number.POSITIVE_INFINITY;
    const recoveryMs = recoveredAtMs - dropMs;
    // The looser reading, reported beside it: the first 1-s window after the drop from which every
    // window completes at least 80% of the normal rate in successes.
    const windows = throughputWindows(
      afterRun.records.filter((r) => r.outcome === "ok").map((r) => r.doneMs),
      { fromMs: dropMs, toMs: dropMs + AFTER_MS, windowMs: 1_000 },
    );
    let throughputWindow = windows.length;
    for (let i = windows.length - 1; i >= 0 && (windows[i] as number) >= 0.8 * normalRate; i--) throughputWindow = i;

    const overOutcomes = outcomes(over.records);
    const overOk = over.records.filter((r) => r.outcome === "ok");
    const overExhausted = over.records.filter((r) => r.outcome === "ResourceExhausted");
    const issueSpanMs = Math.max(...over.records.map((r) => r.issuedMs)) - overloadStartMs;
    reportFigures("overload: 10× sustainable for 30 s", {
      n: 4,
      f: 1,
      gatewayMaxInFlight: MAX_IN_FLIGHT,
      donAnswerDelayMs: DON_ANSWER_DELAY_MS,
      senders: 16,
      sustainableRps: round(sustainableRps),
      overloadRatePerSec: overloadRate,
      overloadFactor: round(overloadRate / sustainableRps, 2),
      overloadCalls: over.records.length,
      overloadSkippedByLoadGenerator: over.skipped,
      overloadIssuedOverMs: round(issueSpanMs),
      overloadIssueLagMs: latencyStats(over.records.map((r) => r.issuedMs - r.startMs)),
      overloadOutcomes: overOutcomes,
      overloadOkRps: round((overOk.length / OVERLOAD_MS) * 1000),
      okLatencyDuringOverload: latencyStats(overOk.map((r) => r.latencyMs)),
      resourceExhaustedLatency: latencyStats(overExhausted.map((r) => r.latencyMs)),
      normalRatePerSec: normalRate,
      normal: normalStats,
      afterDropOutcomes: outcomes(afterRun.records),
      recoveryMs: round(recoveryMs),
      throughputRecoveryMs: throughputWindow * 1_000,
      afterDropThroughputPerSec: windows,
      rssMbBefore: rssBefore.lastMb,
      rssMbPeak: series.peakMb,
      rssMbPeakAfterDrop: seriesAfter.peakMb,
      rssMbAtEnd: seriesAfter.lastMb,
      rssMbEvery5s: Object.fromEntries(Object.entries(series.samplesMb).map(([k, xs]) => [k, xs.filter((_, i) => i % 20 === 0)])),
      cpuPercentDuringOverload: Object.fromEntries(Object.entries(series.cpuMs).map(([k, v]) => [k, round((v / series.elapsedMs) * 100)])),
      loadGeneratorEventLoopDelayMs: { p50: round(loopDelay.percentile(50) / 1e6), p99: round(loopDelay.percentile(99) / 1e6), max: round(loopDelay.max / 1e6) },
      loadAverage: loadavg().map((x) => round(x, 2)),
      rssCapMb: RSS_CAP_MB,
      failureExamples: failureExamples([...over.records, ...afterRun.records]),
      gatewayOutcomes: Object.fromEntries(Object.entries(gatewayAfter).map(([k, v]) => [k, v - (gatewayBefore[k] ?? 0)]).filter(([, v]) => v !== 0)),
    });

    // The overload really was 10×: the rate was not capped, and the generator issued every call
    // within the 30 s (plus a scheduling hiccup), not late because it could not keep up.
    expect(overloadRate / sustainableRps, `offered ${overloadRate}/s against ${round(sustainableRps)}/s sustainable`).toBeGreaterThanOrEqual(OVERLOAD_FACTOR * 0.99);
    expect(issueSpanMs, "the load generator fell behind its schedule").toBeLessThan(OVERLOAD_MS + 2_000);

    // No crash: every process is the one running after the set-up (which restarted the relay nodes
    // once, to dial their proxies).
    for (const name of m.names) expect([name, m.running(name), m.starts(name)], m.diagnostics()).toEqual([name, true, startsAfterSetUp[name]]);

    // The excess got ResourceExhausted, and nothing else failed.
    expect([over.unanswered, over.skipped], JSON.stringify(overOutcomes)).toEqual([0, 0]);
    for (const [label, count] of Object.entries(overOutcomes)) {
      if (label !== "ok") expect({ [label]: count }, JSON.stringify(failureExamples(over.records))).toEqual({ ResourceExhausted: count });
    }
    expect(overOutcomes["ResourceExhausted"] ?? 0).toBeGreaterThan(0);

    for (const name of watched) {
      const peak = Math.max(series.peakMb[name] ?? 0, seriesAfter.peakMb[name] ?? 0);
      expect(peak, `${name} peak RSS (MiB)`).toBeLessThan(RSS_CAP_MB);
    }
    expect(recoveryMs, `recovered ${round(recoveryMs)} ms after the drop; after-drop outcomes ${JSON.stringify(outcomes(afterRun.records))}`).toBeLessThanOrEqual(5_000);
  }, 300_000);
});
