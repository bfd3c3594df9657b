/**
 * From each benchmark's JSON line(s) to the figures `docs/performance.md` shows: value (median, min,
 * max over repeated runs), the baseline measured in the same run, their ratio, and the issue's target
 * with met/missed. Pure: the JSON in, plain data out (tested in test/unit/bench/figures.test.ts).
 *
 * The benchmarks' JSON shapes are their own (bench/*.ts); the readers below tolerate a missing field
 * (it becomes NaN, shown as "–") so a changed benchmark degrades the page instead of breaking it.
 */
import { pairedRatio, roundSig, summarize, type Summary } from "./stats.js";

export interface Target {
  /** How the figure must compare with `value`. */
  readonly op: "<=" | "<" | ">=";
  readonly value: number;
  /** What is compared: the figure's median (default), or its ratio's median. */
  readonly on?: "value" | "ratio";
  /** Where the target comes from, e.g. "issue 3". */
  readonly source: string;
}

export interface Figure {
  readonly label: string;
  readonly unit: string;
  readonly value: Summary;
  readonly baseline?: { readonly label: string; readonly value: Summary };
  /** value / baseline, per run where the benchmark paired them, else of the medians (said in `ratioNote`). */
  readonly ratio?: Summary;
  readonly ratioNote?: string;
  readonly target?: Target;
  readonly note?: string;
}

export interface BenchSection {
  readonly name: string;
  readonly title: string;
  /** One paragraph: what is measured, how, against what. */
  readonly what: string;
  readonly figures: readonly Figure[];
  readonly notes: readonly string[];
}

export type Verdict = "met" | "missed" | "none";

/** Whether a figure meets its target (judged on the median); "none" without a target or a value. */
export function verdict(f: Figure): Verdict {
  if (f.target === undefined) return "none";
  const x = f.target.on === "ratio" ? f.ratio?.median : f.value.median;
  if (x === undefined || !Number.isFinite(x)) return "none";
  switch (f.target.op) {
    case "<=":
      return x <= f.target.value ? "met" : "missed";
    case "<":
      return x < f.target.value ? "met" : "missed";
    case ">=":
      return x >= f.target.value ? "met" : "missed";
  }
}

// ── tolerant readers ───────────────────────────────────────────────────────────────────────────────

type Json = Record<string, unknown>;

function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Json)[key];
  }
  return cur;
}

/** The array at `path`, or an empty one when there is none (or something else is there). */
function list(obj: unknown, path: string): Json[] {
  const v = at(obj, path);
  return Array.isArray(v) ? (v as Json[]) : [];
}

function num(obj: unknown, path: string): number {
  const v = at(obj, path);
  return typeof v === "number" ? v : Number.NaN;
}

const NONE: Summary = { median: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };

/** A {median,min,max[,n]} or {medianMs,minMs,maxMs[,n]} object at `path` as a Summary. */
function stat(obj: unknown, path: string, runs?: number): Summary {
  const v = at(obj, path);
  if (typeof v !== "object" || v === null) return NONE;
  const o = v as Json;
  const pick = (k: string): number => {
    const x = o[k] ?? o[`${k}Ms`];
    return typeof x === "number" ? x : Number.NaN;
  };
  const n = typeof o["n"] === "number" ? (o["n"] as number) : (runs ?? Number.NaN);
  return { median: pick("median"), min: pick("min"), max: pick("max"), n: Number.isFinite(n) ? n : 0 };
}

/** One number per invocation, summarized across invocations (a figure each run gives once). */
function across(jsons: readonly Json[], path: string): Summary {
  return summarize(jsons.map((j) => num(j, path)));
}

/** A single measured value (no repetition): median = min = max, n = 1. */
function single(x: number): Summary {
  return Number.isFinite(x) ? { median: x, min: x, max: x, n: 1 } : NONE;
}

/** A median over `runs` runs whose min and max the benchmark did not report. */
function medianOnly(x: number, runs: number): Summary {
  return Number.isFinite(x) ? { median: x, min: Number.NaN, max: Number.NaN, n: Number.isFinite(runs) ? runs : 0 } : NONE;
}

function ratioOfMedians(a: Summary, b: Summary): Summary {
  return single(a.median / b.median);
}

function runsOf(j: Json | undefined, fallback = Number.NaN): number {
  const r = num(j, "runs");
  return Number.isFinite(r) ? r : fallback;
}

// ── per benchmark ─────────────────────────────────────────────────────────────────────────────────

/** How the e2e JSON's topology is named on the page. */
export function topologyName(j: unknown): string {
  return at(j, "topology") === "processes" ? "one process per server" : "ccr up, one process";
}

function e2eTopologyFigures(j: Json, tag: string): { figures: Figure[]; notes: string[] } {
  const results = list(j, "results");
  const figures: Figure[] = [];
  for (const r of results) {
    const n = num(r, "n");
    const f = num(r, "f");
    figures.push({
      label: `relay throughput (max), N=${n} F=${f}${tag}`,
      unit: "req/s",
      value: stat(r, "relay.maxRps"),
      baseline: { label: "bare Health/Check", value: stat(r, "baseline.rps") },
      ratio: stat(r, "throughputRatio"),
    });
    for (const point of list(r, "atLoad")) {
      const pct = `${Math.round(num(point, "fraction") * 100)}%`;
      const offered = num(point, "offeredRps");
      const samples = num(point, "relay.samples.median");
      for (const q of ["p50", "p99"] as const) {
        figures.push({
          label: `relay ${q} at ${pct} of max (${Number.isFinite(offered) ? offered : "–"} req/s), N=${n}${tag}`,
          unit: "ms",
          value: stat(point, `relay.${q}Ms`),
          baseline: { label: `bare call ${q} at the same rate`, value: stat(point, `baseline.${q}Ms`) },
          ratio: stat(point, `${q}Ratio`),
          ...(Number.isFinite(samples) ? { note: `≈ ${samples} calls per run${samples < 100 && q === "p99" ? " (so p99 ≈ their maximum)" : ""}` } : {}),
        });
      }
    }
    figures.push({
      label: `mesh CPU per call, N=${n}${tag}`,
      unit: "µs",
      value: stat(r, "relay.meshCpuUsPerCall"),
      baseline: { label: "per bare Health/Check", value: stat(r, "baseline.meshCpuUsPerCall") },
      ratio: single(num(r, "cpuRatio")),
      ratioNote: "of medians",
    });
  }
  const fit = at(j, "meshCpuPerCallVsN");
  if (fit !== undefined && fit !== null) {
    figures.push({
      label: `mesh CPU per relayed call vs N: added cost per node${tag}`,
      unit: "µs",
      value: single(num(fit, "slope")),
      note: `≈ ${num(fit, "intercept").toFixed(0)} + ${num(fit, "slope").toFixed(0)}·N µs, R² ${num(fit, "r2").toFixed(3)} (fit over the medians)`,
    });
  }
  const rss = results
    .map((r) => {
      const after = at(r, "rssMb.afterLoad");
      const entries = typeof after === "object" && after !== null ? Object.entries(after as Json) : [];
      const mbOf = (v: unknown): string => (typeof v === "number" ? `${v} MB` : "? MB");
      const parts = entries.filter(([k]) => !k.startsWith("relay-node-")).map(([k, v]) => `${k} ${mbOf(v)}`);
      const nodes = summarize(entries.filter(([k]) => k.startsWith("relay-node-")).map(([, v]) => (typeof v === "number" ? v : Number.NaN)));
      if (nodes.n > 0) parts.push(`each relay node ${nodes.median} MB (median of ${nodes.n}; ${nodes.min}–${nodes.max})`);
      return `N=${num(r, "n")}: ${parts.join(", ")}`;
    })
    .join("; ");
  const errors = results
    .map((r) => [num(r, "n"), at(r, "errors") as Json | undefined] as const)
    .filter(([, e]) => e !== undefined && Object.keys(e).length > 0)
    .map(([n, e]) => `N=${n}: ${JSON.stringify(e)}`);
  const prefix = tag === "" ? "" : `${topologyName(j)}: `;
  return {
    figures,
    notes: [
      `${prefix}${num(j, "runs")} runs × ${num(j, "secondsPerRun")} s; closed loop at concurrency ${JSON.stringify(at(j, "concurrency"))}; ` +
        `${num(j, "senders")} enclave identities share the load (the gateway rate-limits per sender: 100/s, burst 200; globally 1 000/s).`,
      `${prefix}RSS after the load: ${rss}.`,
      `${prefix}mesh CPU while idle (subtracted from the per-call figures): ${results.map((r) => `N=${num(r, "n")}: ${num(r, "idleMeshCpuMsPerSec")} ms/s`).join(", ")}.`,
      `${prefix}${errors.length > 0 ? `failed calls (by reason): ${errors.join("; ")}.` : "no call failed."}`,
    ],
  };
}

export function e2eRelayFigures(jsons: readonly Json[]): BenchSection {
  const many = jsons.length > 1;
  const parts = jsons.map((j) => e2eTopologyFigures(j, many ? ` [${topologyName(j)}]` : ""));
  const shapes = jsons.map((j) =>
    at(j, "topology") === "processes"
      ? "one OS process per server, started as an operator would (`ccr init`, then `ccr capability|vault|gateway|relay-node --config …`)"
      : "`ccr up`, which hosts the gateway, the N relay nodes, Vault, Capability, enclave host and workflow node in one OS process",
  );
  return {
    name: "e2e-relay",
    title: "End-to-end relay through real processes",
    what:
      `A real mesh started with the public CLI from a fresh deployment directory — ${shapes.join("; and, separately, ")} — with real loopback ` +
      "sockets between every hop, driven by the enclave's own relay client: each call is a valid `Gateway.ExecuteCapability(echo@1.0.0)` " +
      "with a dev attestation (session binding: the document verified once per node, then an ed25519 session signature checked by every " +
      "node on every request), the workflow node's authorization, N Capability calls and N signatures; the caller verifies the F+1 quorum " +
      "certificate before counting a success. Maximum throughput: closed loop, the best of the concurrencies tried; latency: open loop at " +
      "50% and 90% of that maximum, measured from each call's scheduled start. Baseline in the same run: `grpc.health.v1.Health/Check` on " +
      "relay node 0's server, same client stack. Mesh CPU per call: the CPU time of all the mesh's processes (from /proc) less their idle " +
      "use, divided by the successful calls.",
    figures: parts.flatMap((p) => p.figures),
    notes: parts.flatMap((p) => p.notes),
  };
}

/**
 * How the gateway benchmark's server process was run (bench/gateway.ts --loader, --semi-space-mb), once
 * per distinct setting; runs from before those options say nothing.
 */
function serverNotes(jsons: readonly Json[]): string[] {
  const seen = new Set<string>();
  for (const x of jsons) {
    if (at(x, "server") === undefined) continue;
    const which = at(x, "server.loader");
    const loader =
      which === "ccr"
        ? "started as bin/ccr starts every ccr process (the compiled bundle on plain node, with bin/node-options)"
        : which === "cjs"
          ? "tsx's in-thread CommonJS hooks (no hooks worker thread, as a build step would give)"
          : "tsx's ESM hooks on a worker thread, as bin/ccr.js ran ccr before its compiled launcher";
    const options = at(x, "server.execArgv");
    const semi = num(x, "server.semiSpaceMb");
    const young =
      semi > 0
        ? `V8 young generation capped at ${semi} MB per semi-space`
        : Array.isArray(options) && options.length > 0
          ? `node options ${options.join(" ")}`
          : "V8 young generation at V8's default";
    seen.add(`Server process: ${loader}; ${young}.`);
  }
  return [...seen];
}

/** The in-flight count the gateway benchmark's memory part aims for (issue 3). */
const GATEWAY_IN_FLIGHT = 10_000;

export function gatewayFigures(jsons: readonly Json[]): BenchSection {
  // Throughput and memory may come from separate invocations (--skip-rss / --skip-throughput).
  const withResults = jsons.filter((x) => list(x, "results").length > 0);
  // A memory run counts only if it really held 10 000 requests in flight (a run on an overloaded
  // machine can fall short; its RSS then says nothing about the target).
  const memoryRuns = jsons.filter((x) => at(x, "inFlight.gateway") !== undefined);
  const withMemory = memoryRuns.filter((x) => num(x, "inFlight.gateway.inFlight") >= GATEWAY_IN_FLIGHT);
  const shortRuns = memoryRuns.filter((x) => !withMemory.includes(x));
  const j = withResults[withResults.length - 1];
  const runs = runsOf(j);
  const results = list(j, "results");
  const figures: Figure[] = [];
  for (const r of results) {
    const n = num(r, "n");
    figures.push({
      label: `relay throughput, N=${n} F=${num(r, "f")}`,
      unit: "req/s",
      value: stat(r, "relay.rps", runs),
      baseline: { label: "bare unary echo, same run", value: stat(r, "echo.rps", runs) },
      ratio: stat(r, "ratio", runs),
      ...(n === 4 ? { target: { op: ">=", value: 0.4, on: "ratio", source: "issue 3" } as const } : {}),
    });
    figures.push({
      label: `relay p50, N=${n}`,
      unit: "ms",
      value: medianOnly(num(r, "relay.p50Ms"), runs),
      baseline: { label: "echo p50", value: medianOnly(num(r, "echo.p50Ms"), runs) },
      ratio: single(num(r, "relay.p50Ms") / num(r, "echo.p50Ms")),
      ratioNote: "of medians",
      note: `p99 ${num(r, "relay.p99Ms").toFixed(1)} ms (echo ${num(r, "echo.p99Ms").toFixed(1)} ms); the benchmark reports only the medians over its runs; gateway CPU ${num(r, "relay.serverCpuUs").toFixed(0)} µs per request (echo ${num(r, "echo.serverCpuUs").toFixed(0)})`,
    });
  }
  const fit = at(j, "perNodeGatewayCpu");
  if (fit !== undefined) {
    figures.push({
      label: "gateway CPU per request vs N: R² of a straight line",
      unit: "",
      value: single(num(fit, "r2")),
      target: { op: ">=", value: 0.9, source: "issue 3 (\"roughly linear\")" },
      note: `≈ ${num(fit, "intercept").toFixed(0)} + ${num(fit, "slope").toFixed(1)}·N µs`,
    });
  }
  if (withMemory.length > 0) {
    const m = withMemory[withMemory.length - 1];
    figures.push({
      label: `gateway RSS with ${num(m, "inFlight.gateway.inFlight")} requests in flight (N=4)`,
      unit: "MB",
      value: across(withMemory, "inFlight.gateway.rssMb"),
      baseline: { label: "the runtime alone holding as many unary calls", value: across(withMemory, "inFlight.runtimeOnly.rssMb") },
      ratio: pairedRatio(
        withMemory.map((x) => num(x, "inFlight.gateway.rssMb")),
        withMemory.map((x) => num(x, "inFlight.runtimeOnly.rssMb")),
      ),
      target: { op: "<", value: 150, source: "issue 3" },
      note:
        `idle ${num(m, "inFlight.gateway.idleRssMb").toFixed(1)} MB; the gateway's own share ≈ ${num(m, "inFlight.gatewayOwnKbPerRequest").toFixed(1)} KB per request; ` +
        `the same load through JSON-RPC ${num(m, "inFlight.jsonRpc.rssMb").toFixed(1)} MB`,
    });
  }
  // The same gateway holding 10 000 requests that arrived through its JSON-RPC endpoint (HTTP/2).
  const jsonRpcRuns = jsons.filter((x) => num(x, "inFlight.jsonRpc.inFlight") >= GATEWAY_IN_FLIGHT);
  if (jsonRpcRuns.length > 0) {
    figures.push({
      label: `gateway RSS with ${GATEWAY_IN_FLIGHT} JSON-RPC requests in flight (N=4)`,
      unit: "MB",
      value: across(jsonRpcRuns, "inFlight.jsonRpc.rssMb"),
      target: { op: "<", value: 150, source: "issue 3" },
      note: `idle ${across(jsonRpcRuns, "inFlight.jsonRpc.idleRssMb").median.toFixed(1)} MB, heap ${across(jsonRpcRuns, "inFlight.jsonRpc.heapMb").median.toFixed(1)} MB at the peak`,
    });
  }
  return {
    name: "gateway",
    title: "The gateway alone",
    what:
      "The gateway in its own process on the real server runtime (plain gRPC calls and node streams on its lean paths, src/transport/lean-*.ts); " +
      "N in-process fake relay nodes that sign at once dial it over real HTTP/2 sockets. Closed loop at a fixed concurrency, relay and a " +
      "bare unary echo (same request message, same runtime and lean path, same child process) interleaved in every run; the ratio is per " +
      "run. Memory: the gateway process's RSS with 10 000 requests in flight and fanned out to the nodes, beside the runtime alone " +
      "holding as many unanswered unary calls (one run per invocation).",
    figures,
    notes: [
      `${runs} runs × ${num(j, "secondsPerRun")} s per side, ${num(j, "concurrency")} calls in flight.`,
      ...serverNotes([...withResults, ...memoryRuns]),
      ...(withMemory.length > 0 ? [`Memory: ${withMemory.length} runs.`] : []),
      ...(shortRuns.length > 0
        ? [
            `${shortRuns.length} gRPC memory run(s) left out: the gateway reached only ${shortRuns.map((x) => num(x, "inFlight.gateway.inFlight")).join(", ")} of ` +
              `${GATEWAY_IN_FLIGHT} requests in flight (RSS then ${shortRuns.map((x) => `${num(x, "inFlight.gateway.rssMb").toFixed(0)} MB`).join(", ")}; ` +
              `the runtime-only baseline reached ${shortRuns.map((x) => num(x, "inFlight.runtimeOnly.inFlight")).join(", ")}), so it says nothing about the target.`,
          ]
        : []),
    ],
  };
}

const ATTESTATION_CASES: ReadonlyArray<readonly [string, string, "full" | "request" | undefined, string]> = [
  ["full_real_async", "full verification, real AWS document (5-cert chain), as a relay node runs it (signatures in parallel off the event loop)", "full", "baseline_p384_verify"],
  ["full_generated_async", "full verification, dev document with an AWS-shaped chain, as a relay node runs it", "full", "baseline_p384_verify"],
  ["full_real", "full verification, real AWS document, on the event loop (`ccr attestation verify`)", "full", "baseline_p384_verify"],
  ["full_generated", "full verification, dev document, on the event loop", "full", "baseline_p384_verify"],
  ["full_new_enclave", "new enclave, CA certificates already verified", undefined, "baseline_p384_verify"],
  ["new_doc_chain_cached", "new document, chain cached (binding mode a)", undefined, "baseline_p384_verify"],
  ["cached", "cached verification (document seen before)", undefined, "baseline_sha256_document"],
  ["per_request_binding", "per-request check, mode (a) user_data, cached", "request", "baseline_sha256_document"],
  ["per_request_session", "per-request check, mode (b) session signature, cached", "request", "baseline_ed25519_verify"],
  ["baseline_ed25519_verify_libsodium", "ed25519 verify through libsodium (what ccr uses)", undefined, "baseline_ed25519_verify"],
];

const BASELINE_LABEL: Record<string, string> = {
  baseline_p384_verify: "one P-384 verify",
  baseline_ed25519_verify: "one ed25519 verify (node:crypto)",
  baseline_sha256_document: "SHA-256 of the document",
};

export function attestationFigures(jsons: readonly Json[]): BenchSection {
  const j = jsons[jsons.length - 1];
  const runs = runsOf(j);
  const full = num(j, "targets.full_ms");
  const perRequest = num(j, "targets.per_request_cached_ms");
  const figures: Figure[] = ATTESTATION_CASES.map(([key, label, kind, baseKey]) => {
    const value = stat(j, key, runs);
    const base = stat(j, baseKey, runs);
    const target: Target | undefined =
      kind === "full"
        ? { op: "<=", value: Number.isFinite(full) ? full : 4, source: "issue 4" }
        : kind === "request"
          ? { op: "<=", value: Number.isFinite(perRequest) ? perRequest : 0.1, source: "issue 4" }
          : undefined;
    return {
      label,
      unit: "ms",
      value,
      baseline: { label: BASELINE_LABEL[baseKey] ?? baseKey, value: base },
      ratio: ratioOfMedians(value, base),
      ratioNote: "of medians",
      ...(target === undefined ? {} : { target }),
      note: `CPU time ${roundSig(num(j, `${key}.cpu.median`), 3)} ms`,
    };
  });
  return {
    name: "attestation",
    title: "Attestation",
    what:
      "The relay node's verifier (src/domain/attestation): full Nitro-format verifications (COSE ES384 + X.509 chain), a cached " +
      "verification, and the per-request checks of both binding modes, each in batches, median over the runs; bare node:crypto " +
      "verifications in the same run as baselines. Wall time is judged against the targets; CPU time (less inflated by a busy box, and " +
      "summed over threads for the parallel path) is given beside it.",
    figures,
    notes: [`${runs} runs. The amortized per-request cost with the cache is the per-request check (the document verified once per session).`],
  };
}

export function relayNodeMemoryFigures(jsons: readonly Json[]): BenchSection {
  const j = jsons[jsons.length - 1];
  const runs = runsOf(j);
  const n = num(j, "requests");
  return {
    name: "relay-node-memory",
    title: "Relay node: memory at 10 000 requests in flight",
    what:
      "One `ccr relay-node` process (started from `ccr init`'s config) on a fake gateway stream that pushes valid capability " +
      "requests (session attestation, workflow authorization) while a fake Capability service holds every call; RSS from /proc, " +
      "heap from the node's /metrics, idle and with all requests in flight; then every call is released and all answers must " +
      "come back signed and right. Baseline: the same node idle.",
    figures: [
      { label: `RSS at ${n} in flight`, unit: "MB", value: stat(j, "results.rssMb.loaded", runs), baseline: { label: "idle", value: stat(j, "results.rssMb.idle", runs) } },
      { label: "RSS per in-flight request", unit: "bytes", value: stat(j, "results.rssBytesPerInFlight", runs) },
      { label: "V8 heap per in-flight request", unit: "bytes", value: stat(j, "results.heapBytesPerInFlight", runs) },
      { label: `time to get ${n} in flight`, unit: "ms", value: stat(j, "results.fillMs", runs) },
      { label: `time to answer all ${n} after release`, unit: "ms", value: stat(j, "results.drainMs", runs) },
    ],
    notes: [`${runs} runs, a fresh node process each; RSS after the release: ${JSON.stringify(at(j, "results.rssMb.afterRelease"))} MB.`],
  };
}

export function relayNodeFigures(jsons: readonly Json[]): BenchSection {
  const j = jsons[jsons.length - 1];
  const runs = runsOf(j);
  const base = stat(j, "results.baseline_sign", runs);
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["capability_path", "capability request, node's own work (attestation faked ok)"],
    ["secrets_path", "secrets request, node's own work (2 signatures)"],
    ["capability_attested", "capability request with the real verifier, session binding, cached"],
  ];
  return {
    name: "relay-node",
    title: "Relay node: per-request cost",
    what:
      "One relay node's own work per request (validation, authorization, attestation, the Vault or Capability call answered in " +
      "process, deterministic translation, result hash, signature), in µs per request; baseline: one ed25519 signature in the same run.",
    figures: rows.map(([key, label]) => {
      const value = stat(j, `results.${key}`, runs);
      return { label, unit: "µs", value, baseline: { label: "one ed25519 signature", value: base }, ratio: ratioOfMedians(value, base), ratioNote: "of medians" };
    }),
    notes: [`${runs} runs × ${num(j, "iterations")} requests.`],
  };
}

export function vaultFigures(jsons: readonly Json[]): BenchSection {
  const j = jsons[jsons.length - 1];
  const runs = runsOf(j);
  const base = stat(j, "results.bare_echo", runs);
  const rows: ReadonlyArray<readonly [string, string]> = [
    ["get_secrets_1_miss", "Vault.GetSecrets, 1 secret, new request"],
    ["get_secrets_1_hit", "Vault.GetSecrets, 1 secret, memo hit (the other nodes)"],
    ["get_secrets_10_miss", "Vault.GetSecrets, 10 secrets, new request"],
    ["get_secrets_10_hit", "Vault.GetSecrets, 10 secrets, memo hit"],
    ["capability_echo_miss", "Capability.Execute(echo), new request"],
    ["capability_echo_hit", "Capability.Execute(echo), memo hit"],
  ];
  return {
    name: "vault",
    title: "Vault and Capability",
    what:
      "The Vault and Capability services on the real server runtime, called over gRPC on real loopback sockets, sequential calls in " +
      "batches; every run times each case in turn. Baseline: a bare echo RPC on the same runtime, in the same run.",
    figures: rows.map(([key, label]) => {
      const value = stat(j, `results.${key}`, runs);
      return { label, unit: "ms", value, baseline: { label: "bare echo RPC", value: base }, ratio: ratioOfMedians(value, base), ratioNote: "of medians" };
    }),
    notes: [`${runs} runs × ${num(j, "batch")} calls; store: ${String(at(j, "store") ?? "?")}.`],
  };
}

export function enclaveFigures(jsons: readonly Json[]): BenchSection {
  const j = jsons[jsons.length - 1];
  const cold = num(j, "targets.coldMs");
  const warm = num(j, "targets.warmOverheadMs");
  const figures: Figure[] = [];
  for (const mod of ["code-1MiB", "data-1MiB"]) {
    figures.push({
      label: `cold start, ${mod} module: fetch + hash + compile + first run`,
      unit: "ms",
      value: stat(j, `results.${mod}.cold`),
      target: { op: "<=", value: Number.isFinite(cold) ? cold : 100, source: "issue 6" },
      note: `fetch ${num(j, `results.${mod}.coldParts.fetchHttp.medianMs`)} ms, hash + compile ${num(j, `results.${mod}.coldParts.hashAndCompile.medianMs`)} ms (medians)`,
    });
    const handler = stat(j, `results.${mod}.warm.handler`);
    const bare = stat(j, `results.${mod}.warm.runtimeRun`);
    figures.push({
      label: `warm execution, ${mod} module, the host's path (no host calls)`,
      unit: "ms",
      value: handler,
      baseline: { label: "bare runtime run of the same guest", value: bare },
      ratio: ratioOfMedians(handler, bare),
      ratioNote: "of medians",
      target: { op: "<=", value: Number.isFinite(warm) ? warm : 2, source: "issue 6" },
      note: `through the in-memory Connect transport ${num(j, `results.${mod}.warm.execute.medianMs`)} ms; host overhead over the runtime ${num(j, `results.${mod}.warm.hostOverheadMedianMs`)} ms`,
    });
  }
  return {
    name: "enclave",
    title: "The enclave host (1 MiB modules)",
    what:
      "ConfidentialWorkflows.Execute in process. Cold: a binary never seen before, served over local HTTP (a unique variant each time, " +
      "so no cache answers). Warm: a cached guest, interleaved call by call with the bare runtime run of the same guest (the baseline).",
    figures,
    notes: [`${num(j, "coldRuns")} cold and ${num(j, "warmRuns")} warm executions; min/max are over the executions.`],
  };
}

export function enclaveRuntimeFigures(jsons: readonly Json[]): BenchSection {
  const j = jsons[jsons.length - 1];
  const cold = num(j, "targets.coldMs");
  const warm = num(j, "targets.warmOverheadMs");
  const figures: Figure[] = [];
  for (const mod of ["code-1MiB", "data-1MiB", "hello"]) {
    const example = mod === "hello" ? "example workflow hello" : `${mod} module`;
    figures.push({
      label: `cold start, ${example}: hash + compile + first run`,
      unit: "ms",
      value: stat(j, `results.${mod}.cold.total`),
      ...(mod === "hello" ? {} : { target: { op: "<=", value: Number.isFinite(cold) ? cold : 100, source: "issue 6" } as const }),
    });
    figures.push({
      label: `warm execution, ${example}`,
      unit: "ms",
      value: stat(j, `results.${mod}.warm`),
      ...(mod === "hello" ? {} : { target: { op: "<=", value: Number.isFinite(warm) ? warm : 2, source: "issue 6" } as const }),
    });
  }
  const noCall = stat(j, "results.host-call-round-trip.withoutCall");
  for (const ex of ["secret-digest", "http-price"]) {
    const v = stat(j, `results.${ex}.warmWithOneHostCall`);
    figures.push({
      label: `warm execution, example workflow ${ex} (one host call, answered at once)`,
      unit: "ms",
      value: v,
      baseline: { label: "a guest answering without a host call", value: noCall },
      ratio: ratioOfMedians(v, noCall),
      ratioNote: "of medians",
    });
  }
  return {
    name: "enclave-runtime",
    title: "The workflow WASM runtime and the example workflows",
    what:
      "The runtime the enclave host runs guests in (src/wasm): cold = SHA-256 + compile + first execution of a never-seen module; warm = " +
      "a fresh instance of a compiled guest in a started worker, execute, result back. The examples are built from examples/ (-O3).",
    figures,
    notes: [`${num(j, "coldRuns")} cold and ${num(j, "warmRuns")} warm executions; min/max are over the executions.`],
  };
}

export function syncerFigures(jsons: readonly Json[]): BenchSection {
  const j = jsons[jsons.length - 1];
  const w = num(j, "workflows");
  return {
    name: "syncer",
    title: `The syncer (${w} workflows)`,
    what:
      "Real syncer ticks over the real stores (PGlite in memory) with the real handler, engine factory and engines; " +
      `${w} workflows registered. Each invocation of the benchmark is one run.`,
    figures: [
      { label: `first tick (${w} activations)`, unit: "ms", value: across(jsons, "firstTickMs") },
      {
        label: "steady-state tick, nothing changed",
        unit: "ms",
        value: across(jsons, "steadyTickMs"),
        target: { op: "<", value: num(j, "steadyTargetMs") || 1000, source: "issue 7" },
        note: "each run's figure is itself the median of its steady ticks",
      },
      { label: `tick with ${num(j, "changes")} changes (half paused, half new)`, unit: "ms", value: across(jsons, "changedTickMs") },
    ],
    notes: [`${jsons.length} runs; backend ${String(at(j, "backend") ?? "?")}.`],
  };
}

export const FIGURE_EXTRACTORS: Readonly<Record<string, (jsons: readonly Json[]) => BenchSection>> = Object.freeze({
  "e2e-relay": e2eRelayFigures,
  gateway: gatewayFigures,
  attestation: attestationFigures,
  "relay-node": relayNodeFigures,
  "relay-node-memory": relayNodeMemoryFigures,
  vault: vaultFigures,
  enclave: enclaveFigures,
  "enclave-runtime": enclaveRuntimeFigures,
  syncer: syncerFigures,
});
