/**
 * `bench/results/latest.json` → `docs/performance.md` and its charts. Pure: the results object in,
 * the page's text and the SVG documents out (run-all.ts writes them).
 */
import { FIGURE_EXTRACTORS, topologyName, verdict, type BenchSection, type Figure } from "./figures.js";
import type { Summary } from "./stats.js";
import { barChartSvg } from "./svg-chart.js";

/** One benchmark's entry in latest.json. */
export interface BenchEntry {
  readonly name: string;
  /** "partial": some invocations gave results and a later one failed (the figures shown are from the ones that ran). */
  readonly status: "ok" | "partial" | "failed";
  readonly mode: "quick" | "full";
  /** The public commands that produced `raw`, one per invocation kind (e.g. `npm run bench:vault -- --runs 7`). */
  readonly commands: readonly string[];
  readonly startedAt: string;
  readonly durationMs: number;
  readonly loadavgBefore: readonly number[];
  readonly loadavgAfter: readonly number[];
  /** Share of the machine's CPU time in use while it ran (all processes, this benchmark's included), 0..1. */
  readonly machineCpuBusy: number | null;
  /** Each invocation's JSON line, as printed. */
  readonly raw: readonly Record<string, unknown>[];
  /** The figures extracted from `raw` (NaN written as null). */
  readonly section?: BenchSection;
  readonly error?: string;
}

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly nodeVersion: string;
  readonly platform: string;
  readonly totalMemoryMb: number;
  readonly commit: string;
}

export interface ResultsFile {
  readonly schema: 1;
  readonly generatedAt: string;
  readonly machine: MachineInfo;
  /** Load averages (1, 5, 15 min) before the first and after the last benchmark of this invocation. */
  readonly loadavgBefore: readonly number[];
  readonly loadavgAfter: readonly number[];
  readonly benches: Readonly<Record<string, BenchEntry>>;
}

/** The order and titles of the page's sections. */
export const BENCH_ORDER = ["e2e-relay", "gateway", "attestation", "relay-node", "relay-node-memory", "vault", "enclave", "enclave-runtime", "syncer"] as const;

export function sectionOf(entry: BenchEntry): BenchSection | undefined {
  const extract = FIGURE_EXTRACTORS[entry.name];
  if (extract === undefined || entry.status === "failed" || entry.raw.length === 0) return undefined;
  return extract(entry.raw);
}

// ── formatting ───────────────────────────────────────────────────────────────────────────────────

/** 3–4 significant digits, no exponent for the ranges benchmarks produce; "–" for a missing value. */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const abs = Math.abs(x);
  if (abs === 0) return "0";
  if (abs >= 1000) return Math.round(x).toLocaleString("en-US");
  if (abs >= 100) return x.toFixed(0);
  if (abs >= 10) return x.toFixed(1);
  if (abs >= 1) return x.toFixed(2);
  if (abs >= 0.01) return x.toFixed(3);
  return x.toPrecision(2);
}

const withUnit = (x: number, unit: string): string => (Number.isFinite(x) ? `${formatNumber(x)}${unit === "" ? "" : ` ${unit}`}` : "–");

function ratioText(f: Figure): string {
  if (f.ratio === undefined || !Number.isFinite(f.ratio.median)) return "–";
  const r = f.ratio;
  const range = r.n > 1 && Number.isFinite(r.min) && Number.isFinite(r.max) ? ` (${formatNumber(r.min)}–${formatNumber(r.max)})` : "";
  return `${formatNumber(r.median)}×${range}${f.ratioNote === undefined ? "" : ` ${f.ratioNote}`}`;
}

function targetText(f: Figure): string {
  if (f.target === undefined) return "–";
  const op = { "<=": "≤", "<": "<", ">=": "≥" }[f.target.op];
  const what = f.target.on === "ratio" ? `ratio ${op} ${f.target.value}` : `${op} ${withUnit(f.target.value, f.unit)}`;
  return `${what} (${f.target.source})`;
}

function verdictText(f: Figure): string {
  const v = verdict(f);
  return v === "met" ? "met" : v === "missed" ? "**missed**" : "–";
}

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function row(cells: readonly string[]): string {
  return `| ${cells.map(cell).join(" | ")} |`;
}

function loadText(xs: readonly number[] | undefined): string {
  return xs === undefined || xs.length === 0 ? "?" : xs.map((x) => x.toFixed(2)).join(" / ");
}

function sectionTable(section: BenchSection): string[] {
  const lines = [
    row(["Figure", "Median", "Min", "Max", "Runs", "Baseline, same run (median)", "Ratio to baseline", "Target", "Met?"]),
    row(["---", "---:", "---:", "---:", "---:", "---", "---:", "---", "---"]),
  ];
  for (const f of section.figures) {
    const v: Summary = f.value;
    const label = f.note === undefined ? f.label : `${f.label} — ${f.note}`;
    lines.push(
      row([
        label,
        withUnit(v.median, f.unit),
        withUnit(v.min, f.unit),
        withUnit(v.max, f.unit),
        v.n > 0 ? String(v.n) : "–",
        f.baseline === undefined ? "–" : `${f.baseline.label}: ${withUnit(f.baseline.value.median, f.unit)}`,
        ratioText(f),
        targetText(f),
        verdictText(f),
      ]),
    );
  }
  return lines;
}

// ── charts ───────────────────────────────────────────────────────────────────────────────────────

export interface Chart {
  /** File name next to performance.md, e.g. "performance-relay.svg". */
  readonly file: string;
  readonly alt: string;
  readonly svg: string;
}

function summaryAt(obj: unknown, path: string): Summary {
  let cur: unknown = obj;
  for (const key of path.split(".")) cur = typeof cur === "object" && cur !== null ? (cur as Record<string, unknown>)[key] : undefined;
  const o = (cur ?? {}) as Record<string, unknown>;
  const n = (k: string): number => (typeof o[k] === "number" ? (o[k] as number) : Number.NaN);
  return { median: n("median"), min: n("min"), max: n("max"), n: typeof o["n"] === "number" ? (o["n"] as number) : 0 };
}

function loadSubtitle(entry: BenchEntry, machine: MachineInfo): string {
  return `${entry.mode} run ${entry.startedAt.slice(0, 16).replace("T", " ")} UTC · ${machine.cpus} CPUs, Node ${machine.nodeVersion} · load average ${loadText(entry.loadavgBefore.slice(0, 1))} → ${loadText(entry.loadavgAfter.slice(0, 1))}`;
}

export function charts(results: ResultsFile): Chart[] {
  const out: Chart[] = [];
  const e2e = results.benches["e2e-relay"];
  const e2eRuns = (e2e?.raw ?? []).filter((j) => Array.isArray(j["results"]) && (j["results"] as unknown[]).length > 0);
  if (e2e !== undefined && e2eRuns.length > 0) {
    type Point = { n: number; f: number };
    const sizes = [...new Map(e2eRuns.flatMap((j) => (j["results"] as Point[]).map((r) => [r.n, r.f] as const))).entries()].sort((a, b) => a[0] - b[0]);
    const valuesOf = (j: Record<string, unknown>, path: string): Summary[] =>
      sizes.map(([n]) => summaryAt((j["results"] as Point[]).find((r) => r.n === n), path));
    const palette = [
      ["#bdbdbd", "#1f77b4"],
      ["#757575", "#2ca02c"],
    ] as const;
    const tagged = e2eRuns.length > 1;
    out.push({
      file: "performance-relay.svg",
      alt: "End-to-end relay throughput vs N, against a bare unary call in the same run",
      svg: barChartSvg({
        title: "End-to-end relay: maximum throughput vs DON size",
        subtitle: loadSubtitle(e2e, results.machine),
        yLabel: "successful calls per second",
        categories: sizes.map(([n, f]) => `N = ${n}, F = ${f}`),
        series: e2eRuns.flatMap((j, i) => {
          const [grey, colour] = palette[i % palette.length] as readonly [string, string];
          const tag = tagged ? ` (${topologyName(j)})` : "";
          return [
            { name: tagged ? `bare Health/Check${tag}` : "bare Health/Check on one node (same run)", color: grey, values: valuesOf(j, "baseline.rps") },
            { name: tagged ? `relay${tag}` : "relay: ExecuteCapability(echo), attested, quorum-checked", color: colour, values: valuesOf(j, "relay.maxRps") },
          ];
        }),
        width: tagged ? 860 : 720,
      }),
    });
  }
  const gw = results.benches["gateway"];
  const gwJson = gw !== undefined ? gw.raw.find((j) => ((j["results"] as unknown[] | undefined) ?? []).length > 0) : undefined;
  const gwResults = (gwJson?.["results"] as unknown[] | undefined) ?? [];
  if (gw !== undefined && gwResults.length > 0) {
    const runs = typeof gwJson?.["runs"] === "number" ? (gwJson["runs"] as number) : 0;
    const withRuns = (s: Summary): Summary => ({ ...s, n: s.n || runs });
    out.push({
      file: "performance-gateway.svg",
      alt: "Gateway-alone relay throughput vs N, against a bare unary echo in the same run",
      svg: barChartSvg({
        title: "The gateway alone (fake signing nodes): throughput vs DON size",
        subtitle: loadSubtitle(gw, results.machine),
        yLabel: "requests per second",
        categories: gwResults.map((r) => `N = ${(r as { n: number }).n}`),
        series: [
          { name: "bare unary echo (same run)", color: "#9e9e9e", values: gwResults.map((r) => withRuns(summaryAt(r, "echo.rps"))) },
          { name: "relay through the gateway", color: "#ff7f0e", values: gwResults.map((r) => withRuns(summaryAt(r, "relay.rps"))) },
        ],
      }),
    });
  }
  return out;
}

// ── the page ─────────────────────────────────────────────────────────────────────────────────────

export function renderPerformancePage(results: ResultsFile, chartList: readonly Chart[]): string {
  const m = results.machine;
  const entries = BENCH_ORDER.map((name) => results.benches[name]).filter((e): e is BenchEntry => e !== undefined);
  const extra = Object.values(results.benches).filter((e) => !(BENCH_ORDER as readonly string[]).includes(e.name));
  const all = [...entries, ...extra];
  const sections = new Map(all.map((e) => [e.name, sectionOf(e)] as const));
  const loads = all.flatMap((e) => [e.loadavgBefore[0], e.loadavgAfter[0]]).filter((x): x is number => typeof x === "number");
  const busy = all.map((e) => e.machineCpuBusy).filter((x): x is number => typeof x === "number");
  const modes = [...new Set(all.map((e) => e.mode))];

  const out: string[] = [];
  out.push(
    "# Performance",
    "",
    "<!-- Generated by `npm run bench` (bench/run-all.ts) from bench/results/latest.json. Do not edit by hand: rerun the benchmarks, or `npx tsx bench/run-all.ts --render-only` to regenerate from the JSON. -->",
    "",
    `Generated ${results.generatedAt.slice(0, 19).replace("T", " ")} UTC from [bench/results/latest.json](../bench/results/latest.json) ` +
      `(commit ${m.commit}; ${modes.join(" and ")} mode). Every figure is the median of repeated runs with their min and max, and every ` +
      "comparison is a ratio to a baseline measured in the same run, so it carries over to another machine better than the absolute " +
      "figures do. Where a benchmark gives only one number per invocation, the invocation is repeated and each one is a run.",
    "",
    "## Conditions",
    "",
    row(["", ""]),
    row(["---", "---"]),
    row(["CPU", `${m.cpus} × ${m.cpuModel}`]),
    row(["Memory", `${formatNumber(m.totalMemoryMb / 1024)} GiB`]),
    row(["Node.js", m.nodeVersion]),
    row(["OS", m.platform]),
    row(["Load average (1 min) during the runs", loads.length === 0 ? "?" : `${formatNumber(Math.min(...loads))} – ${formatNumber(Math.max(...loads))} on ${m.cpus} CPUs`]),
    row(["Machine CPU in use during the runs (all processes)", busy.length === 0 ? "?" : `${Math.round(Math.min(...busy) * 100)}% – ${Math.round(Math.max(...busy) * 100)}%`]),
    row(["Time the benchmarks took", `${formatNumber(all.reduce((t, e) => t + e.durationMs, 0) / 60_000)} min (${modes.join(" and ")} mode)`]),
    "",
    `**The machine is shared.** Other work may run on the same ${m.cpus} CPUs while these figures are ` +
      "taken; the load average above says how much did. Above the CPU count, absolute times and rates are inflated, by several " +
      "times when it is far above (each section gives its own load average). Read the ratios to the same-run baselines and the " +
      "CPU-time figures first; a target judged on an absolute time can be missed because of the load alone, and the page says so where it matters.",
    "",
  );

  // Targets summary.
  const targeted = all.flatMap((e) => (sections.get(e.name)?.figures ?? []).filter((f) => f.target !== undefined).map((f) => [e, f] as const));
  if (targeted.length > 0) {
    out.push(
      "## Targets",
      "",
      `Load is the 1-minute load average before → after that benchmark, on ${m.cpus} CPUs.`,
      "",
      row(["Benchmark", "Figure", "Measured (median)", "Target", "Met?", "Load", "Reproduce"]),
      row(["---", "---", "---:", "---", "---", "---", "---"]),
    );
    for (const [e, f] of targeted) {
      const measured = f.target?.on === "ratio" ? `${formatNumber(f.ratio?.median)}× (${withUnit(f.value.median, f.unit)})` : withUnit(f.value.median, f.unit);
      const load = `${formatNumber(e.loadavgBefore[0])} → ${formatNumber(e.loadavgAfter[0])}`;
      out.push(row([e.name, f.label, measured, targetText(f), verdictText(f), load, e.commands.map((c) => `\`${c}\``).join(" + ")]));
    }
    out.push("");
  }

  if (chartList.length > 0) {
    out.push("## Charts", "");
    for (const c of chartList) out.push(`![${c.alt}](${c.file})`, "");
  }

  for (const e of all) {
    const section = sections.get(e.name);
    out.push(`## ${section?.title ?? e.name}`, "");
    out.push(
      `Reproduce: ${e.commands.map((c) => `\`${c}\``).join(" then ")} — or \`npm run bench -- --only ${e.name}${e.mode === "quick" ? " --quick" : ""}\`.`,
      "",
      `Measured ${e.startedAt.slice(0, 16).replace("T", " ")} UTC in ${formatNumber(e.durationMs / 1000)} s (${e.mode} mode); load average ` +
        `${loadText(e.loadavgBefore)} before, ${loadText(e.loadavgAfter)} after` +
        (e.machineCpuBusy === null ? "." : `; machine CPU ${Math.round(e.machineCpuBusy * 100)}% busy.`),
      "",
    );
    if (section === undefined) {
      out.push(`**This benchmark failed**: ${e.error ?? "no result"}`, "");
      continue;
    }
    if (e.status === "partial") out.push(`**Part of this benchmark failed**, so some of its figures are missing: ${e.error ?? "?"}`, "");
    out.push(section.what, "", ...sectionTable(section), "");
    for (const note of section.notes) out.push(`- ${note}`);
    out.push("");
  }

  out.push(
    "## Fault tolerance",
    "",
    "The fault-injection figures (crash, Byzantine, slow node, overload, Postgres restart, 100 000 malformed requests) come from " +
      "`npm run test:faults` and are in [reliability.md](reliability.md).",
    "",
    "## How to reproduce",
    "",
    "```sh",
    "npm ci",
    "npm run bench              # every benchmark, one after another; writes bench/results/latest.json and this page",
    "npm run bench -- --quick   # shorter runs (fewer repetitions)",
    "npm run bench -- --only e2e-relay,gateway   # some of them; the others keep their last results",
    "npx tsx bench/run-all.ts --render-only      # regenerate this page and its charts from bench/results/latest.json",
    "npm run bench:e2e -- --topology processes   # one benchmark alone (see each section for its exact command)",
    "```",
    "",
    "Each benchmark also runs alone with the command in its section; its last output line is the JSON that run-all records.",
    "",
  );
  return out.join("\n");
}
