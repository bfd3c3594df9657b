/**
 * The workflow engine on fake time: Subscribe, cron and manual triggers, execution records, the
 * per-workflow concurrency limit and queue, deadlines, and draining on close.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { sdk } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { deriveExecutionId } from "../../../src/domain/workflow/execution-id.js";
import type { CapabilityCallContext } from "../../../src/services/workflow-node/capability-caller.js";
import { WorkflowEngine, type EngineLimits } from "../../../src/services/workflow-node/engine.js";
import { ManualScheduler } from "../../../src/services/workflow-node/scheduler.js";
import { CRON, deferred, errorResult, FakeModule, MANUAL, valueResult, type SubscriptionSpec, type TriggerScript } from "./support/fake-module.js";
import { MemoryExecutionsStore } from "./support/memory-stores.js";

const WF = "00" + "ab".repeat(31);
const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const T0 = Date.UTC(2026, 0, 1);

function setup(
  subscriptions: readonly SubscriptionSpec[] | sdk.ExecutionResult,
  onTrigger?: TriggerScript,
  limits: Partial<EngineLimits> = {},
) {
  const clock = new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const executions = new MemoryExecutionsStore();
  const module = new FakeModule(subscriptions, onTrigger);
  const capabilityCalls: Array<{ id: string; context: CapabilityCallContext }> = [];
  let random = 0;
  const engine = new WorkflowEngine({
    workflowId: WF,
    owner: OWNER,
    name: "w",
    tag: "latest",
    config: new TextEncoder().encode("the-config"),
    module,
    confidential: false,
    executions,
    capabilities: async (request, context) => {
      capabilityCalls.push({ id: request.id, context });
      return create(sdk.CapabilityResponseSchema, { response: { case: "payload", value: new TextEncoder().encode(`"${request.id} ok"`) } });
    },
    limits: { maxConcurrentExecutions: 4, maxQueuedExecutions: 100, executionTimeoutMs: 60_000, maxResponseSizeBytes: 100_000, ...limits },
    clock,
    scheduler,
    randomBytes: (n) => new Uint8Array(n).fill(++random),
  });
  return { clock, scheduler, executions, module, engine, capabilityCalls };
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected a failure");
}

describe("engine start (Subscribe)", () => {
  it("runs Subscribe once with no execution id and the workflow config, then reports its triggers", async () => {
    const { engine, module } = setup([CRON("*/10 * * * * *"), MANUAL]);
    await engine.start();
    expect(engine.ready()).toBe(true);
    expect(module.started).toBe(1);
    expect(module.calls).toEqual([{ kind: "subscribe", executionId: "", config: "the-config" }]);
    expect(engine.subscriptions()).toEqual([
      { index: 0, id: "cron-trigger@1.0.0", kind: "cron" },
      { index: 1, id: "manual-trigger@1.0.0", kind: "manual" },
    ]);
  });

  it.each([
    ["a workflow error", errorResult("bad config"), "failed to execute subscribe: bad config"],
    ["no outcome", create(sdk.ExecutionResultSchema), "subscribe result is nil"],
    ["a value instead of subscriptions", valueResult("x"), "subscribe result is nil"],
  ])("fails initialization on %s", async (_name, result, message) => {
    const { engine } = setup(result);
    const error = await failure(engine.start());
    expect(error.rawMessage).toBe(message);
    expect(engine.ready()).toBe(false);
  });

  it("refuses triggers this node does not serve, and bad cron schedules", async () => {
    const unknown = await failure(setup([{ id: "evm-log-trigger@1.0.0" }]).engine.start());
    expect(unknown.rawMessage).toContain('names trigger "evm-log-trigger@1.0.0"');
    const badCron = await failure(setup([CRON("every minute")]).engine.start());
    expect(badCron.rawMessage).toContain("subscription 0 (cron-trigger@1.0.0)");
  });
});

describe("cron trigger", () => {
  it("fires at each scheduled time and records every execution", async () => {
    const { engine, module, scheduler, executions, clock } = setup([CRON("*/10 * * * * *")], (call) => valueResult(`ran ${call.payload}`));
    await engine.start();
    await scheduler.advance(25_000);
    await engine.idle();
    const calls = module.triggerCalls();
    expect(calls.map((c) => c.payload)).toEqual([`{"scheduledTimeMs":${T0 + 10_000}}`, `{"scheduledTimeMs":${T0 + 20_000}}`]);
    expect(calls.every((c) => c.triggerIndex === 0 && c.config === "the-config")).toBe(true);
    const records = executions.all().sort((a, b) => a.startedAtMs - b.startedAtMs);
    expect(records.map((r) => [r.id, r.status, r.triggerId, r.triggerKind, r.startedAtMs])).toEqual([
      [deriveExecutionId(WF, `cron-trigger@1.0.0#0:cron:${T0 + 10_000}`), "succeeded", "cron-trigger@1.0.0#0", "cron", T0 + 10_000],
      [deriveExecutionId(WF, `cron-trigger@1.0.0#0:cron:${T0 + 20_000}`), "succeeded", "cron-trigger@1.0.0#0", "cron", T0 + 20_000],
    ]);
    expect(new TextDecoder().decode(records[0]?.result ?? undefined)).toBe(`"ran {\\"scheduledTimeMs\\":${T0 + 10_000}}"`);
    expect(clock.nowMs()).toBe(T0 + 25_000);
    await engine.close();
  });

  it("does not run an event twice: an execution id already recorded is skipped", async () => {
    const { engine, module, scheduler, executions } = setup([CRON("*/10 * * * * *")]);
    // The 10 s event already ran (e.g. before a restart).
    await executions.insertStarted({ id: deriveExecutionId(WF, `cron-trigger@1.0.0#0:cron:${T0 + 10_000}`), workflowId: WF, triggerId: "cron-trigger@1.0.0#0", triggerKind: "cron", startedAtMs: T0 - 1 });
    await engine.start();
    await scheduler.advance(20_000);
    await engine.idle();
    expect(module.triggerCalls().map((c) => c.payload)).toEqual([`{"scheduledTimeMs":${T0 + 20_000}}`]);
    await engine.close();
  });

  it("stops firing once closed", async () => {
    const { engine, module, scheduler } = setup([CRON("*/10 * * * * *")]);
    await engine.start();
    await engine.close();
    expect(scheduler.pendingTimers()).toBe(0);
    await scheduler.advance(60_000);
    expect(module.triggerCalls()).toEqual([]);
    expect(module.closed).toBe(1);
  });
});

describe("manual trigger and execution records", () => {
  it("delivers the input, records the value as JSON, and times the execution", async () => {
    const gate = deferred();
    const { engine, clock } = setup([CRON("0 0 1 1 *"), MANUAL], async (call) => {
      await gate.promise;
      return create(sdk.ExecutionResultSchema, {
        result: { case: "value", value: { kind: { case: "structValue", value: { fields: { echo: { kind: { case: "stringValue", value: call.payload ?? "" } } } } } } },
      });
    });
    await engine.start();
    const triggered = await engine.trigger({ payload: new TextEncoder().encode('{"n":1}') });
    expect(triggered.executionId).toMatch(/^[0-9a-f]{64}$/);
    clock.advance(1_234);
    gate.resolve();
    const record = await triggered.finished;
    expect(record).toMatchObject({ id: triggered.executionId, status: "succeeded", triggerId: "manual-trigger@1.0.0#1", triggerKind: "manual", error: null, durationMs: 1_234 });
    expect(JSON.parse(new TextDecoder().decode(record.result ?? undefined))).toEqual({ echo: '{"n":1}' });
  });

  it("defaults the manual payload to {}, and can fire any subscription by index", async () => {
    const { engine, module } = setup([CRON("0 0 1 1 *"), MANUAL]);
    await engine.start();
    await (await engine.trigger()).finished;
    await (await engine.trigger({ subscriptionIndex: 0 })).finished;
    expect(module.triggerCalls().map((c) => [c.triggerIndex, c.payload])).toEqual([
      [1, "{}"],
      [0, ""],
    ]);
  });

  it("refuses a trigger the workflow did not subscribe to", async () => {
    const { engine } = setup([CRON("0 0 1 1 *")]);
    await engine.start();
    const error = await failure(engine.trigger());
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain("has no manual-trigger@1.0.0 subscription");
    expect((await failure(engine.trigger({ subscriptionIndex: 5 }))).rawMessage).toContain("has no subscription 5");
  });

  it("records workflow errors, module failures and timeouts", async () => {
    let mode = "";
    const { engine, scheduler } = setup([MANUAL], async (_call, _helper, options) => {
      if (mode === "error") return errorResult("division by zero");
      if (mode === "throw") throw new ConnectError("enclave at capacity", Code.ResourceExhausted);
      if (mode === "deadline") throw new ConnectError("execution exceeded the time limit of 5 ms", Code.DeadlineExceeded);
      // "hang": never answers on its own, only notices the abort
      return new Promise((_resolve, reject) => options.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
    }, { executionTimeoutMs: 5_000 });
    await engine.start();
    mode = "error";
    expect(await (await engine.trigger()).finished).toMatchObject({ status: "failed", error: "division by zero", result: null });
    mode = "throw";
    expect(await (await engine.trigger()).finished).toMatchObject({ status: "failed", error: "enclave at capacity" });
    mode = "deadline";
    expect(await (await engine.trigger()).finished).toMatchObject({ status: "timed_out" });
    mode = "hang";
    const hanging = await engine.trigger();
    await scheduler.advance(5_000);
    expect(await hanging.finished).toMatchObject({ status: "timed_out", error: "execution exceeded the time limit of 5000 ms", durationMs: 5_000 });
  });
});

describe("relay signers on the execution record", () => {
  const a = "0a".repeat(32);
  const b = "0b".repeat(32);

  it("records the union of what the module reported, sorted, skipping what is not a 64-hex key; none when it reports nothing", async () => {
    let report = true;
    const { engine, executions } = setup([MANUAL], (_call, helper) => {
      if (report) {
        helper.recordRelaySigners([b, "not-a-key", a.toUpperCase()]);
        helper.recordRelaySigners([a, b]);
      }
      return valueResult("ok");
    });
    await engine.start();
    const first = await (await engine.trigger()).finished;
    expect(first.relaySigners).toEqual([a, b]);
    expect((await executions.get(first.id))?.relaySigners).toEqual([a, b]);
    report = false;
    expect((await (await engine.trigger()).finished).relaySigners).toEqual([]);
  });

  it("keeps them for an execution that then fails or times out", async () => {
    let mode = "";
    const { engine, scheduler } = setup([MANUAL], async (_call, helper, options) => {
      helper.recordRelaySigners([a]);
      if (mode === "throw") throw new ConnectError("boom", Code.Internal);
      return new Promise((_resolve, reject) => options.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
    }, { executionTimeoutMs: 5_000 });
    await engine.start();
    mode = "throw";
    expect(await (await engine.trigger()).finished).toMatchObject({ status: "failed", relaySigners: [a] });
    mode = "hang";
    const hanging = await engine.trigger();
    await scheduler.advance(5_000);
    expect(await hanging.finished).toMatchObject({ status: "timed_out", relaySigners: [a] });
  });
});

describe("concurrency limit, queue, drain", () => {
  it("runs at most maxConcurrentExecutions at once and queues the rest, up to the queue limit", async () => {
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let peak = 0;
    let n = 0;
    const { engine } = setup([MANUAL], async () => {
      const gate = gates[n++] ?? deferred();
      running++;
      peak = Math.max(peak, running);
      await gate.promise;
      running--;
      return valueResult("done");
    }, { maxConcurrentExecutions: 2, maxQueuedExecutions: 1 });
    await engine.start();
    const first = await engine.trigger();
    const second = await engine.trigger();
    const third = await engine.trigger(); // queued
    const refused = await failure(engine.trigger());
    expect(refused.code).toBe(Code.ResourceExhausted);
    expect(engine.inFlight()).toBe(3);
    gates[0]?.resolve();
    await first.finished;
    gates[1]?.resolve();
    gates[2]?.resolve();
    await Promise.all([second.finished, third.finished]);
    expect(peak).toBe(2);
  });

  it("close waits for running executions, drops queued ones, and then closes the module", async () => {
    const gate = deferred();
    const { engine, module, executions } = setup([MANUAL], async () => {
      await gate.promise;
      return valueResult("finished during drain");
    }, { maxConcurrentExecutions: 1 });
    await engine.start();
    const running = await engine.trigger();
    const queued = await engine.trigger();
    const closing = engine.close();
    let closed = false;
    void closing.then(() => (closed = true));
    expect((await failure(queued.finished)).code).toBe(Code.Unavailable);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(module.closed).toBe(0);
    gate.resolve();
    await closing;
    expect(await running.finished).toMatchObject({ status: "succeeded" });
    expect(module.closed).toBe(1);
    expect(executions.all()).toHaveLength(1);
    expect((await failure(engine.trigger())).code).toBe(Code.FailedPrecondition);
  });
});

describe("the execution helper", () => {
  it("gives the guest capability calls with its execution's metadata and refuses secrets", async () => {
    let seenSecrets: sdk.SecretResponse[] = [];
    const { engine, capabilityCalls } = setup([MANUAL], async (call, helper) => {
      const a = await helper.callCapability(create(sdk.CapabilityRequestSchema, { id: "echo@1.0.0", method: "Execute" }));
      const b = await helper.callCapability(create(sdk.CapabilityRequestSchema, { id: "http-fetch@1.0.0", method: "Execute" }));
      seenSecrets = await helper.getSecrets(create(sdk.GetSecretsRequestSchema, { requests: [{ id: "API_KEY" }] }));
      expect(a.response.case).toBe("payload");
      expect(b.response.case).toBe("payload");
      expect(helper.getWorkflowExecutionId()).toBe(call.executionId);
      return valueResult("ok");
    });
    await engine.start();
    const { executionId, finished } = await engine.trigger();
    await finished;
    expect(capabilityCalls.map((c) => [c.id, c.context.workflowId, c.context.owner, c.context.executionId, c.context.referenceId])).toEqual([
      ["echo@1.0.0", WF, OWNER, executionId, "1"],
      ["http-fetch@1.0.0", WF, OWNER, executionId, "2"],
    ]);
    expect(seenSecrets).toHaveLength(1);
    expect(seenSecrets[0]?.response.case).toBe("error");
    expect(seenSecrets[0]?.response.case === "error" && seenSecrets[0].response.value).toMatchObject({
      id: "API_KEY",
      namespace: "main",
      owner: OWNER,
      error: "secrets are available only to confidential workflows; deploy the workflow with --confidential",
    });
  });
});
