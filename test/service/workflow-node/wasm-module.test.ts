/**
 * WasmModule: a non-confidential workflow's guest run by the shared WASM runtime (src/wasm) under
 * the engine, with capability calls answered by an in-memory Capability service through its
 * generated client. Uses the SDK's conformance guest (compiled from source).
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capability, CapabilityExecuteResponseSchema, CapabilityListResponseSchema, type CapabilityExecuteRequest } from "../../../src/contract/index.js";
import { systemClock } from "../../../src/domain/clock.js";
import { capabilityCallerFromClient } from "../../../src/services/workflow-node/capability-caller.js";
import { WorkflowEngine } from "../../../src/services/workflow-node/engine.js";
import { createSystemScheduler } from "../../../src/services/workflow-node/scheduler.js";
import { toExecutionResult, wasmModuleFactory } from "../../../src/services/workflow-node/wasm-module.js";
import { silentLogger } from "../../../src/services/workflow-node/module.js";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import { WasmRuntime } from "../../../src/wasm/wasm-runtime.js";
import { MemoryExecutionsStore } from "./support/memory-stores.js";

const WF = "00" + "cd".repeat(31);
const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

describe("WasmModule under the engine", () => {
  let runtime: WasmRuntime;
  let binary: Uint8Array;
  const capabilityRequests: CapabilityExecuteRequest[] = [];
  const capabilities = capabilityCallerFromClient(
    createClient(
      Capability,
      createRouterTransport(({ service }) => {
        service(Capability, {
          execute(request) {
            capabilityRequests.push(request);
            if (request.capabilityId === "missing@1.0.0") throw new ConnectError("unknown capability missing@1.0.0", Code.NotFound);
            return create(CapabilityExecuteResponseSchema, { payload: new TextEncoder().encode(`{"echoed":${new TextDecoder().decode(request.payload)}}`) });
          },
          list: () => create(CapabilityListResponseSchema),
        });
      }),
    ),
  );

  beforeAll(async () => {
    runtime = new WasmRuntime({ maxWorkers: 1, defaultTimeoutMs: 2_000 });
    binary = await conformanceGuestWasm();
  });

  afterAll(async () => {
    await runtime?.close();
  });

  async function engineFor(config: object, executionTimeoutMs = 10_000): Promise<WorkflowEngine> {
    const module = await wasmModuleFactory(runtime, { timeoutMs: 2_000 })({ workflowId: WF, workflowName: "probe", owner: OWNER, binary, logger: silentLogger });
    const engine = new WorkflowEngine({
      workflowId: WF,
      owner: OWNER,
      name: "probe",
      tag: "latest",
      config: new TextEncoder().encode(JSON.stringify(config)),
      module,
      confidential: false,
      executions: new MemoryExecutionsStore(),
      capabilities,
      limits: { maxConcurrentExecutions: 2, maxQueuedExecutions: 10, executionTimeoutMs, maxResponseSizeBytes: 100_000 },
      clock: systemClock,
      scheduler: createSystemScheduler(),
      randomBytes: (n) => new Uint8Array(n).fill(1),
    });
    await engine.start();
    return engine;
  }

  const run = async (config: object, input?: string) => {
    const engine = await engineFor(config);
    try {
      return await (await engine.trigger(input === undefined ? {} : { payload: new TextEncoder().encode(input) })).finished;
    } finally {
      await engine.close();
    }
  };

  it("subscribes and runs the guest, returning its value", async () => {
    const record = await run({ mode: "config", hello: "world" });
    expect(record.status).toBe("succeeded");
    expect(JSON.parse(new TextDecoder().decode(record.result ?? undefined))).toEqual({ mode: "config", hello: "world" });
  });

  it("routes the guest's capability calls to the Capability service with the execution's metadata", async () => {
    const record = await run({ mode: "capability", id: "echo@1.0.0", method: "Execute" }, '{"x":1}');
    expect(record.status).toBe("succeeded");
    expect(JSON.parse(new TextDecoder().decode(record.result ?? undefined))).toBe('{"echoed":{"x":1}}');
    const call = capabilityRequests.at(-1);
    expect(call).toMatchObject({ capabilityId: "echo@1.0.0", method: "Execute", metadata: { workflowId: WF, owner: OWNER, executionId: record.id, referenceId: "1" } });
  });

  it("hands a capability's RPC failure to the guest as a capability error", async () => {
    const record = await run({ mode: "capability", id: "missing@1.0.0", method: "Execute" }, "{}");
    expect(record.status).toBe("failed");
    expect(record.error).toBe("capability failed: capability missing@1.0.0 call failed: unknown capability missing@1.0.0 (NotFound)");
  });

  it("gives a local guest no secrets, only per-secret errors", async () => {
    const record = await run({ mode: "secrets", keys: ["API_KEY"] });
    expect(record.status).toBe("succeeded");
    const text = new TextDecoder().decode(record.result ?? undefined);
    expect(text).toContain("secrets are available only to confidential workflows");
    expect(text).not.toContain("sha256");
  });

  it("records a trap as a failed execution and a runaway guest as timed out", async () => {
    const trapped = await run({ mode: "trap" });
    expect(trapped.status).toBe("failed");
    expect(trapped.error).toMatch(/^guest trapped: /);
    const looping = await run({ mode: "loop" });
    expect(looping.status).toBe("timed_out");
  });

  it("refuses a binary that is not a guest at engine creation", async () => {
    const error = await Promise.resolve(
      wasmModuleFactory(runtime, { timeoutMs: 1_000 })({ workflowId: WF, workflowName: "x", owner: OWNER, binary: new Uint8Array([1, 2, 3]), logger: silentLogger }),
    ).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.rawMessage).toMatch(/^could not instantiate module: /);
  });

  it("maps the runtime's own verdicts", () => {
    expect(toExecutionResult({ kind: "memory-limit", message: "out of memory" }).result).toEqual({ case: "error", value: "guest exceeded its memory limit: out of memory" });
    expect(() => toExecutionResult({ kind: "at-capacity" })).toThrow("at capacity");
    expect(() => toExecutionResult({ kind: "cancelled" })).toThrow("execution cancelled");
  });
});
