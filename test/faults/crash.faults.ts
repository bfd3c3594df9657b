/**
 * Issue 9, "Crash faults": relay nodes and the gateway die under load, with every process
 * of the mesh a separate OS process on loopback (test/support/process-mesh.ts) and this process
 * playing the enclave (support/enclave-load.ts: valid attested ExecuteCapability(echo) calls whose
 * quorum certificates are checked here before a call counts as "ok").
 *
 * The DON is N = 4, F = 1: an answer needs F+1 = 2 matching signed answers. So the mesh answers
 * with up to N−(F+1) = 2F = 2 nodes down — F nodes down, and also F+1 — and the quorum error comes
 * once fewer than F+1 nodes are left (N−F = 3 down). The tests run in order on one mesh, each
 * starting from the state the previous one left:
 *   F killed during load → F+1 killed during load → N−F killed during load (no quorum) → one node
 *   restarted → the gateway killed (SIGKILL) and restarted → the gateway stopped (SIGTERM) and
 *   restarted.
 *
 * Timing bounds are relative to a healthy run measured in the same test (a 2-core box shared with
 * other work is too noisy for absolute ones), and generous; each test prints its figures as a
 * `[faults]` line (docs/reliability.md).
 */
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useProcessMesh, type ProcessMesh } from "../support/process-mesh.js";
import { createEnclaveLoad, type EnclaveLoad } from "./support/enclave-load.js";
import { closedLoop, failureExamples, startClosedLoop, type CallRecord, type LoadRun } from "./support/load.js";
import { memberKey, nodeAnswers, reportFigures, round, whenGatewayNodes } from "./support/mesh-faults.js";
import { countOutcomes, latencyStats } from "./support/stats.js";

/** What the gateway answers when a request cannot reach F+1 matching answers (services/gateway). */
const QUORUM_ERROR = /failed to forward user request to nodes|quorum unobtainable/;
const CONCURRENCY = 4;

const outcomes = (records: readonly CallRecord[]) => countOutcomes(records.map((r) => r.outcome));
const okLatencies = (records: readonly CallRecord[]) => records.filter((r) => r.outcome === "ok").map((r) => r.latencyMs);

describe("crash faults: relay nodes and the gateway killed under load (N=4, F=1, separate processes)", () => {
  const mesh = useProcessMesh({ nodes: 4, f: 1 });
  let load: EnclaveLoad;

  beforeAll(async () => {
    const m = mesh();
    load = await createEnclaveLoad({ dir: m.dir, gatewayUrl: m.url("gateway"), senders: 8 });
    // Warm-up, not measured: every sender's session document gets its one full verification on
    // every node, and connections and the JIT settle.
    const warm = await closedLoop(load.call, { concurrency: 8, maxCalls: 48, maxDurationMs: 60_000 });
    expect(outcomes(warm.records), JSON.stringify(failureExamples(warm.records))).toEqual({ ok: 48 });
  }, 120_000);

  afterAll(() => load?.close());

  /** A healthy closed-loop run at the suite's concurrency: its latencies are the baseline. */
  async function healthyRun(m: ProcessMesh, what: string): Promise<LoadRun> {
    const run = await closedLoop(load.call, { concurrency: CONCURRENCY, maxDurationMs: 4_000, maxCalls: 400 });
    expect(outcomes(run.records), `${what}: ${JSON.stringify(failureExamples(run.records))}\n${m.diagnostics()}`).toEqual({ ok: run.records.length });
    expect(run.records.length).toBeGreaterThanOrEqual(20);
    return run;
  }

  /**
   * Kills `names` (SIGKILL) while a closed loop runs, `before` calls after it started; the loop
   * then runs `after` more calls. Resolves with the run and the kill time.
   */
  async function killDuringLoad(m: ProcessMesh, names: readonly string[], before: number, after: number): Promise<{ run: LoadRun; killedAtMs: number }> {
    const loop = startClosedLoop(load.call, { concurrency: CONCURRENCY, maxDurationMs: 90_000, maxCalls: before + after + CONCURRENCY });
    await loop.whenCompleted(before);
    const killedAtMs = performance.now();
    for (const name of names) {
      const exit = await m.kill(name);
      expect(exit.signal).toBe("SIGKILL");
    }
    await loop.whenCompleted(before + after);
    return { run: await loop.stop(), killedAtMs };
  }

  it("with F relay nodes killed during load, every request succeeds", async () => {
    const m = mesh();
    const healthy = await healthyRun(m, "healthy run");
    const { run, killedAtMs } = await killDuringLoad(m, ["relay-node-0"], 20, 80);

    expect(outcomes(run.records), `${JSON.stringify(failureExamples(run.records))}\n${m.diagnostics()}`).toEqual({ ok: run.records.length });
    // Calls that started after the kill were certified by the live nodes only.
    const dead = memberKey(m, "relay-node-0");
    const afterKill = run.records.filter((r) => r.startMs > killedAtMs);
    expect(afterKill.length).toBeGreaterThanOrEqual(60);
    for (const r of afterKill) expect(r.signers, "a killed node signed").not.toContain(dead);
    await whenGatewayNodes(m, 3, 30_000);

    const inFlightAtKill = run.records.filter((r) => r.startMs <= killedAtMs && r.doneMs > killedAtMs).length;
    reportFigures("crash: F nodes killed during load", {
      n: 4,
      f: 1,
      killed: ["relay-node-0"],
      concurrency: CONCURRENCY,
      calls: run.records.length,
      outcomes: outcomes(run.records),
      inFlightAtKill,
      healthy: latencyStats(okLatencies(healthy.records)),
      afterKill: latencyStats(afterKill.map((r) => r.latencyMs)),
    });
  });

  it("with F+1 relay nodes killed during load, the 2F = F+1 left still answer every request", async () => {
    const m = mesh();
    const { run, killedAtMs } = await killDuringLoad(m, ["relay-node-1"], 20, 80);

    expect(outcomes(run.records), `${JSON.stringify(failureExamples(run.records))}\n${m.diagnostics()}`).toEqual({ ok: run.records.length });
    const live = [memberKey(m, "relay-node-2"), memberKey(m, "relay-node-3")].sort();
    const afterKill = run.records.filter((r) => r.startMs > killedAtMs);
    // Only the two nodes left can have signed, and both had to.
    for (const r of afterKill) expect([...(r.signers ?? [])].sort()).toEqual(live);
    await whenGatewayNodes(m, 2, 30_000);
    reportFigures("crash: F+1 nodes killed during load (N=3F+1 keeps a quorum)", {
      killed: ["relay-node-0", "relay-node-1"],
      calls: run.records.length,
      outcomes: outcomes(run.records),
      afterKill: latencyStats(afterKill.map((r) => r.latencyMs)),
    });
  });

  it("with fewer than F+1 relay nodes left, every request fails fast with the quorum error", async () => {
    const m = mesh();
    // The baseline, in this test: healthy requests with the two nodes that are left.
    const healthy = await healthyRun(m, "healthy run with F+1 nodes");
    const healthyP99 = latencyStats(okLatencies(healthy.records)).p99Ms;
    const expiredBefore = await m.metric("gateway", "ccr_gateway_quorum_failures_total", { reason: "expired" });

    // Bounded by calls, not time: failing calls are fast, and the gateway's per-sender rate limit
    // must not be what answers them.
    const { run, killedAtMs } = await killDuringLoad(m, ["relay-node-2"], 10, 150);
    const afterKill = run.records.filter((r) => r.startMs > killedAtMs);
    const inFlight = run.records.filter((r) => r.startMs <= killedAtMs && r.doneMs > killedAtMs);
    const failures = run.records.filter((r) => r.outcome !== "ok");

    expect(afterKill.length).toBeGreaterThanOrEqual(140);
    // Every call that started after the kill failed, with the gateway's quorum error (Unavailable).
    expect(countOutcomes(afterKill.map((r) => r.outcome)), JSON.stringify(failureExamples(afterKill))).toEqual({ Unavailable: afterKill.length });
    for (const r of afterKill) expect(r.detail).toMatch(QUORUM_ERROR);
    // A call in flight at the kill either had its quorum already or failed the same way.
    for (const r of inFlight) expect(r.outcome === "ok" || (r.outcome === "Unavailable" && QUORUM_ERROR.test(r.detail ?? "")), JSON.stringify(r)).toBe(true);
    // Fast: within 2× the healthy p99 of this test, not at the gateway's 30 s deadline — the
    // failures' p99 within 2× the healthy p99, and every single failure within that plus 50 ms
    // (one scheduling hiccup on a shared 2-core box is noise, a wait for the deadline is not).
    const failureStats = latencyStats(failures.map((r) => r.latencyMs));
    const why = `failure latencies ${JSON.stringify(failureStats)} vs healthy p99 ${healthyP99} ms`;
    expect(failureStats.p99Ms, why).toBeLessThanOrEqual(2 * healthyP99);
    expect(failureStats.maxMs, why).toBeLessThanOrEqual(2 * healthyP99 + 50);
    expect(await m.metric("gateway", "ccr_gateway_quorum_failures_total", { reason: "expired" })).toBe(expiredBefore);

    reportFigures("crash: fewer than F+1 nodes left (N−F killed)", {
      killed: ["relay-node-0", "relay-node-1", "relay-node-2"],
      calls: run.records.length,
      outcomes: outcomes(run.records),
      inFlightAtKill: inFlight.length,
      healthy: latencyStats(okLatencies(healthy.records)),
      failures: failureStats,
      failureMaxOverHealthyP99: round(failureStats.maxMs / healthyP99, 2),
      example: failures[0]?.detail,
    });
  });

  it("a restarted relay node serves again within 2 s of coming back", async () => {
    const m = mesh();
    // One node (relay-node-3) is left, so no request can succeed until relay-node-2 is back: the
    // first certified answer after its restart must carry its signature.
    const restarted = memberKey(m, "relay-node-2");
    const okBefore = await nodeAnswers(m, "relay-node-2", "ok");
    // A paced trickle (2 callers, 50 ms apart: ≤ 40/s over 8 senders) that keeps asking while the
    // node starts, and stops once the node has served for a while (bounded at 90 s).
    const trickle = startClosedLoop(load.call, { concurrency: 2, maxDurationMs: 90_000, pauseAfterCallMs: 50 });
    await trickle.whenCompleted(10);
    await m.start("relay-node-2"); // resolves on its ready line
    const readyAtMs = performance.now();
    const servedCount = () => trickle.records.filter((r) => r.outcome === "ok" && r.doneMs > readyAtMs).length;
    for (let i = 0; i < 300 && servedCount() < 20; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const run = await trickle.stop();

    const served = run.records.filter((r) => r.outcome === "ok");
    expect(served.length, `${JSON.stringify(outcomes(run.records))} ${JSON.stringify(failureExamples(run.records))}\n${m.diagnostics()}`).toBeGreaterThan(0);
    for (const r of served) expect(r.signers).toContain(restarted);
    const firstServedMs = Math.min(...served.map((r) => r.doneMs));
    const servedAfterReadyMs = firstServedMs - readyAtMs;
    expect(servedAfterReadyMs, `first certified answer ${round(servedAfterReadyMs)} ms after the ready line`).toBeLessThanOrEqual(2_000);
    // Once it served, everything succeeds again (two nodes: F+1).
    const settled = run.records.filter((r) => r.startMs > firstServedMs);
    expect(outcomes(settled), JSON.stringify(failureExamples(settled))).toEqual({ ok: settled.length });
    // The gateway counted its answers too.
    expect(await nodeAnswers(m, "relay-node-2", "ok")).toBeGreaterThan(okBefore);
    // Calls made while only one node was up failed fast with the quorum error, never otherwise.
    for (const r of run.records.filter((x) => x.outcome !== "ok")) {
      expect(r.outcome, r.detail).toBe("Unavailable");
      expect(r.detail).toMatch(QUORUM_ERROR);
    }
    reportFigures("crash: relay node restarted", {
      node: "relay-node-2",
      readyToFirstCertifiedAnswerMs: round(servedAfterReadyMs),
      trickle: "2 callers, 50 ms pause after each call",
      outcomes: outcomes(run.records),
    });
  });

  it("the gateway killed and restarted: nodes reconnect, and calls in flight get a clean error rather than a hang", async () => {
    const m = mesh();
    await Promise.all([m.start("relay-node-0"), m.start("relay-node-1")]);
    await whenGatewayNodes(m, 4, 30_000);
    const healthy = await healthyRun(m, "healthy run with all nodes back");

    // A client that backs off 50 ms after a failure, as a real one would, so a dead gateway does not
    // turn the loop into a busy spin.
    const loop = startClosedLoop(load.call, { concurrency: 8, maxDurationMs: 120_000, pauseAfterFailureMs: 50 });
    await loop.whenCompleted(30);
    const killedAtMs = performance.now();
    const exit = await m.kill("gateway");
    expect(exit.signal).toBe("SIGKILL");
    const diedAtMs = performance.now();
    await m.start("gateway");
    const readyAtMs = performance.now();
    const reconnectedAtMs = await whenGatewayNodes(m, 4, 45_000);
    // Serving again: wait for 40 successes that started after the nodes were back.
    const okAfter = () => loop.records.filter((r) => r.outcome === "ok" && r.startMs > reconnectedAtMs).length;
    for (let i = 0; i < 600 && okAfter() < 40; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const run = await loop.stop();

    const inFlight = run.records.filter((r) => r.startMs <= killedAtMs && r.doneMs > killedAtMs);
    const failures = run.records.filter((r) => r.outcome !== "ok");
    expect(failures.length).toBeGreaterThan(0);
    // Clean: every failure is an RPC error with a status code the client can act on (retry on
    // Unavailable), never an exception, a malformed answer or a certificate the client refused.
    // (connect-node reports a connection reset under a call as Aborted, a refused connection as
    // Unavailable; both are retryable codes. When Node tears down the dead connection first, the
    // streams still on it close with its own RST code CANCEL, which connect-node reports as
    // Canceled: the same lost connection, seen once in six CI runs.)
    const lostConnection = (r: CallRecord) => r.outcome === "Canceled" && /stream closed with error code CANCEL/.test(r.detail ?? "");
    for (const r of failures) expect(lostConnection(r) || ["Unavailable", "Aborted"].includes(r.outcome), `${r.outcome}: ${r.detail}`).toBe(true);
    // No hang: the calls in flight when the gateway died ended within 5 s of its death (the
    // gateway's deadline is 30 s), and no call at all took that long.
    for (const r of inFlight) expect(r.doneMs - diedAtMs, JSON.stringify(r)).toBeLessThanOrEqual(5_000);
    const worstMs = Math.max(...run.records.map((r) => r.latencyMs));
    expect(worstMs).toBeLessThan(5_000);
    // Serving again once the nodes are back.
    const tail = run.records.filter((r) => r.startMs > reconnectedAtMs);
    expect(outcomes(tail), JSON.stringify(failureExamples(tail))).toEqual({ ok: tail.length });
    expect(tail.length).toBeGreaterThanOrEqual(40);

    const firstOkAfterReady = Math.min(...run.records.filter((r) => r.outcome === "ok" && r.startMs > killedAtMs).map((r) => r.doneMs));
    reportFigures("crash: gateway killed and restarted", {
      inFlightAtKill: inFlight.length,
      inFlightOutcomes: outcomes(inFlight),
      inFlightEndedWithinMsOfKill: round(Math.max(0, ...inFlight.map((r) => r.doneMs - killedAtMs))),
      gatewayDownMs: round(readyAtMs - killedAtMs),
      nodesReconnectedMsAfterReady: round(reconnectedAtMs - readyAtMs),
      firstSuccessMsAfterReady: round(firstOkAfterReady - readyAtMs),
      worstCallMs: round(worstMs),
      outcomes: outcomes(run.records),
      failureExamples: failureExamples(failures),
      healthy: latencyStats(okLatencies(healthy.records)),
    });
  });

  it("the gateway stopped (SIGTERM) and started again: calls in flight are answered Unavailable by the draining gateway", async () => {
    const m = mesh();
    await whenGatewayNodes(m, 4, 30_000);
    const loop = startClosedLoop(load.call, { concurrency: 8, maxDurationMs: 120_000, pauseAfterFailureMs: 50 });
    await loop.whenCompleted(30);
    const stoppingAtMs = performance.now();
    const exit = await m.stop("gateway");
    expect([exit.code, exit.signal], m.logs("gateway")).toEqual([0, null]);
    const stoppedAtMs = performance.now();
    await m.start("gateway");
    const readyAtMs = performance.now();
    const reconnectedAtMs = await whenGatewayNodes(m, 4, 45_000);
    const okAfter = () => loop.records.filter((r) => r.outcome === "ok" && r.startMs > reconnectedAtMs).length;
    for (let i = 0; i < 600 && okAfter() < 40; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const run = await loop.stop();

    const inFlight = run.records.filter((r) => r.startMs <= stoppingAtMs && r.doneMs > stoppingAtMs);
    const failures = run.records.filter((r) => r.outcome !== "ok");
    // While the gateway drains, HTTP/2 refuses new streams (REFUSED_STREAM: not processed, safe to
    // retry; gRPC maps it to Unavailable). connect-node's client reports that one as Internal.
    const refusedStream = (r: CallRecord) => r.outcome === "Internal" && /REFUSED_STREAM/.test(r.detail ?? "");
    for (const r of failures) expect(refusedStream(r) || ["Unavailable", "Aborted"].includes(r.outcome), `${r.outcome}: ${r.detail}`).toBe(true);
    // A call in flight when the gateway was asked to stop got its answer, or the gateway's own
    // "shutting down" (it answers what it holds before it closes), or — sent as the gateway stopped
    // taking streams — the refused stream; all within the stop.
    for (const r of inFlight) {
      const shuttingDown = r.outcome === "Unavailable" && /shutting down/.test(r.detail ?? "");
      expect(r.outcome === "ok" || shuttingDown || refusedStream(r), JSON.stringify(r)).toBe(true);
      expect(r.doneMs).toBeLessThanOrEqual(stoppedAtMs);
    }
    const tail = run.records.filter((r) => r.startMs > reconnectedAtMs);
    expect(outcomes(tail), JSON.stringify(failureExamples(tail))).toEqual({ ok: tail.length });
    expect(tail.length).toBeGreaterThanOrEqual(40);
    reportFigures("crash: gateway stopped (SIGTERM) and started", {
      inFlightAtStop: inFlight.length,
      inFlightOutcomes: outcomes(inFlight),
      stopTookMs: round(stoppedAtMs - stoppingAtMs),
      gatewayDownMs: round(readyAtMs - stoppingAtMs),
      nodesReconnectedMsAfterReady: round(reconnectedAtMs - readyAtMs),
      worstCallMs: round(Math.max(...run.records.map((r) => r.latencyMs))),
      outcomes: outcomes(run.records),
      failureExamples: failureExamples(failures),
    });
  });
});
