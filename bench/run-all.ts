/**
 * `npm run bench` (issue 9): runs every benchmark, one after another, each as its own child process
 * (`npx tsx bench/<name>.ts …`), records each one's JSON line in `bench/results/latest.json` with the
 * machine and its load, and regenerates `docs/performance.md` and its SVG charts from that JSON.
 *
 *   npx tsx bench/run-all.ts [--quick] [--only NAME[,NAME…]] [--render-only] [--list]
 *
 *   --quick        shorter runs and fewer repetitions (every figure is still a median of ≥ 2 runs)
 *   --only         run only these benchmarks; the others keep their entries from the last latest.json
 *   --render-only  run nothing: regenerate the page and charts from bench/results/latest.json
 *   --list         print the benchmarks and the commands run-all would use, and exit
 *
 * Benchmarks never run concurrently with each other. The load average and the machine's CPU use are
 * recorded around each one, because the box is shared and its load moves every figure.
 * Exit code 1 when a benchmark failed (its entry says why; the page says it failed).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runToCompletion } from "./lib/child.js";
import { BENCH_ORDER, charts, renderPerformancePage, sectionOf, type BenchEntry, type MachineInfo, type ResultsFile } from "./lib/report.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const RESULTS_FILE = join(REPO, "bench/results/latest.json");
const PAGE_FILE = join(REPO, "docs/performance.md");

interface Invocation {
  readonly args: readonly string[];
  /** How many times this invocation runs (each one is a run of the figures it gives once). */
  readonly repeat: number;
}

interface BenchSpec {
  readonly name: string;
  readonly script: string;
  /** The package.json script that runs `script`. */
  readonly npmScript: string;
  readonly invocations: (quick: boolean) => readonly Invocation[];
  readonly timeoutMs: number;
}

const MIN = 60_000;

/** Every benchmark, in the order they run (cheap, CPU-bound ones first; the mesh last). */
const BENCHES: readonly BenchSpec[] = [
  { name: "attestation", script: "bench/attestation.ts", npmScript: "bench:attestation", timeoutMs: 10 * MIN, invocations: (q) => [{ args: q ? ["--runs", "5"] : ["--runs", "9"], repeat: 1 }] },
  {
    name: "relay-node",
    script: "bench/relay-node.ts",
    npmScript: "bench:relay-node",
    timeoutMs: 10 * MIN,
    invocations: (q) => [{ args: q ? ["--runs", "5", "--iterations", "1000"] : ["--runs", "7", "--iterations", "2000"], repeat: 1 }],
  },
  {
    name: "relay-node-memory",
    script: "bench/relay-node-memory.ts",
    npmScript: "bench:relay-node-memory",
    timeoutMs: 15 * MIN,
    invocations: (q) => [{ args: ["--runs", q ? "2" : "3"], repeat: 1 }],
  },
  { name: "vault", script: "bench/vault.ts", npmScript: "bench:vault", timeoutMs: 15 * MIN, invocations: (q) => [{ args: q ? ["--runs", "5", "--batch", "100"] : ["--runs", "7", "--batch", "200"], repeat: 1 }] },
  {
    name: "enclave-runtime",
    script: "bench/enclave-runtime.ts",
    npmScript: "bench:enclave-runtime",
    timeoutMs: 10 * MIN,
    invocations: (q) => [{ args: q ? ["--runs", "100", "--cold", "9"] : ["--runs", "300", "--cold", "15"], repeat: 1 }],
  },
  { name: "enclave", script: "bench/enclave.ts", npmScript: "bench:enclave", timeoutMs: 10 * MIN, invocations: (q) => [{ args: q ? ["--runs", "100", "--cold", "9"] : ["--runs", "300", "--cold", "15"], repeat: 1 }] },
  {
    name: "syncer",
    script: "bench/syncer.ts",
    npmScript: "bench:syncer",
    timeoutMs: 15 * MIN,
    invocations: (q) => [{ args: ["--workflows", "10000", "--changes", "100", "--runs", q ? "3" : "5"], repeat: q ? 2 : 3 }],
  },
  {
    name: "gateway",
    script: "bench/gateway.ts",
    npmScript: "bench:gateway",
    timeoutMs: 20 * MIN,
    invocations: (q) => [
      { args: q ? ["--runs", "2", "--seconds", "1", "--skip-rss"] : ["--runs", "3", "--seconds", "2", "--skip-rss"], repeat: 1 },
      { args: ["--skip-throughput"], repeat: q ? 2 : 3 },
    ],
  },
  {
    name: "e2e-relay",
    script: "bench/e2e-relay.ts",
    npmScript: "bench:e2e",
    timeoutMs: 25 * MIN,
    // Both shapes of a real mesh: ccr's one-command `ccr up` (one process) and one process per server.
    invocations: (q) => (["up", "processes"] as const).map((t) => ({ args: [...(q ? ["--quick"] : []), "--topology", t], repeat: 1 })),
  },
];

function publicCommand(spec: BenchSpec, inv: Invocation): string {
  const cmd = `npm run ${spec.npmScript}${inv.args.length > 0 ? ` -- ${inv.args.join(" ")}` : ""}`;
  return inv.repeat > 1 ? `${cmd} (×${inv.repeat})` : cmd;
}

const load3 = (): number[] => loadavg().map((x) => Number(x.toFixed(2)));

/** Busy and total jiffies of all CPUs, from /proc/stat (Linux); undefined elsewhere. */
function cpuJiffies(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function machineInfo(): MachineInfo {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: REPO, encoding: "utf8" }).trim();
    if (dirty !== "") commit += " + uncommitted changes";
  } catch {
    // not a git checkout
  }
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model.trim() ?? "unknown",
    nodeVersion: process.version,
    platform: `${platform()} ${release()}`,
    totalMemoryMb: Math.round(totalmem() / 2 ** 20),
    commit,
  };
}

/** JSON with NaN/±Infinity written as null (JSON.stringify does that too, but says so here). */
function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`;
}

/** null back to NaN where a number is expected does not matter for rendering: readers treat non-numbers as missing. */
function readResults(): ResultsFile | undefined {
  if (!existsSync(RESULTS_FILE)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as ResultsFile;
    return parsed.schema === 1 ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function runBench(spec: BenchSpec, quick: boolean): Promise<BenchEntry> {
  const startedAt = new Date().toISOString();
  const loadavgBefore = load3();
  const cpu0 = cpuJiffies();
  const t0 = Date.now();
  const raw: Record<string, unknown>[] = [];
  const invocations = spec.invocations(quick);
  let error: string | undefined;
  outer: for (const inv of invocations) {
    for (let i = 0; i < inv.repeat; i++) {
      const label = `${spec.name}${inv.repeat > 1 ? ` (run ${i + 1}/${inv.repeat})` : ""}`;
      console.log(`\n▶ ${label}: npx tsx ${spec.script} ${inv.args.join(" ")}`);
      const run = await runToCompletion("npx", ["tsx", spec.script, ...inv.args], {
        cwd: REPO,
        timeoutMs: spec.timeoutMs,
        onLine: (line) => console.log(`  │ ${line}`),
        env: { ...process.env, NO_COLOR: "1" },
      });
      if (run.timedOut) error = `timed out after ${spec.timeoutMs / 1000} s`;
      else if (run.exitCode !== 0) error = `exited with ${run.exitCode ?? run.signal}`;
      else if (run.json === undefined) error = "printed no JSON result line";
      else if (run.json["bench"] !== spec.name) error = `printed a result for "${String(run.json["bench"])}", expected "${spec.name}"`;
      if (error !== undefined) {
        error += `; stderr ends: ${run.stderrTail.split("\n").filter((l) => l.trim() !== "" && !l.includes("npm warn")).slice(-5).join(" ⏎ ")}`;
        console.log(`  ✗ ${spec.name}: ${error}`);
        break outer;
      }
      raw.push(run.json!);
      console.log(`  ✓ ${label} in ${((run.durationMs ?? 0) / 1000).toFixed(0)} s`);
    }
  }
  const cpu1 = cpuJiffies();
  const entry: BenchEntry = {
    name: spec.name,
    status: error === undefined ? "ok" : raw.length > 0 ? "partial" : "failed",
    mode: quick ? "quick" : "full",
    commands: invocations.map((inv) => publicCommand(spec, inv)),
    startedAt,
    durationMs: Date.now() - t0,
    loadavgBefore,
    loadavgAfter: load3(),
    machineCpuBusy: cpu0 === undefined || cpu1 === undefined || cpu1.total === cpu0.total ? null : Number(((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)).toFixed(3)),
    raw,
    ...(error === undefined ? {} : { error }),
  };
  const section = sectionOf(entry);
  return section === undefined ? entry : { ...entry, section };
}

function writeOutputs(results: ResultsFile): void {
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, toJson(results));
  const chartList = charts(results);
  for (const c of chartList) writeFileSync(join(dirname(PAGE_FILE), c.file), c.svg);
  writeFileSync(PAGE_FILE, renderPerformancePage(results, chartList));
  console.log(`\nwrote ${RESULTS_FILE}, ${PAGE_FILE}${chartList.map((c) => `, docs/${c.file}`).join("")}`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      "render-only": { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log("Usage: npx tsx bench/run-all.ts [--quick] [--only NAME[,NAME…]] [--render-only] [--list]");
    return 0;
  }
  const quick = values.quick;
  if (values.list) {
    for (const spec of BENCHES) console.log(`${spec.name.padEnd(16)} ${spec.invocations(quick).map((inv) => publicCommand(spec, inv)).join(" + ")}`);
    return 0;
  }
  const previous = readResults();
  if (values["render-only"]) {
    if (previous === undefined) {
      console.error(`${RESULTS_FILE} is missing or unreadable: run \`npm run bench\` first`);
      return 2;
    }
    // Re-extract the figures (the extraction may have changed since the JSON was written).
    const benches = Object.fromEntries(Object.entries(previous.benches).map(([k, e]) => {
      const section = sectionOf(e);
      return [k, section === undefined ? e : { ...e, section }];
    }));
    writeOutputs({ ...previous, benches });
    return 0;
  }
  const known = new Set(BENCHES.map((b) => b.name));
  const only = values.only?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const name of only ?? []) {
    if (!known.has(name)) {
      console.error(`unknown benchmark "${name}"; known: ${[...known].join(", ")}`);
      return 2;
    }
  }
  const selected = BENCHES.filter((b) => only === undefined || only.includes(b.name));
  const machine = machineInfo();
  const loadavgBefore = load3();
  console.log(
    `ccr benchmarks (${quick ? "quick" : "full"}): ${selected.map((b) => b.name).join(", ")}\n` +
      `${machine.cpus} × ${machine.cpuModel}, Node ${machine.nodeVersion}, commit ${machine.commit}; load average ${loadavgBefore.join(" ")}`,
  );
  const benches: Record<string, BenchEntry> = only === undefined ? {} : { ...(previous?.benches ?? {}) };
  let failed = 0;
  for (const spec of selected) {
    const entry = await runBench(spec, quick);
    if (entry.status !== "ok") failed++;
    benches[spec.name] = entry;
    // Written after every benchmark, so an interrupted run keeps what it measured.
    writeOutputs({ schema: 1, generatedAt: new Date().toISOString(), machine, loadavgBefore, loadavgAfter: load3(), benches: ordered(benches) });
  }
  console.log(failed === 0 ? "\nall benchmarks finished" : `\n${failed} benchmark(s) failed; see their sections in docs/performance.md`);
  return failed === 0 ? 0 : 1;
}

function ordered(benches: Record<string, BenchEntry>): Record<string, BenchEntry> {
  const names = [...BENCH_ORDER.filter((n) => n in benches), ...Object.keys(benches).filter((n) => !(BENCH_ORDER as readonly string[]).includes(n))];
  return Object.fromEntries(names.map((n) => [n, benches[n] as BenchEntry]));
}

process.exitCode = await main();
