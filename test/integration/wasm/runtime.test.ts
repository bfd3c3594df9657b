/**
 * The runtime's limits and failure modes with real worker threads (issue 6, "Run" and "Tests"):
 * traps, the time limit, the memory limit, the concurrency cap, host-call failures, log limits,
 * ABI violations and the module cache.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import type { GuestRequest } from "../../../src/wasm/guest-abi.js";
import type { WasmRuntimeOptions } from "../../../src/wasm/runtime-config.js";
import { WasmRuntime, sha256Hex, type CompiledGuest } from "../../../src/wasm/wasm-runtime.js";
import { fakeHost, json, utf8 } from "../../fixtures/wasm/fake-host.js";
import {
  bigInitialMemoryGuest,
  constResultGuest,
  foreignImportGuest,
  loopGuest,
  memoryBlowUpGuest,
  noAllocGuest,
  packedResultGuest,
  recursionGuest,
  trapGuest,
} from "../../fixtures/wasm/modules.js";

let probe: Uint8Array;
const runtimes: WasmRuntime[] = [];

beforeAll(async () => {
  probe = await conformanceGuestWasm();
}, 240_000);

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

function runtime(options: WasmRuntimeOptions = {}): WasmRuntime {
  const r = new WasmRuntime({ maxWorkers: 1, ...options });
  runtimes.push(r);
  return r;
}

const EMPTY = new Uint8Array(0);
const trigger = (config: unknown, payload: Uint8Array = utf8("{}")): GuestRequest => ({
  kind: "trigger",
  config: json(config),
  triggerId: 7n,
  payload,
});

describe("traps", () => {
  it("turns a wasm trap into a trap outcome, and the same worker runs the next guest", async () => {
    const rt = runtime();
    expect(await rt.run({ module: trapGuest(), request: trigger({}), host: fakeHost() })).toEqual({
      kind: "trap",
      message: "wasm trap: unreachable",
    });
    expect(await rt.run({ module: constResultGuest('{"value":42}'), request: trigger({}), host: fakeHost() })).toEqual({ kind: "value", value: 42 });
    expect(rt.stats()).toMatchObject({ workers: 1, workersReplaced: 0 });
  });

  it("reports a stack overflow as a trap", async () => {
    expect(await runtime().run({ module: recursionGuest(), request: trigger({}), host: fakeHost() })).toEqual({
      kind: "trap",
      message: "wasm trap: stack overflow",
    });
  });

  it("reports an AssemblyScript abort with its message and location", async () => {
    const outcome = await runtime().run({ module: probe, request: trigger({ mode: "abort" }), host: fakeHost() });
    expect(outcome.kind).toBe("trap");
    if (outcome.kind === "trap") expect(outcome.message).toMatch(/^abort: probe aborted on purpose at .*probe\.ts:\d+:\d+$/);
  });
});

describe("time limit", () => {
  it("ends an infinite loop with a timeout, replaces the worker, and keeps serving", async () => {
    const rt = runtime();
    expect(await rt.run({ module: loopGuest(), request: trigger({}), host: fakeHost(), limits: { timeoutMs: 300 } })).toEqual({
      kind: "timeout",
      timeoutMs: 300,
    });
    expect(await rt.run({ module: probe, request: trigger({ mode: "loop" }), host: fakeHost(), limits: { timeoutMs: 300 } })).toEqual({
      kind: "timeout",
      timeoutMs: 300,
    });
    expect(rt.stats().workersReplaced).toBe(2);
    expect(await rt.run({ module: probe, request: trigger({ mode: "config", x: 1 }), host: fakeHost() })).toEqual({
      kind: "value",
      value: { mode: "config", x: 1 },
    });
  });

  it("ends a guest blocked in a host call (the worker waits in Atomics.wait) and aborts the call's signal", async () => {
    const rt = runtime();
    let callArrived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (callArrived = resolve));
    let aborted = false;
    const host = fakeHost({
      capability: (_req, signal) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            aborted = true;
            resolve({ kind: "error", error: "too late" });
          });
          callArrived();
        }),
    });
    const cancel = new AbortController();
    const outcome = rt.run({ module: probe, request: trigger({ mode: "capability", id: "echo@1.0.0" }), host, signal: cancel.signal });
    await arrived;
    cancel.abort();
    expect(await outcome).toEqual({ kind: "cancelled" });
    expect(aborted).toBe(true);
    expect(rt.stats().workersReplaced).toBe(1);
    expect(await rt.run({ module: constResultGuest('{"value":"next"}'), request: trigger({}), host: fakeHost() })).toEqual({ kind: "value", value: "next" });
  });
});

describe("memory limit", () => {
  it("stops a guest that grows its memory without end", async () => {
    const rt = runtime({ memoryLimitBytes: 2 * 1024 * 1024 });
    const outcome = await rt.run({ module: memoryBlowUpGuest(), request: trigger({}), host: fakeHost() });
    expect(outcome.kind).toBe("memory-limit");
    if (outcome.kind === "memory-limit") expect(outcome.message).toContain("32 of 32 pages");
  });

  it("stops an AssemblyScript guest that allocates without end", async () => {
    const rt = runtime({ memoryLimitBytes: 4 * 1024 * 1024 });
    const outcome = await rt.run({ module: probe, request: trigger({ mode: "oom" }), host: fakeHost() });
    expect(outcome.kind).toBe("memory-limit");
    // The worker survives a guest's memory exhaustion.
    expect(await rt.run({ module: probe, request: trigger({ mode: "config" }), host: fakeHost() })).toEqual({ kind: "value", value: { mode: "config" } });
  });

  it("refuses a module whose initial memory is over the limit before running it", async () => {
    const rt = runtime({ memoryLimitBytes: 1024 * 1024 });
    const outcome = await rt.run({ module: bigInitialMemoryGuest(17), request: trigger({}), host: fakeHost() });
    expect(outcome.kind).toBe("memory-limit");
  });
});

describe("concurrency", () => {
  /** Compiled up front, so each `run` submits synchronously and the order below is the order of submission. */
  async function compiledGuests(rt: WasmRuntime) {
    const out = [];
    for (const bytes of [loopGuest(), constResultGuest('{"value":"queued"}'), probe]) {
      const c = await rt.compile(bytes);
      if (c.kind !== "ok") throw new Error(c.kind);
      out.push(c.guest);
    }
    return out as [CompiledGuest, CompiledGuest, CompiledGuest];
  }

  it("answers at-capacity when every worker is busy and the queue is full, and runs queued work in order", async () => {
    const rt = runtime({ maxWorkers: 1, maxQueued: 1 });
    const [loop, quick] = await compiledGuests(rt);
    const blocker = new AbortController();
    const running = rt.run({ module: loop, request: trigger({}), host: fakeHost(), signal: blocker.signal });
    const queued = rt.run({ module: quick, request: trigger({}), host: fakeHost() });
    expect(await rt.run({ module: quick, request: trigger({}), host: fakeHost() })).toEqual({ kind: "at-capacity" });
    expect(rt.stats()).toMatchObject({ busy: 1, queued: 1 });
    blocker.abort();
    expect(await running).toEqual({ kind: "cancelled" });
    expect(await queued).toEqual({ kind: "value", value: "queued" });
  });

  it("with no queue, answers at-capacity as soon as the workers are busy; a cancelled queued run never starts", async () => {
    const rt = runtime({ maxWorkers: 1, maxQueued: 0 });
    const [loop, quick] = await compiledGuests(rt);
    const blocker = new AbortController();
    const running = rt.run({ module: loop, request: trigger({}), host: fakeHost(), signal: blocker.signal });
    expect(await rt.run({ module: quick, request: trigger({}), host: fakeHost() })).toEqual({ kind: "at-capacity" });
    blocker.abort();
    await running;

    const rt2 = runtime({ maxWorkers: 1, maxQueued: 2 });
    const [loop2, , probe2] = await compiledGuests(rt2);
    const blocker2 = new AbortController();
    const first = rt2.run({ module: loop2, request: trigger({}), host: fakeHost(), signal: blocker2.signal });
    const cancelQueued = new AbortController();
    const host = fakeHost();
    const second = rt2.run({ module: probe2, request: trigger({ mode: "log", count: 1 }), host, signal: cancelQueued.signal });
    expect(rt2.stats()).toMatchObject({ busy: 1, queued: 1 });
    cancelQueued.abort();
    expect(await second).toEqual({ kind: "cancelled" });
    expect(rt2.stats()).toMatchObject({ queued: 0 });
    blocker2.abort();
    await first;
    expect(host.logs).toEqual([]);
  });

  it("close() cancels running and queued executions", async () => {
    const rt = new WasmRuntime({ maxWorkers: 1, maxQueued: 1 });
    const loop = await rt.compile(loopGuest());
    const quick = await rt.compile(constResultGuest('{"value":1}'));
    if (loop.kind !== "ok" || quick.kind !== "ok") throw new Error("compile failed");
    const running = rt.run({ module: loop.guest, request: trigger({}), host: fakeHost() });
    const queued = rt.run({ module: quick.guest, request: trigger({}), host: fakeHost() });
    expect(rt.stats()).toMatchObject({ busy: 1, queued: 1 });
    await rt.close();
    expect(await running).toEqual({ kind: "cancelled" });
    expect(await queued).toEqual({ kind: "cancelled" });
    expect(rt.stats()).toMatchObject({ workers: 0, busy: 0, queued: 0 });
    expect(await rt.run({ module: quick.guest, request: trigger({}), host: fakeHost() })).toEqual({ kind: "cancelled" });
  });
});

describe("host calls", () => {
  it("delivers a rejected host call to the guest as an error it can return", async () => {
    const host = fakeHost({
      capability: async () => {
        throw new Error("gateway unreachable: connect ECONNREFUSED");
      },
    });
    const outcome = await runtime().run({ module: probe, request: trigger({ mode: "capability", id: "echo@1.0.0" }, utf8('{"a":1}')), host });
    expect(outcome).toEqual({ kind: "error", message: "capability failed: gateway unreachable: connect ECONNREFUSED" });
    expect(host.capabilityCalls).toHaveLength(1);
  });

  it("passes capability payload bytes through unchanged both ways", async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255, 10, 13]);
    const host = fakeHost({ capability: async (req) => ({ kind: "payload", payload: utf8(`got ${Buffer.from(req.payload).toString("hex")}`) }) });
    const outcome = await runtime().run({ module: probe, request: trigger({ mode: "capability", id: "x@1.0.0", method: "Run" }, bytes), host });
    expect(outcome).toEqual({ kind: "value", value: "got 000102faff0a0d" });
    expect(host.capabilityCalls[0]).toMatchObject({ id: "x@1.0.0", method: "Run" });
  });

  it("turns a host answer over the size limit into an error for the guest", async () => {
    const big = utf8("z".repeat(5000));
    const host = fakeHost({ capability: async () => ({ kind: "payload", payload: big }) });
    const outcome = await runtime({ maxHostAnswerBytes: 4096 }).run({ module: probe, request: trigger({ mode: "capability", id: "echo@1.0.0" }), host });
    expect(outcome.kind).toBe("error");
    if (outcome.kind === "error") expect(outcome.message).toMatch(/^capability failed: the host answer is \d+ bytes, over the limit of 4096 bytes$/);
  });

  it("refuses a guest request over the size limit without calling the host", async () => {
    const host = fakeHost();
    const outcome = await runtime({ maxGuestRequestBytes: 256 }).run({
      module: probe,
      request: trigger({ mode: "capability", id: "echo@1.0.0" }, new Uint8Array(400)),
      host,
    });
    expect(outcome.kind).toBe("error");
    if (outcome.kind === "error") expect(outcome.message).toMatch(/capability request is \d+ bytes, over the limit of 256 bytes/);
    expect(host.capabilityCalls).toEqual([]);
  });

  it("answers `now` from the host's clock", async () => {
    const outcome = await runtime().run({ module: probe, request: trigger({ mode: "now" }), host: fakeHost({ nowMs: 1_234_567_890_123 }) });
    expect(outcome).toEqual({ kind: "value", value: 1_234_567_890_123 });
  });
});

describe("guest logs", () => {
  it("rate-limits lines per execution and reports how many were dropped", async () => {
    const clock = new ManualClock(1_000);
    const host = fakeHost();
    const rt = runtime({ clock, log: { burst: 3, linesPerSecond: 1 } });
    expect(await rt.run({ module: probe, request: trigger({ mode: "log", count: 10 }), host })).toEqual({ kind: "value", value: 10 });
    expect(host.logs).toEqual([
      { level: "info", message: "line 0" },
      { level: "info", message: "line 1" },
      { level: "info", message: "line 2" },
      { level: "warn", message: "the runtime dropped 7 guest log line(s) over the log limits" },
    ]);
  });

  it("cuts long lines and caps the lines per execution", async () => {
    const host = fakeHost();
    const rt = runtime({ log: { maxLineBytes: 32, maxLinesPerExecution: 2, burst: 100 } });
    await rt.run({ module: probe, request: trigger({ mode: "long-log", bytes: 100 }), host });
    expect(host.logs).toEqual([{ level: "info", message: `${"x".repeat(32)} …(truncated 68 bytes)` }]);
    host.logs.length = 0;
    await rt.run({ module: probe, request: trigger({ mode: "log", count: 5 }), host });
    expect(host.logs.map((l) => l.message)).toEqual(["line 0", "line 1", "the runtime dropped 3 guest log line(s) over the log limits"]);
  });
});

describe("ABI violations", () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["a result that is not JSON", constResultGuest("not json"), /not UTF-8 JSON/],
    ["a result with two outcomes", constResultGuest('{"value":1,"error":"x"}'), /exactly one of/],
    ["an error that is not a string", constResultGuest('{"error":5}'), /"error" must be a string/],
    ["a subscription without a method", constResultGuest('{"subscriptions":[{"id":"cron-trigger@1.0.0"}]}'), /subscription 0 must be/],
    ["a result outside memory", packedResultGuest(65530, 100), /outside the guest's 65536-byte memory/],
  ];
  for (const [name, module, message] of cases) {
    it(`reports ${name} as a trap`, async () => {
      const outcome = await runtime().run({ module, request: trigger({}), host: fakeHost() });
      expect(outcome.kind).toBe("trap");
      if (outcome.kind === "trap") expect(outcome.message).toMatch(message);
    });
  }

  it("refuses a result over max_response_size", async () => {
    const rt = runtime();
    const outcome = await rt.run({ module: probe, request: trigger({ mode: "big-result", bytes: 3000 }), host: fakeHost(), limits: { maxResultBytes: 1000 } });
    expect(outcome.kind).toBe("trap");
    if (outcome.kind === "trap") expect(outcome.message).toMatch(/the execution result is \d+ bytes, over the limit of 1000 bytes/);
  });

  it("refuses modules with foreign imports or missing exports before running them", async () => {
    const rt = runtime();
    expect(await rt.run({ module: foreignImportGuest(), request: trigger({}), host: fakeHost() })).toMatchObject({
      kind: "invalid-module",
      message: expect.stringContaining('unsupported import "env.seed"'),
    });
    expect(await rt.run({ module: noAllocGuest(), request: trigger({}), host: fakeHost() })).toMatchObject({
      kind: "invalid-module",
      message: 'the module must export a function "alloc"',
    });
    expect(await rt.compile(utf8("not wasm"))).toMatchObject({ kind: "invalid-module" });
  });
});

describe("compile and cache", () => {
  it("refuses bytes whose SHA-256 differs from the expected one, compiling nothing", async () => {
    const rt = runtime();
    const bytes = constResultGuest('{"value":1}');
    const outcome = await rt.compile(bytes, { expectedSha256Hex: "00".repeat(32) });
    expect(outcome).toEqual({ kind: "hash-mismatch", expectedSha256Hex: "00".repeat(32), actualSha256Hex: sha256Hex(bytes) });
    expect(rt.stats().cache).toMatchObject({ modules: 0, misses: 0 });
    expect(await rt.compile(bytes, { expectedSha256Hex: sha256Hex(bytes).toUpperCase() })).toMatchObject({ kind: "ok" });
  });

  it("keys compiled modules by SHA-256 and evicts by count and by bytes", async () => {
    const rt = runtime({ cache: { maxModules: 2, maxBytes: 10_000 } });
    const a = constResultGuest('{"value":"a"}');
    const b = constResultGuest('{"value":"b"}');
    const c = constResultGuest('{"value":"c"}');
    const first = await rt.compile(a);
    expect(await rt.compile(Uint8Array.from(a))).toBe(first); // same bytes, another buffer: a hit
    await rt.compile(b);
    await rt.compile(c);
    expect(rt.stats().cache).toMatchObject({ modules: 2, hits: 1, misses: 3, evictions: 1 });
    await rt.compile(a);
    expect(rt.stats().cache).toMatchObject({ misses: 4 }); // a was evicted

    const small = runtime({ cache: { maxModules: 10, maxBytes: a.length * 2 + 1 } });
    await small.compile(a);
    await small.compile(b);
    await small.compile(c);
    expect(small.stats().cache).toMatchObject({ modules: 2, evictions: 1 });
    expect(small.stats().cache.bytes).toBeLessThanOrEqual(a.length * 2 + 1);
  });

  it("runs the subscribe phase with the config and reports trigger ids as text", async () => {
    const rt = runtime();
    const outcome = await rt.run({ module: probe, request: { kind: "subscribe", config: EMPTY }, host: fakeHost() });
    expect(outcome).toMatchObject({ kind: "subscriptions", subscriptions: [{ id: "manual-trigger@1.0.0", method: "Trigger" }] });
  });
});
