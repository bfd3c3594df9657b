/**
 * Issue 9, "Slow node": one relay node delaying every answer by 5 s must not move the p99 beyond
 * noise. The quorum is F+1 = 2 of N = 4, so the gateway should answer with the first two matching
 * answers and never wait for the slow one.
 *
 * The slow node is made without touching the product: relay-node-3 dials a ConnectNode proxy
 * (support/slow-node-proxy.ts) instead of the gateway, and the proxy holds each of its answers for
 * the delay. The proxy stays in place for the whole test with its delay switched between 0 and
 * 5 000 ms, so the healthy and slow runs differ only by the delay; they alternate in short runs
 * (PASSES × healthy, slow) so that drift on a shared machine hits both alike. Each run is an open
 * loop at half the maximum throughput measured at the start of the test; latency is from each
 * call's scheduled time. The bound is generous — p99 slow < 2 × p99 healthy + 50 ms — and the figures are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useProcessMesh } from "../support/process-mesh.js";
import { createEnclaveLoad, type EnclaveLoad } from "./support/enclave-load.js";
import { closedLoop, failureExamples, openLoop, type CallRecord, type LoadRun } from "./support/load.js";
import { memberKey, nodeAnswers, reportFigures, round, setRelayNodeGateways, whenGatewayNodes } from "./support/mesh-faults.js";
import { startSlowNodeProxy, type SlowNodeProxy } from "./support/slow-node-proxy.js";
import { countOutcomes, latencyStats } from "./support/stats.js";

const SLOW_NODE = "relay-node-3";
const DELAY_MS = 5_000;
/**
 * Healthy and slow alternate in short runs: other work on a shared 2-core box comes in bursts of a
 * few seconds, and with long runs one burst can land on one condition only (seen: 3 passes of 8 s
 * gave p99 ratios from 1.05 to 3.3 between two runs at the same load). Eight passes of 3 s per
 * condition spread such bursts over both; 24 s per condition keeps the p99 over ~500+ calls.
 */
const RUN_MS = 3_000;
const PASSES = 8;

const outcomes = (records: readonly CallRecord[]) => countOutcomes(records.map((r) => r.outcome));

describe("slow node: one relay node answering 5 s late (N=4, F=1, separate processes)", () => {
  const mesh = useProcessMesh({ nodes: 4, f: 1 });
  let load: EnclaveLoad;
  let proxy: SlowNodeProxy | undefined;

  beforeAll(async () => {
    const m = mesh();
    proxy = await startSlowNodeProxy({ gatewayUrl: m.url("gateway"), delayMs: 0 });
    // relay-node-3 now reaches the gateway only through the proxy.
    await m.stop(SLOW_NODE);
    setRelayNodeGateways(m, SLOW_NODE, [proxy.url]);
    await m.start(SLOW_NODE);
    await whenGatewayNodes(m, 4, 60_000);
    load = await createEnclaveLoad({ dir: m.dir, gatewayUrl: m.url("gateway"), senders: 8 });
    const warm = await closedLoop(load.call, { concurrency: 8, maxCalls: 48, maxDurationMs: 60_000 });
    expect(outcomes(warm.records), JSON.stringify(failureExamples(warm.records))).toEqual({ ok: 48 });
  }, 180_000);

  afterAll(async () => {
    load?.close();
    await proxy?.close();
  });

  it("p99 with one node delaying every answer by 5 s stays within noise of the healthy p99", async () => {
    const m = mesh();
    const p = proxy!;
    expect(p.stats().sessions).toBeGreaterThanOrEqual(1);
    // The rate: half of what the mesh sustains right now.
    const max = await closedLoop(load.call, { concurrency: 16, maxDurationMs: 4_000 });
    expect(outcomes(max.records), JSON.stringify(failureExamples(max.records))).toEqual({ ok: max.records.length });
    const maxRps = (max.records.length / (max.endedMs - max.startedMs)) * 1000;
    const ratePerSec = Math.max(2, Math.round(maxRps / 2));

    const slowKey = memberKey(m, SLOW_NODE);
    const lateBefore = await nodeAnswers(m, SLOW_NODE, "late");
    const healthy: LoadRun[] = [];
    const slow: LoadRun[] = [];
    for (let pass = 0; pass < PASSES; pass++) {
      p.setDelayMs(0);
      healthy.push(await openLoop(load.call, { ratePerSec, durationMs: RUN_MS, drainTimeoutMs: 40_000 }));
      p.setDelayMs(DELAY_MS);
      slow.push(await openLoop(load.call, { ratePerSec, durationMs: RUN_MS, drainTimeoutMs: 40_000 }));
    }
    p.setDelayMs(0);
    const healthyRecords = healthy.flatMap((r) => r.records);
    const slowRecords = slow.flatMap((r) => r.records);

    // Every call succeeded, in both conditions.
    for (const [what, records] of [["healthy", healthyRecords], ["slow", slowRecords]] as const) {
      expect(outcomes(records), `${what}: ${JSON.stringify(failureExamples(records))}\n${m.diagnostics()}`).toEqual({ ok: records.length });
    }
    for (const run of [...healthy, ...slow]) expect([run.skipped, run.unanswered]).toEqual([0, 0]);

    const answersDelayed = p.stats().answersDelayed;
    // Held answers reach the gateway 5 s later, as late answers (with no delay, the 3rd and 4th
    // answers of a call are late too).
    await new Promise((resolve) => setTimeout(resolve, DELAY_MS + 1_000));
    const late = (await nodeAnswers(m, SLOW_NODE, "late")) - lateBefore;
    const h = latencyStats(healthyRecords.map((r) => r.latencyMs));
    const s = latencyStats(slowRecords.map((r) => r.latencyMs));
    reportFigures("slow node: one node answering 5 s late", {
      n: 4,
      f: 1,
      slowNode: SLOW_NODE,
      delayMs: DELAY_MS,
      maxRps: round(maxRps),
      ratePerSec,
      runs: `healthy and slow alternating, ${PASSES} passes of ${RUN_MS / 1000} s each, open loop`,
      healthy: h,
      slow: s,
      p99Ratio: round(s.p99Ms / h.p99Ms, 2),
      p50Ratio: round(s.p50Ms / h.p50Ms, 2),
      slowCalls: slowRecords.length,
      slowNodeAnswersHeld: answersDelayed,
      slowNodeAnswersLate: late,
      proxy: p.stats(),
    });
    // The delay really was applied: the slow node never made a quorum certificate while slowed,
    // and the proxy held its answers — one per slowed call it answered (the gateway cancels the
    // calls that reached their quorum first, and a node that has not answered yet then never does).
    for (const r of slowRecords) expect(r.signers, "the slow node signed a certificate").not.toContain(slowKey);
    expect(answersDelayed).toBeGreaterThanOrEqual(Math.ceil(slowRecords.length / 2));
    expect(s.p99Ms, `p99 slow ${s.p99Ms} ms vs healthy ${h.p99Ms} ms`).toBeLessThan(2 * h.p99Ms + 50);
  });
});
