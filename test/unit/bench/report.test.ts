import { describe, expect, it } from "vitest";
import { lastBenchJson } from "../../../bench/lib/child.js";
import { charts, formatNumber, renderPerformancePage, type BenchEntry, type ResultsFile } from "../../../bench/lib/report.js";

function entry(name: string, raw: Record<string, unknown>[], over: Partial<BenchEntry> = {}): BenchEntry {
  return {
    name,
    status: "ok",
    mode: "full",
    commands: [`npm run bench:${name} -- --runs 5`],
    startedAt: "2026-11-21T02:00:00.000Z",
    durationMs: 42_000,
    loadavgBefore: [7.5, 6, 5],
    loadavgAfter: [9.25, 6.5, 5],
    machineCpuBusy: 0.97,
    raw,
    ...over,
  };
}

const syncerRun = { bench: "syncer", workflows: 10000, firstTickMs: 9000, steadyTickMs: 1500, changes: 100, changedTickMs: 500, steadyTargetMs: 1000 };
const e2eRun = {
  bench: "e2e-relay",
  concurrency: [64],
  senders: 16,
  results: [
    { n: 4, f: 1, relay: { maxRps: { median: 30, min: 25, max: 35, n: 2 } }, baseline: { rps: { median: 300, min: 280, max: 320, n: 2 } }, errors: {} },
    { n: 7, f: 2, relay: { maxRps: { median: 20, min: 20, max: 20, n: 2 } }, baseline: { rps: { median: 290, min: 290, max: 290, n: 2 } }, errors: {} },
  ],
};

const results: ResultsFile = {
  schema: 1,
  generatedAt: "2026-11-21T02:10:00.000Z",
  machine: { cpus: 2, cpuModel: "AMD EPYC", nodeVersion: "v20.20.2", platform: "linux 6.1", totalMemoryMb: 24_103, commit: "abc1234" },
  loadavgBefore: [7.5, 6, 5],
  loadavgAfter: [9.25, 6.5, 5],
  benches: {
    "e2e-relay": entry("e2e-relay", [e2eRun], { commands: ["npm run bench:e2e -- --quick"], mode: "quick" }),
    syncer: entry("syncer", [syncerRun, { ...syncerRun, steadyTickMs: 1300 }], { commands: ["npm run bench:syncer -- --workflows 10000 (×2)"] }),
    vault: entry("vault", [], { status: "failed", error: "exited with 1; stderr ends: boom" }),
  },
};

describe("renderPerformancePage", () => {
  const chartList = charts(results);
  const page = renderPerformancePage(results, chartList);

  it("says the machine is shared and gives the load average range the figures were taken under", () => {
    expect(page).toContain("**The machine is shared.**");
    expect(page).toContain("7.50 – 9.25 on 2 CPUs");
    expect(page).toContain("load average 7.50 / 6.00 / 5.00 before, 9.25 / 6.50 / 5.00 after");
  });

  it("lists each target with its measured median, met or missed, and the command that reproduces it", () => {
    const line = page.split("\n").find((l) => l.startsWith("| syncer | steady-state tick"));
    expect(line).toBeDefined();
    expect(line).toContain("1,400 ms"); // median of 1500 and 1300
    expect(line).toContain("< 1,000 ms (issue 7)");
    expect(line).toContain("**missed**");
    expect(line).toContain("`npm run bench:syncer -- --workflows 10000 (×2)`");
  });

  it("gives every section its reproduce command and a figures table with median, min, max and runs", () => {
    expect(page).toContain("Reproduce: `npm run bench:e2e -- --quick` — or `npm run bench -- --only e2e-relay --quick`.");
    expect(page).toContain("| first tick (10000 activations) | 9,000 ms | 9,000 ms | 9,000 ms | 2 |");
  });

  it("says a failed benchmark failed, and why, instead of leaving it out", () => {
    expect(page).toContain("**This benchmark failed**: exited with 1; stderr ends: boom");
  });

  it("links the charts generated from the JSON", () => {
    expect(chartList.map((c) => c.file)).toEqual(["performance-relay.svg"]);
    expect(page).toContain("![End-to-end relay throughput vs N, against a bare unary call in the same run](performance-relay.svg)");
    const svg = chartList[0]!.svg;
    expect(svg).toContain("N = 7, F = 2");
    expect(svg).toContain("relay: ExecuteCapability(echo), attested, quorum-checked, N = 4, F = 1: median 30 (min 25, max 35, 2 runs)");
  });

  it("is deterministic for the same results", () => {
    expect(renderPerformancePage(results, charts(results))).toBe(page);
  });
});

describe("formatNumber", () => {
  it("keeps 3–4 significant digits and shows a missing value as a dash", () => {
    expect(formatNumber(12345.6)).toBe("12,346");
    expect(formatNumber(123.45)).toBe("123");
    expect(formatNumber(1.2345)).toBe("1.23");
    expect(formatNumber(0.01234)).toBe("0.012");
    expect(formatNumber(0.000123)).toBe("0.00012");
    expect(formatNumber(Number.NaN)).toBe("–");
    expect(formatNumber(null)).toBe("–");
  });
});

describe("lastBenchJson", () => {
  it("takes the last JSON object line with a bench name, skipping human lines and other JSON", () => {
    const lines = ['{"bench":"old"}', "N=4 relay 30/s", '{"progress":1}', '  {"bench":"gateway","x":1}  ', "done"];
    expect(lastBenchJson(lines)).toEqual({ bench: "gateway", x: 1 });
  });

  it("gives undefined when the benchmark printed no result line, or a broken one", () => {
    expect(lastBenchJson(["starting", '{"bench":"gateway",'])).toBeUndefined();
  });
});
