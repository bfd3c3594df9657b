import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CapabilityExecuteResponseSchema } from "../../../src/contract/index.js";
import type { AnyCapabilityExecutor, CapabilityOutcome } from "../../../src/services/capability/index.js";
import { parseJsonPayload } from "../../../src/services/capability/registry.js";
import { call, json, startCapability } from "./harness.js";

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

/** A test capability whose executions wait on a gate and are counted. */
function gatedCapability(outcome: (input: unknown) => CapabilityOutcome | Error = (input) => ({ kind: "ok", payload: Buffer.from(JSON.stringify({ got: input })) })) {
  const state = { executions: 0, release: () => {} };
  let gate = new Promise<void>((resolve) => (state.release = resolve));
  const executor: AnyCapabilityExecutor = {
    id: "gated@0.1.0",
    description: "Waits for the test to release it.",
    inputSchema: {},
    outputSchema: {},
    parse: (payload: Uint8Array) => parseJsonPayload(payload),
    async execute(input: unknown) {
      state.executions++;
      await gate;
      const result = outcome(input);
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { executor, state, reset: () => (gate = new Promise<void>((resolve) => (state.release = resolve))) };
}

describe("Capability.List", () => {
  it("describes every capability, sorted by id, with JSON Schemas", async () => {
    const { executor } = gatedCapability();
    const h = startCapability({}, [executor]);
    const { capabilities } = await h.client.list({});
    expect(capabilities.map((c) => c.id)).toEqual(["echo@1.0.0", "gated@0.1.0", "http-fetch@1.0.0"]);
    const fetch = capabilities.find((c) => c.id === "http-fetch@1.0.0")!;
    expect(fetch.description).toMatch(/allowlisted host/);
    expect(JSON.parse(fetch.inputSchema)).toMatchObject({ type: "object", required: ["url"] });
    expect(JSON.parse(fetch.outputSchema)).toMatchObject({ required: ["status", "headers"] });
  });
});

describe("Capability.Execute", () => {
  it("runs echo@1.0.0: the payload comes back byte for byte", async () => {
    const h = startCapability();
    const payload = '{"b": 2, "a": [1, "x"]}';
    const res = await h.client.execute(call("echo@1.0.0", payload));
    expect(Buffer.from(res.payload).toString()).toBe(payload);
    expect(res.error).toBe("");
  });

  it("answers NotFound for an unknown capability and InvalidArgument for bad input, with messages", async () => {
    const h = startCapability();
    const cases: Array<[Parameters<typeof h.client.execute>[0], Code, string]> = [
      [call("nope@1.0.0", {}), Code.NotFound, "capability nope@1.0.0 is not registered; List shows the registered capabilities"],
      [call("", {}), Code.InvalidArgument, 'capability_id is required, e.g. "echo@1.0.0"'],
      [call("echo", {}), Code.InvalidArgument, 'capability_id "echo" must be name@semver, e.g. "echo@1.0.0"'],
      [call("echo@1.0.0", "{not json"), Code.InvalidArgument, "payload is not valid JSON"],
      [call("echo@1.0.0", {}, "ref", { method: "Stream" }), Code.InvalidArgument, 'capability echo@1.0.0 has no method "Stream" (methods: Execute)'],
      [call("echo@1.0.0", {}, ""), Code.InvalidArgument, "metadata.reference_id is required (it is part of the memo key)"],
      [{ ...call("echo@1.0.0", {}), metadata: undefined }, Code.InvalidArgument, "metadata is required"],
      [{ ...call("echo@1.0.0", {}), metadata: { ...call("echo@1.0.0", {}).metadata, owner: "bob" } }, Code.InvalidArgument, "metadata.owner: owner must be"],
    ];
    for (const [request, code, message] of cases) {
      const error = await rejection(h.client.execute(request));
      expect(error.code).toBe(code);
      expect(error.rawMessage).toContain(message);
    }
    const text = await h.registry.metrics();
    expect(text).toContain('ccr_capability_calls_total{capability="unknown",outcome="NotFound"} 1');
  });

  it("refuses a payload over maxPayloadBytes", async () => {
    const h = startCapability({ maxPayloadBytes: 16 });
    const error = await rejection(h.client.execute(call("echo@1.0.0", '"' + "x".repeat(20) + '"')));
    expect([error.code, error.rawMessage]).toEqual([Code.InvalidArgument, "payload must be at most 16 bytes, got 22"]);
  });

  it("runs N concurrent identical calls once and gives them all the same bytes (single flight)", async () => {
    const gated = gatedCapability();
    const h = startCapability({}, [gated.executor]);
    const calls = Array.from({ length: 8 }, () => h.client.execute(call("gated@0.1.0", { n: 1 })));
    await new Promise((resolve) => setImmediate(resolve));
    gated.state.release();
    const answers = await Promise.all(calls);
    expect(gated.state.executions).toBe(1);
    const bytes = new Set(answers.map((a) => Buffer.from(toBinary(CapabilityExecuteResponseSchema, a)).toString("hex")));
    expect(bytes.size).toBe(1);
    expect(json(answers[0]!.payload)).toEqual({ got: { n: 1 } });
    // Later identical calls are memo hits.
    await h.client.execute(call("gated@0.1.0", { n: 1 }));
    expect(gated.state.executions).toBe(1);
    const text = await h.registry.metrics();
    expect(text).toContain('ccr_capability_executions_total{capability="gated@0.1.0",outcome="ok"} 1');
    expect(text).toContain('ccr_capability_memo_lookups_total{result="hit"} 1');
    expect(text).toContain('ccr_capability_calls_total{capability="gated@0.1.0",outcome="ok"} 9');
  });

  it("keys the memo by workflow, execution, reference, capability — and payload, so a different payload cannot poison it", async () => {
    const gated = gatedCapability();
    gated.state.release();
    const h = startCapability({}, [gated.executor]);
    const poisoned = await h.client.execute(call("gated@0.1.0", { n: "evil" }));
    const honest = await h.client.execute(call("gated@0.1.0", { n: 1 }));
    expect(json(poisoned.payload)).toEqual({ got: { n: "evil" } });
    expect(json(honest.payload)).toEqual({ got: { n: 1 } });
    await h.client.execute(call("gated@0.1.0", { n: 1 }, "ref-2"));
    await h.client.execute(call("gated@0.1.0", { n: 1 }, "ref-1", { executionId: "exec-2" }));
    expect(gated.state.executions).toBe(4);
  });

  it("expires answers after the memo TTL", async () => {
    const gated = gatedCapability();
    gated.state.release();
    const h = startCapability({ memo: { ttlMs: 1_000 } }, [gated.executor]);
    await h.client.execute(call("gated@0.1.0", {}));
    h.clock.advance(999);
    await h.client.execute(call("gated@0.1.0", {}));
    h.clock.advance(1);
    await h.client.execute(call("gated@0.1.0", {}));
    expect(gated.state.executions).toBe(2);
  });

  it("memoizes a capability's own failure as part of the answer", async () => {
    const gated = gatedCapability(() => ({ kind: "failed", error: "gated: upstream said no" }));
    gated.state.release();
    const h = startCapability({}, [gated.executor]);
    const first = await h.client.execute(call("gated@0.1.0", {}));
    const second = await h.client.execute(call("gated@0.1.0", {}));
    expect(first.error).toBe("gated: upstream said no");
    expect(first.payload).toHaveLength(0);
    expect(second).toEqual(first);
    expect(gated.state.executions).toBe(1);
  });

  it("turns an executor bug into a bare Internal that is not memoized", async () => {
    let fail = true;
    const gated = gatedCapability(() => (fail ? new Error("bug: secret detail") : { kind: "ok", payload: Buffer.from("{}") }));
    gated.state.release();
    const h = startCapability({}, [gated.executor]);
    const error = await rejection(h.client.execute(call("gated@0.1.0", {})));
    expect([error.code, error.rawMessage]).toEqual([Code.Internal, "capability gated@0.1.0 failed unexpectedly"]);
    fail = false;
    expect((await h.client.execute(call("gated@0.1.0", {}))).error).toBe("");
    expect(gated.state.executions).toBe(2);
  });
});
