/**
 * Benchmark of the enclave host (issue 6, "Benchmark"): for a 1 MiB module, the cold start of an
 * execution — fetch over local HTTP, SHA-256 check, compile, first run — and the warm execution
 * overhead, both through the service's Execute, excluding host calls.
 *
 *   npx tsx bench/enclave.ts [--cold 15] [--runs 300]
 *
 * - cold: Execute of a binary the host has never seen, served by a node:http server on 127.0.0.1.
 *   Each iteration changes one byte of a custom section, so neither the host's guest cache, the
 *   runtime's module cache nor V8's native-module cache can answer. Reported whole, and split into
 *   its parts measured separately on other fresh variants: fetch (HTTP GET with the size cap) and
 *   hash + compile (the runtime's `compile` with the expected hash).
 * - warm: Execute of a binary already in the guest cache: validation, cache lookup, a fresh
 *   instance in a started worker, execute, result back, ExecutionResult serialized. The guest makes
 *   no host calls. Three figures, interleaved call by call so load hits them alike:
 *     execute     through the in-memory Connect transport (request and response encoded and
 *                 decoded, no socket): what an in-process caller pays;
 *     handler     the service handler called directly: the enclave host's own path;
 *     runtimeRun  the bare runtime `run` of the same compiled guest (the floor).
 *   handler − runtimeRun is the host's overhead on top of the runtime.
 *
 * Modules: ~1 MiB of code (hand-assembled, compile cost scales with code) and ~1 MiB of data (a
 * data segment copied at every instantiation). Targets: cold ≤ 100 ms, warm overhead ≤ 2 ms.
 * Prints one JSON line {"bench":"enclave",…}.
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, cpus } from "node:os";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, createContextValues, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import pino from "pino";
import { ConfidentialWorkflowRequestSchema, ConfidentialWorkflows, Gateway, sdk } from "../src/contract/index.js";
import { createBinarySource, createEnclaveHost, resolveConfidentialWorkflowsOptions } from "../src/services/confidential-workflows/index.js";
import { WasmRuntime } from "../src/wasm/wasm-runtime.js";
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

/** Appends a custom section whose payload makes the module unique (cache-proof cold runs). */
function uniqueVariant(bytes: Uint8Array, i: number): Uint8Array {
  const name = Buffer.from("ccr-bench-nonce");
  const payload = Buffer.alloc(8);
  payload.writeDoubleLE(i);
  return new Uint8Array(Buffer.concat([bytes, Buffer.from([0, name.length + 1 + payload.length, name.length]), name, payload]));
}

const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

const EXECUTE_REQUEST = toBinary(
  sdk.ExecuteRequestSchema,
  create(sdk.ExecuteRequestSchema, { config: Buffer.from("{}"), request: { case: "trigger", value: { id: 0n, payload: Buffer.from("{}") } } }),
);

function executeRequest(url: string, hash: Uint8Array) {
  return create(ConfidentialWorkflowRequestSchema, {
    execution: { workflowId: "b0".repeat(32), binaryUrl: url, binaryHash: hash, executeRequest: EXECUTE_REQUEST, owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", executionId: "e0".repeat(32) },
  });
}

async function main(): Promise<void> {
  // The artifact server: each variant under its own path.
  const files = new Map<string, Uint8Array>();
  const server = http.createServer((req, res) => {
    const body = files.get(req.url ?? "");
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { "content-type": "application/wasm", "content-length": body.length }).end(Buffer.from(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let served = 0;
  const publish = (bytes: Uint8Array): { url: string; hash: Uint8Array } => {
    const path = `/artifacts/${served++}.wasm`;
    files.set(path, bytes);
    return { url: origin + path, hash: sha256(bytes) };
  };

  // The host: relay never used (the guests make no host calls).
  const unusedGateway = createClient(Gateway, createRouterTransport(() => undefined));
  const options = resolveConfidentialWorkflowsOptions({
    don: { signers: [new Uint8Array(32).fill(1)], f: 0 },
    runtime: { maxWorkers: 1, cache: { maxModules: 64, maxBytes: 256 * MiB } },
    attestation: { measurements: { pcr0: "00".repeat(47) + "01", pcr1: "00".repeat(47) + "02", pcr2: "00".repeat(47) + "03" } },
  });
  const runtime = new WasmRuntime(options.runtime);
  const host = createEnclaveHost({ options, logger: pino({ level: "silent" }), gateway: unusedGateway, runtime });
  await host.start();
  const client = createClient(ConfidentialWorkflows, createRouterTransport(({ service }) => service(host.service, host.implementation)));

  // For the split: the same fetch and compile the host uses, on their own.
  const source = createBinarySource(options.binary);
  const splitRuntime = new WasmRuntime({ maxWorkers: 1, cache: { maxModules: 4 } });

  const execute = async (bin: { url: string; hash: Uint8Array }): Promise<void> => {
    const res = await client.execute(executeRequest(bin.url, bin.hash));
    if (res.executionResult.length === 0) throw new Error("empty result");
  };

  const modules: Record<string, Uint8Array> = {
    "code-1MiB": codeHeavyGuest(MiB),
    "data-1MiB": constResultGuest('{"value":1}', { padding: new Uint8Array(MiB).fill(7) }),
  };
  let nonce = Math.floor(Math.random() * 1e9);
  const results: Record<string, unknown> = {};
  for (const [name, base] of Object.entries(modules)) {
    // Warm-up of the paths (JIT, sockets), not measured.
    for (let i = 0; i < 3; i++) await execute(publish(uniqueVariant(base, nonce++)));

    const cold: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const bin = publish(uniqueVariant(base, nonce++));
      const t0 = performance.now();
      await execute(bin);
      cold.push(performance.now() - t0);
    }
    const fetch: number[] = [];
    const compile: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const bin = publish(uniqueVariant(base, nonce++));
      const t0 = performance.now();
      const fetched = await source(new URL(bin.url));
      const t1 = performance.now();
      if (fetched.kind !== "ok") throw new Error(JSON.stringify(fetched));
      const compiled = await splitRuntime.compile(fetched.bytes, { expectedSha256Hex: Buffer.from(bin.hash).toString("hex") });
      const t2 = performance.now();
      if (compiled.kind !== "ok") throw new Error(compiled.kind);
      fetch.push(t1 - t0);
      compile.push(t2 - t1);
    }

    const cachedBytes = uniqueVariant(base, nonce++);
    const cached = publish(cachedBytes);
    const guest = await runtime.compile(cachedBytes);
    if (guest.kind !== "ok") throw new Error(guest.kind);
    const request = executeRequest(cached.url, cached.hash);
    const context = { signal: new AbortController().signal, values: createContextValues() } as unknown as HandlerContext;
    const runInput = {
      module: guest.guest,
      request: { kind: "trigger" as const, config: Buffer.from("{}"), triggerId: 0n, payload: Buffer.from("{}") },
      host: { callCapability: async () => ({ kind: "error" as const, error: "none" }), getSecrets: async () => ({ responses: [] }), log: () => undefined, nowMs: () => Date.now() },
    };
    for (let i = 0; i < 20; i++) await execute(cached);
    const viaTransport: number[] = [];
    const handler: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      let t0 = performance.now();
      await execute(cached);
      viaTransport.push(performance.now() - t0);
      t0 = performance.now();
      await host.implementation.execute!(request, context);
      handler.push(performance.now() - t0);
      t0 = performance.now();
      await runtime.run(runInput);
      bare.push(performance.now() - t0);
    }
    const h = summarize(handler);
    const b = summarize(bare);
    results[name] = {
      bytes: base.length,
      cold: summarize(cold),
      coldParts: { fetchHttp: summarize(fetch), hashAndCompile: summarize(compile) },
      warm: { execute: summarize(viaTransport), handler: h, runtimeRun: b, hostOverheadMedianMs: Math.round((h.medianMs - b.medianMs) * 1000) / 1000 },
    };
  }

  await splitRuntime.close();
  await host.close();
  await runtime.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const parts = Object.values(results) as Array<{ cold: Summary; warm: { execute: Summary; handler: Summary } }>;
  const coldWorst = Math.max(...parts.map((p) => p.cold.medianMs));
  // The target is the enclave host's execution overhead: the handler's path, no host calls.
  const warmWorst = Math.max(...parts.map((p) => p.warm.handler.medianMs));
  console.log(
    JSON.stringify({
      bench: "enclave",
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
