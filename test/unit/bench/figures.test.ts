import { describe, expect, it } from "vitest";
import { attestationFigures, e2eRelayFigures, gatewayFigures, syncerFigures, verdict, type Figure } from "../../../bench/lib/figures.js";

const s = (median: number, min = median, max = median, n = 3) => ({ median, min, max, n });

function figure(sectionFigures: readonly Figure[], startsWith: string): Figure {
  const f = sectionFigures.find((x) => x.label.startsWith(startsWith));
  if (f === undefined) throw new Error(`no figure "${startsWith}…" in ${sectionFigures.map((x) => x.label).join(", ")}`);
  return f;
}

describe("verdict", () => {
  const base: Figure = { label: "x", unit: "ms", value: s(3) };

  it("judges the median against the target, in the target's direction", () => {
    expect(verdict({ ...base, target: { op: "<=", value: 4, source: "t" } })).toBe("met");
    expect(verdict({ ...base, target: { op: "<=", value: 2, source: "t" } })).toBe("missed");
    expect(verdict({ ...base, target: { op: ">=", value: 3, source: "t" } })).toBe("met");
    expect(verdict({ ...base, target: { op: "<", value: 3, source: "t" } })).toBe("missed");
  });

  it("judges the ratio when the target is on the ratio", () => {
    const f: Figure = { ...base, value: s(1000), ratio: s(0.35), target: { op: ">=", value: 0.4, on: "ratio", source: "t" } };
    expect(verdict(f)).toBe("missed");
  });

  it("gives no verdict without a target or without a measured value", () => {
    expect(verdict(base)).toBe("none");
    expect(verdict({ ...base, value: s(Number.NaN), target: { op: "<=", value: 4, source: "t" } })).toBe("none");
  });
});

describe("gatewayFigures", () => {
  const throughput = {
    bench: "gateway",
    runs: 3,
    secondsPerRun: 2,
    concurrency: 64,
    results: [
      { n: 4, f: 1, echo: { rps: { median: 1000, min: 900, max: 1100 }, p50Ms: 5, p99Ms: 9 }, relay: { rps: { median: 450, min: 400, max: 500 }, p50Ms: 12, p99Ms: 20 }, ratio: { median: 0.45, min: 0.41, max: 0.5 } },
      { n: 7, f: 2, echo: { rps: { median: 1000, min: 1000, max: 1000 }, p50Ms: 5, p99Ms: 9 }, relay: { rps: { median: 300, min: 300, max: 300 }, p50Ms: 15, p99Ms: 25 }, ratio: { median: 0.3, min: 0.3, max: 0.3 } },
    ],
    perNodeGatewayCpu: { intercept: 100, slope: 20, r2: 0.95 },
  };
  const memory = (rssMb: number, bareMb: number) => ({ bench: "gateway", results: [], inFlight: { gateway: { inFlight: 10000, rssMb, idleRssMb: 60 }, runtimeOnly: { rssMb: bareMb } } });

  it("takes throughput from the run that measured it, with the runs count and the per-run ratio, and judges N=4 on the ratio", () => {
    const f = figure(gatewayFigures([throughput]).figures, "relay throughput, N=4");
    expect(f.value).toEqual({ median: 450, min: 400, max: 500, n: 3 });
    expect(f.baseline?.value.median).toBe(1000);
    expect(f.ratio).toEqual({ median: 0.45, min: 0.41, max: 0.5, n: 3 });
    expect(verdict(f)).toBe("met");
    expect(figure(gatewayFigures([throughput]).figures, "relay throughput, N=7").target).toBeUndefined();
  });

  it("summarizes memory over the separate memory runs, paired with the runtime-only baseline of each run", () => {
    const f = figure(gatewayFigures([throughput, memory(120, 100), memory(140, 100), memory(100, 80)]).figures, "gateway RSS");
    expect(f.value).toEqual({ median: 120, min: 100, max: 140, n: 3 });
    expect(f.ratio).toEqual({ median: 1.25, min: 1.2, max: 1.4, n: 3 });
    expect(verdict(f)).toBe("met");
    expect(f.label).toContain("10000 requests in flight");
  });

  it("leaves out a memory run that never reached 10 000 in flight, and says so", () => {
    const short = { ...memory(280, 500), inFlight: { gateway: { inFlight: 0, rssMb: 280 }, runtimeOnly: { rssMb: 500 } } };
    const section = gatewayFigures([throughput, memory(120, 100), short]);
    expect(figure(section.figures, "gateway RSS").value).toEqual({ median: 120, min: 120, max: 120, n: 1 });
    expect(section.notes.join(" ")).toContain("1 gRPC memory run(s) left out: the gateway reached only 0 of 10000 requests in flight");
    const none = gatewayFigures([throughput, short]);
    expect(none.figures.some((f) => f.label.startsWith("gateway RSS"))).toBe(false);
  });

  it("judges the JSON-RPC run on its own when it reached 10 000 in flight", () => {
    const run = { bench: "gateway", results: [], inFlight: { gateway: { inFlight: 144, rssMb: 157 }, runtimeOnly: { inFlight: 2136, rssMb: 242 }, jsonRpc: { inFlight: 10000, rssMb: 302, idleRssMb: 110, heapMb: 146 } } };
    const f = figure(gatewayFigures([throughput, run]).figures, "gateway RSS with 10000 JSON-RPC requests in flight");
    expect(f.value.median).toBe(302);
    expect(verdict(f)).toBe("missed");
  });

  it("still gives the throughput figures when no memory run succeeded", () => {
    const section = gatewayFigures([throughput]);
    expect(section.figures.some((f) => f.label.startsWith("gateway RSS"))).toBe(false);
    expect(verdict(figure(section.figures, "gateway CPU per request vs N"))).toBe("met");
  });
});

describe("attestationFigures", () => {
  const json = {
    bench: "attestation",
    runs: 9,
    targets: { full_ms: 4, per_request_cached_ms: 0.1 },
    full_real: { median: 3.5, min: 3, max: 5, cpu: { median: 3.2 } },
    full_generated: { median: 4.5, min: 4, max: 6, cpu: { median: 4.2 } },
    full_real_async: { median: 2.1, min: 2, max: 3, cpu: { median: 3.3 } },
    full_generated_async: { median: 4.1, min: 3.9, max: 5, cpu: { median: 4.2 } },
    baseline_ed25519_verify_libsodium: { median: 0.045, min: 0.04, max: 0.05, cpu: { median: 0.045 } },
    per_request_session: { median: 0.09, min: 0.08, max: 0.2, cpu: { median: 0.085 } },
    baseline_p384_verify: { median: 0.5, min: 0.4, max: 0.6 },
    baseline_ed25519_verify: { median: 0.09, min: 0.08, max: 0.1 },
  };
  const figures = attestationFigures([json]).figures;

  it("judges full verifications against 4 ms and per-request checks against 0.1 ms (issue 4)", () => {
    expect(verdict(figure(figures, "full verification, real AWS document (5-cert chain), as a relay node"))).toBe("met");
    expect(verdict(figure(figures, "full verification, dev document with an AWS-shaped chain, as a relay node"))).toBe("missed");
    expect(verdict(figure(figures, "full verification, real AWS document, on the event loop"))).toBe("met");
    expect(verdict(figure(figures, "full verification, dev document, on the event loop"))).toBe("missed");
    expect(verdict(figure(figures, "per-request check, mode (b)"))).toBe("met");
  });

  it("lists the relay node's path first, the event-loop path after it", () => {
    const labels = figures.map((f) => f.label);
    expect(labels.findIndex((l) => l.includes("as a relay node"))).toBeLessThan(labels.findIndex((l) => l.includes("on the event loop")));
  });

  it("expresses a full verification in P-384 verifications measured in the same run", () => {
    const f = figure(figures, "full verification, real AWS document, on the event loop");
    expect(f.baseline?.label).toBe("one P-384 verify");
    expect(f.ratio?.median).toBeCloseTo(7, 10);
    expect(f.ratioNote).toBe("of medians");
  });

  it("sets libsodium's ed25519 verify beside node:crypto's", () => {
    const f = figure(figures, "ed25519 verify through libsodium");
    expect(f.baseline?.label).toBe("one ed25519 verify (node:crypto)");
    expect(f.ratio?.median).toBeCloseTo(0.5, 10);
  });

  it("shows a case the benchmark did not report as missing rather than inventing it", () => {
    expect(figure(figures, "cached verification").value.median).toBeNaN();
    expect(verdict(figure(figures, "per-request check, mode (a)"))).toBe("none");
  });
});

describe("syncerFigures", () => {
  const run = (first: number, steady: number) => ({ bench: "syncer", workflows: 10000, firstTickMs: first, steadyTickMs: steady, changes: 100, changedTickMs: 50, steadyTargetMs: 1000 });

  it("treats each invocation as one run: medians, min and max across invocations", () => {
    const section = syncerFigures([run(9000, 300), run(8000, 900), run(10000, 1200)]);
    expect(figure(section.figures, "first tick").value).toEqual({ median: 9000, min: 8000, max: 10000, n: 3 });
    const steady = figure(section.figures, "steady-state tick");
    expect(steady.value).toEqual({ median: 900, min: 300, max: 1200, n: 3 });
    expect(verdict(steady)).toBe("met"); // judged on the median, not the worst run
    expect(section.title).toContain("10000 workflows");
  });
});

describe("e2eRelayFigures", () => {
  const json = {
    bench: "e2e-relay",
    concurrency: [16, 64],
    senders: 16,
    results: [
      {
        n: 4,
        f: 1,
        relay: { maxRps: s(120, 100, 130), meshCpuUsPerCall: s(9000) },
        baseline: { rps: s(1200, 1100, 1300), meshCpuUsPerCall: s(500) },
        throughputRatio: s(0.1, 0.09, 0.11),
        cpuRatio: 18,
        atLoad: [
          { fraction: 0.5, offeredRps: 60, relay: { p50Ms: s(20), p99Ms: s(80) }, baseline: { p50Ms: s(2), p99Ms: s(8) }, p50Ratio: s(10), p99Ratio: s(10) },
          { fraction: 0.9, offeredRps: 108, relay: { p50Ms: s(40), p99Ms: s(200) }, baseline: { p50Ms: s(2), p99Ms: s(9) }, p50Ratio: s(20), p99Ratio: s(22) },
        ],
        errors: { "transport: x": 2 },
        rssMb: { idle: 500, afterLoad: 520 },
      },
    ],
  };
  const section = e2eRelayFigures([json]);

  it("gives maximum throughput beside the same-run bare call and their per-run ratio", () => {
    const f = figure(section.figures, "relay throughput (max), N=4");
    expect(f.value.median).toBe(120);
    expect(f.baseline?.value.median).toBe(1200);
    expect(f.ratio).toEqual(s(0.1, 0.09, 0.11));
  });

  it("gives p50 and p99 at 50% and 90% of the maximum, naming the offered rate", () => {
    const p99at90 = figure(section.figures, "relay p99 at 90% of max (108 req/s), N=4");
    expect(p99at90.value.median).toBe(200);
    expect(p99at90.baseline?.value.median).toBe(9);
    expect(p99at90.ratio?.median).toBe(22);
    expect(figure(section.figures, "relay p50 at 50% of max (60 req/s)").value.median).toBe(20);
  });

  it("tells the two mesh shapes apart when both ran", () => {
    const both = e2eRelayFigures([{ ...json, topology: "up" }, { ...json, topology: "processes" }]);
    expect(both.figures.map((f) => f.label)).toContain("relay throughput (max), N=4 F=1 [ccr up, one process]");
    expect(both.figures.map((f) => f.label)).toContain("relay throughput (max), N=4 F=1 [one process per server]");
    expect(both.notes.some((n) => n.startsWith("one process per server: RSS after the load"))).toBe(true);
  });

  it("reports failed calls in the notes instead of hiding them", () => {
    expect(section.notes.join(" ")).toContain('N=4: {"transport: x":2}');
  });
});
