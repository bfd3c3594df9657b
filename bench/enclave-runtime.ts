/**
 * Benchmark of the workflow WASM runtime (issue 6, "Benchmark"): the enclave host's cold start and
 * warm execution overhead, excluding host calls.
 *
 *   npx tsx bench/enclave-runtime.ts [--runs 300] [--cold 15]
 *
 * - cold: a module never seen before → SHA-256 + memory cap + compile (the runtime's `compile`),
 *   then its first execution (instantiate + execute + result) on an already started worker. Each
 *   cold iteration changes one byte of a custom section, so neither the runtime's cache nor V8's
 *   native-module cache can answer. The binary fetch is the service's and is not included.
 * - warm: `run` of an already compiled guest on a started pool: post to the worker, a fresh
 *   instance, execute, result back. The guests make no host calls; one extra line measures the
 *   cost of one host-call round trip (the conformance guest's `now`).
 *
 * Modules: ~1 MiB of code (hand-assembled), ~1 MiB of data (a data segment copied at every
 * instantiation), and the three examples as built (-O3).
 * Targets: cold ≤ 100 ms, warm overhead ≤ 2 ms. Prints one JSON line {"bench":"enclave-runtime",…}.
 */
import { availableParallelism, cpus } from "node:os";
import { parseArgs } from "node:util";
import { conformanceGuestWasm, exampleConfig, exampleWasm } from "../src/wasm/examples.js";
import type { GuestRequest, HostCalls } from "../src/wasm/guest-abi.js";
import { WasmRuntime, type CompiledGuest } from "../src/wasm/wasm-runtime.js";
import { codeHeavyGuest, constResultGuest } from "../test/fixtures/wasm/modules.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "300" }, cold: { type: "string", default: "15" } } });
const WARM_RUNS = Number(values.runs);
const COLD_RUNS = Number(values.cold);
const MiB = 1024 * 1024;

interface Summary {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly p95Ms: number;
  readonly n: number;
}

function summarize(samples: number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { medianMs: r(at(0.5)), minMs: r(s[0] as number), maxMs: r(s[s.length - 1] as number), p95Ms: r(at(0.95)), n: s.length };
}

const host: HostCalls = {
  callCapability: async () => ({ kind: "error", error: "no capabilities in the benchmark" }),
  getSecrets: async () => ({ responses: [] }),
  log: () => undefined,
  nowMs: () => Date.now(),
};

function trigger(config: Uint8Array): GuestRequest {
  return { kind: "trigger", config, triggerId: 0n, payload: new Uint8Array(Buffer.from("{}")) };
}

/** Appends a custom section whose single byte makes the module unique (cache-proof cold runs). */
function uniqueVariant(bytes: Uint8Array, i: number): Uint8Array {
  const name = Buffer.from("ccr-bench-nonce");
  const payload = Buffer.alloc(4);
  payload.writeUInt32LE(i);
  return new Uint8Array(Buffer.concat([bytes, Buffer.from([0, name.length + 1 + payload.length, name.length]), name, payload]));
}

async function cold(runtime: WasmRuntime, base: Uint8Array, request: GuestRequest) {
  const compile: number[] = [];
  const firstRun: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const bytes = uniqueVariant(base, i + Math.floor(Math.random() * 1e9));
    const t0 = performance.now();
    const compiled = await runtime.compile(bytes);
    const t1 = performance.now();
    if (compiled.kind !== "ok") throw new Error(`compile: ${JSON.stringify(compiled)}`);
    const outcome = await runtime.run({ module: compiled.guest, request, host });
    const t2 = performance.now();
    if (outcome.kind !== "value") throw new Error(`run: ${JSON.stringify(outcome)}`);
    compile.push(t1 - t0);
    firstRun.push(t2 - t1);
    total.push(t2 - t0);
  }
  return { hashAndCompile: summarize(compile), firstRun: summarize(firstRun), total: summarize(total) };
}

async function warm(runtime: WasmRuntime, guest: CompiledGuest, request: GuestRequest, runs = WARM_RUNS) {
  for (let i = 0; i < 20; i++) await runtime.run({ module: guest, request, host });
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const outcome = await runtime.run({ module: guest, request, host });
    samples.push(performance.now() - t0);
    if (outcome.kind !== "value") throw new Error(`run: ${JSON.stringify(outcome)}`);
  }
  return summarize(samples);
}

async function compiled(runtime: WasmRuntime, bytes: Uint8Array): Promise<CompiledGuest> {
  const c = await runtime.compile(bytes);
  if (c.kind !== "ok") throw new Error(JSON.stringify(c));
  return c.guest;
}

async function main(): Promise<void> {
  const runtime = new WasmRuntime({ maxWorkers: 1, cache: { maxModules: 8 } });
  await runtime.warmUp();
  const empty = new Uint8Array(Buffer.from("{}"));

  const codeMiB = codeHeavyGuest(MiB);
  const dataMiB = constResultGuest('{"value":1}', { padding: new Uint8Array(MiB).fill(7) });
  const examples: Record<string, { bytes: Uint8Array; config: Uint8Array }> = {};
  for (const name of ["hello", "secret-digest", "http-price"]) examples[name] = { bytes: await exampleWasm(name), config: await exampleConfig(name) };
  const probe = await conformanceGuestWasm();

  const results: Record<string, unknown> = {};
  results["code-1MiB"] = {
    bytes: codeMiB.length,
    cold: await cold(runtime, codeMiB, trigger(empty)),
    warm: await warm(runtime, await compiled(runtime, codeMiB), trigger(empty)),
  };
  results["data-1MiB"] = {
    bytes: dataMiB.length,
    cold: await cold(runtime, dataMiB, trigger(empty)),
    warm: await warm(runtime, await compiled(runtime, dataMiB), trigger(empty)),
  };
  const hello = examples["hello"]!;
  results["hello"] = {
    bytes: hello.bytes.length,
    cold: await cold(runtime, hello.bytes, trigger(hello.config)),
    warm: await warm(runtime, await compiled(runtime, hello.bytes), trigger(hello.config)),
  };
  // secret-digest and http-price make one host call each; with these fakes that is an immediate
  // answer, so their warm figures are execution overhead plus one host-call round trip.
  for (const name of ["secret-digest", "http-price"]) {
    const ex = examples[name]!;
    const g = await compiled(runtime, ex.bytes);
    const req = trigger(ex.config);
    const fakeHost: HostCalls =
      name === "secret-digest"
        ? { ...host, getSecrets: async () => ({ responses: [{ kind: "secret", id: "API_KEY", namespace: "main", value: "s3cr3t" }] }) }
        : { ...host, callCapability: async () => ({ kind: "payload", payload: new Uint8Array(Buffer.from('{"status":200,"headers":{},"body":"{\\"price\\":1.5}"}')) }) };
    const samples: number[] = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      const t0 = performance.now();
      const o = await runtime.run({ module: g, request: req, host: fakeHost });
      samples.push(performance.now() - t0);
      if (o.kind !== "value") throw new Error(`${name}: ${JSON.stringify(o)}`);
    }
    results[name] = { bytes: ex.bytes.length, warmWithOneHostCall: summarize(samples) };
  }
  // One host-call round trip: the conformance guest answering `now` minus answering its config.
  const p = await compiled(runtime, probe);
  const noCall = await warm(runtime, p, trigger(new Uint8Array(Buffer.from('{"mode":"config"}'))));
  const oneCall = await warm(runtime, p, trigger(new Uint8Array(Buffer.from('{"mode":"now"}'))));
  results["host-call-round-trip"] = { medianMs: Math.round((oneCall.medianMs - noCall.medianMs) * 1000) / 1000, withoutCall: noCall, withOneCall: oneCall };

  await runtime.close();
  const code = results["code-1MiB"] as { cold: { total: Summary }; warm: Summary };
  const data = results["data-1MiB"] as { cold: { total: Summary }; warm: Summary };
  const coldWorst = Math.max(code.cold.total.medianMs, data.cold.total.medianMs);
  const warmWorst = Math.max(code.warm.medianMs, data.warm.medianMs);
  console.log(
    JSON.stringify({
      bench: "enclave-runtime",
      node: process.version,
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? "unknown",
      coldRuns: COLD_RUNS,
      warmRuns: WARM_RUNS,
      results,
      targets: { coldMs: 100, warmOverheadMs: 2 },
      verdict: { cold1MiBMedianMs: coldWorst, coldOk: coldWorst <= 100, warm1MiBMedianMs: warmWorst, warmOk: warmWorst <= 2 },
    }),
  );
}

await main();
