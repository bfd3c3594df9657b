/**
 * Execute end to end on the in-memory transport (issue 6, "Execute" and "Tests"): validation, the
 * binary checks (hash mismatch, oversize, unreachable), the runtime's limits as the service maps
 * them (trap, time limit, memory blow-up, concurrency cap), the guest cache, and guest logs.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { ConfidentialWorkflowRequestSchema } from "../../../src/contract/index.js";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import { constResultGuest, loopGuest, memoryBlowUpGuest, trapGuest } from "../../fixtures/wasm/modules.js";
import {
  AUTHORIZATION,
  EXECUTION_ID,
  executeRequest,
  hex,
  resultOf,
  sha256,
  startHarness,
  subscribeRequest,
  triggerRequest,
  WORKFLOW_ID,
  type Harness,
} from "./harness.js";

let probe: Uint8Array;
const harnesses: Harness[] = [];

beforeAll(async () => {
  probe = await conformanceGuestWasm();
}, 240_000);

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  harnesses.push(h);
  return h;
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

describe("validation", () => {
  const valid = () => executeRequest({ url: "file:///tmp/x.wasm", hash: new Uint8Array(32) }, triggerRequest({}));

  it.each([
    ["execution field is required", (r: ReturnType<typeof valid>) => (r.execution = undefined)],
    ["workflow_id is required", (r: ReturnType<typeof valid>) => (r.execution!.workflowId = "")],
    ["binary_url is required", (r: ReturnType<typeof valid>) => (r.execution!.binaryUrl = "")],
    ["binary_hash is required", (r: ReturnType<typeof valid>) => (r.execution!.binaryHash = new Uint8Array(0))],
    ["execute_request is required", (r: ReturnType<typeof valid>) => (r.execution!.executeRequest = new Uint8Array(0))],
    ["binary_url must be an http://, https:// or file:// URL", (r: ReturnType<typeof valid>) => (r.execution!.binaryUrl = "ftp://x/y.wasm")],
    ["binary_hash must be 32 bytes (SHA-256), got 20", (r: ReturnType<typeof valid>) => (r.execution!.binaryHash = new Uint8Array(20))],
    ["execute_request is not a serialized ccr.sdk.v1.ExecuteRequest", (r: ReturnType<typeof valid>) => (r.execution!.executeRequest = new Uint8Array([0xff, 0xff]))],
    ["vault_don_secrets[0].key is required", (r: ReturnType<typeof valid>) => (r.vaultDonSecrets = [{ $typeName: "ccr.v1.SecretIdentifier", key: "" }])],
  ])("answers InvalidArgument %j", async (message, mutate) => {
    const h = await harness();
    const request = valid();
    mutate(request);
    const error = await rejection(h.client.execute(request));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe(message);
  });

  it("answers Unavailable before start", async () => {
    const h = await harness({}, { start: false });
    const error = await rejection(h.client.execute(create(ConfidentialWorkflowRequestSchema, {})));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("enclave host is not started");
  });
});

describe("binary", () => {
  it("refuses a binary whose SHA-256 differs from binary_hash, and runs nothing", async () => {
    const h = await harness();
    const bin = h.binary(probe);
    const claimed = sha256("some other binary");
    const error = await rejection(
      h.client.execute(executeRequest({ url: bin.url, hash: claimed }, triggerRequest({ mode: "capability", id: "echo@1.0.0" }), { secrets: [{ key: "API_KEY" }] })),
    );
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe(`binary hash mismatch: expected ${hex(claimed)}, got ${hex(bin.hash)}`);
    // Nothing ran: no secret was fetched, no capability called, no guest executed.
    expect(h.gateway.secretRequests).toHaveLength(0);
    expect(h.gateway.capabilityRequests).toHaveLength(0);
    expect(h.host.stats().guestRuns).toBe(0);
  });

  it("refuses a binary over the size cap without reading it", async () => {
    const h = await harness({ binary: { maxBytes: 1024 } });
    const big = constResultGuest('{"value":1}', { padding: new Uint8Array(4096) });
    const bin = h.binary(big);
    const error = await rejection(h.client.execute(executeRequest(bin, triggerRequest({}))));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe("binary exceeds the enclave's size limit of 1024 bytes");
    expect(h.host.stats().guestRuns).toBe(0);
  });

  it("answers Unavailable for an unreachable URL, naming the host but not the path, query or credentials", async () => {
    const h = await harness();
    // Port 9 on loopback: nothing listens (connection refused).
    const url = "http://user:hunter2@127.0.0.1:9/artifacts/wf/binary.wasm?X-Amz-Signature=deadbeef";
    const error = await rejection(h.client.execute(executeRequest({ url, hash: sha256("x") }, triggerRequest({}))));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toMatch(/^binary unreachable at http:\/\/127\.0\.0\.1:9: /);
    for (const secret of ["hunter2", "deadbeef", "artifacts", "user"]) expect(error.rawMessage).not.toContain(secret);
  });

  it("answers Unavailable for a missing file", async () => {
    const h = await harness();
    const error = await rejection(h.client.execute(executeRequest({ url: "file:///nonexistent/ccr/guest.wasm", hash: sha256("x") }, triggerRequest({}))));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe("binary unreachable at file:///nonexistent/ccr/guest.wasm: ENOENT");
  });

  it("refuses a file outside the configured roots", async () => {
    const h = await harness({ binary: { fileRoots: ["/nonexistent-root"] } });
    const bin = h.binary(probe);
    const error = await rejection(h.client.execute(executeRequest(bin, triggerRequest({ mode: "config" }))));
    expect(error.code).toBe(Code.PermissionDenied);
    expect(error.rawMessage).toContain("is outside the enclave's allowed file roots");
  });

  it("refuses bytes that are not a guest", async () => {
    const h = await harness();
    const bin = h.binary(new Uint8Array(Buffer.from("not wasm at all")));
    const error = await rejection(h.client.execute(executeRequest(bin, triggerRequest({}))));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toMatch(/^invalid workflow binary: /);
  });

  it("keeps the compiled guest by hash: the next execution does not fetch again", async () => {
    const h = await harness();
    const bin = h.binary(probe);
    const first = resultOf((await h.client.execute(executeRequest(bin, triggerRequest({ mode: "config", n: 1 })))).executionResult);
    expect(first.result.case).toBe("value");
    const { rmSync } = await import("node:fs");
    rmSync(bin.path);
    const second = resultOf((await h.client.execute(executeRequest(bin, triggerRequest({ mode: "config", n: 2 })))).executionResult);
    expect(second.result).toMatchObject({ case: "value" });
    expect(h.host.stats()).toMatchObject({ cachedGuests: 1, binaryFetches: 1, guestRuns: 2 });
  });
});

describe("running the guest", () => {
  it("returns the guest's value as a serialized ExecutionResult", async () => {
    const h = await harness();
    const bin = h.binary(probe);
    const res = await h.client.execute(executeRequest(bin, triggerRequest({ mode: "config", answer: 42 })));
    const result = resultOf(res.executionResult);
    expect(result.result.case).toBe("value");
    expect(result.result.case === "value" && result.result.value.kind).toEqual({
      case: "structValue",
      value: expect.objectContaining({ fields: expect.objectContaining({ answer: expect.objectContaining({ kind: { case: "numberValue", value: 42 } }) }) }),
    });
  });

  it("answers the subscribe phase with the guest's subscriptions and fetches no secrets", async () => {
    const h = await harness();
    const bin = h.binary(probe);
    const res = await h.client.execute(executeRequest(bin, subscribeRequest({}), { executionId: "", secrets: [{ key: "API_KEY" }] }));
    const result = resultOf(res.executionResult);
    expect(result.result.case).toBe("triggerSubscriptions");
    expect(h.gateway.secretRequests).toHaveLength(0);
  });

  it("turns a trap into an ExecutionResult error, and keeps serving", async () => {
    const h = await harness();
    const trap = h.binary(trapGuest());
    const result = resultOf((await h.client.execute(executeRequest(trap, triggerRequest({})))).executionResult);
    expect(result.result).toEqual({ case: "error", value: "guest trapped: wasm trap: unreachable" });
    const ok = h.binary(constResultGuest('{"value":"still here"}'));
    const after = resultOf((await h.client.execute(executeRequest(ok, triggerRequest({})))).executionResult);
    expect(after.result.case).toBe("value");
  });

  it("ends an infinite loop at the time limit with DeadlineExceeded", async () => {
    const h = await harness({ executionTimeoutMs: 300 });
    const loop = h.binary(loopGuest());
    const error = await rejection(h.client.execute(executeRequest(loop, triggerRequest({}))));
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(error.rawMessage).toBe("execution exceeded the enclave's time limit of 300 ms");
    // The worker was replaced; the enclave still runs guests.
    const ok = h.binary(constResultGuest('{"value":1}'));
    expect(resultOf((await h.client.execute(executeRequest(ok, triggerRequest({})))).executionResult).result.case).toBe("value");
  });

  it("stops a memory blow-up at the limit, as an ExecutionResult error", async () => {
    const h = await harness({ runtime: { maxWorkers: 1, memoryLimitBytes: 2 * 1024 * 1024 } });
    const blowUp = h.binary(memoryBlowUpGuest());
    const result = resultOf((await h.client.execute(executeRequest(blowUp, triggerRequest({})))).executionResult);
    expect(result.result.case).toBe("error");
    expect(result.result.value).toMatch(/^guest exceeded its memory limit: /);
  });

  it("answers ResourceExhausted 'enclave at capacity' beyond the concurrency limit, without queueing", async () => {
    const h = await harness({ maxConcurrentExecutions: 1 });
    const bin = h.binary(probe);
    let release!: () => void;
    h.gateway.gate = new Promise((r) => (release = r));
    const arrived = h.gateway.nextCall();
    const first = h.client.execute(executeRequest(bin, triggerRequest({ mode: "capability", id: "echo@1.0.0" }, Buffer.from('"held"'))));
    await arrived; // the first execution is inside a capability call
    const error = await rejection(h.client.execute(executeRequest(bin, triggerRequest({ mode: "config" }))));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toBe("enclave at capacity");
    release();
    const result = resultOf((await first).executionResult);
    expect(result.result).toEqual({ case: "value", value: expect.objectContaining({ kind: { case: "stringValue", value: '"held"' } }) });
    // Capacity is back once the first one finished.
    expect(resultOf((await h.client.execute(executeRequest(bin, triggerRequest({ mode: "config" })))).executionResult).result.case).toBe("value");
  });

  it("honours ExecuteRequest.max_response_size", async () => {
    const h = await harness();
    const bin = h.binary(probe);
    const result = resultOf((await h.client.execute(executeRequest(bin, triggerRequest({ mode: "big-result", bytes: 5000 }, undefined, 1000n)))).executionResult);
    expect(result.result.case).toBe("error");
    expect(result.result.value).toMatch(/^guest trapped: the execution result is \d+ bytes, over the limit of 1000 bytes/);
  });
});

describe("guest logs", () => {
  it("go to the host logger with the workflow and execution ids", async () => {
    const h = await harness();
    const bin = h.binary(probe);
    await h.client.execute(executeRequest(bin, triggerRequest({ mode: "log", count: 2 })));
    const lines = h.logLines().filter((l) => l["source"] === "guest");
    expect(lines.map((l) => l["msg"])).toEqual(["line 0", "line 1"]);
    for (const l of lines) expect(l).toMatchObject({ workflowId: WORKFLOW_ID, executionId: EXECUTION_ID, level: 30 });
  });
});

describe("request passthrough", () => {
  it("forwards the workflow node's authorization verbatim", async () => {
    const h = await harness();
    const bin = h.binary(probe);
    await h.client.execute(executeRequest(bin, triggerRequest({ mode: "capability", id: "echo@1.0.0" }, Buffer.from("{}"))));
    expect(h.gateway.capabilityRequests[0]!.authorization).toEqual(AUTHORIZATION);
  });
});
