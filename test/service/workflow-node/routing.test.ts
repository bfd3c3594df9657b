/**
 * Attribute routing through the one engine-construction path (reference chainlink-workflows.md
 * §4.2–4.4, §7.3 in its PR-era form): confidential workflows go to the enclave (an in-memory
 * ConfidentialWorkflows), the rest run locally; malformed attributes create no engine and retry.
 */
import { createHash } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { sdk } from "../../../src/contract/index.js";
import { WorkflowAuthorizer } from "../../../src/domain/authorization/workflow-authorization.js";
import { OWNER, SOURCE, createHarness } from "./support/harness.js";

describe("confidential vs local routing", () => {
  it("a confidential workflow runs in the enclave: Subscribe and each trigger go there, never to a local module", async () => {
    const h = createHarness();
    const wf = h.register({ attributes: '{"confidential":true,"vault_don_secrets":[{"key":"API_KEY"},{"key":"SIGNING_KEY","namespace":"custom-ns"}]}' });
    const report = await h.syncer.tick();
    expect(report.sources[0]).toMatchObject({ handled: 1, failed: 0 });
    const entry = h.engines.get(wf.workflowId);
    expect(entry?.engine.ready()).toBe(true);
    expect(h.localModules.size).toBe(0);

    const { executionId, finished } = await entry!.engine.trigger({ payload: new TextEncoder().encode('{"price":1}') });
    const record = await finished;
    expect(record).toMatchObject({ status: "succeeded", triggerKind: "manual" });
    expect(new TextDecoder().decode(record.result ?? undefined)).toBe('"enclave-output"');

    const [subscribe, trigger] = h.enclaveRequests;
    expect(h.enclaveRequests).toHaveLength(2);
    const binary = h.artifacts.binaries.get(wf.binaryUrl)!;
    for (const request of [subscribe, trigger]) {
      expect(request?.execution?.workflowId).toBe(wf.workflowId);
      expect(request?.execution?.binaryUrl).toBe(wf.binaryUrl);
      // The hash is the SHA-256 of the artifact bytes exactly as stored.
      expect(Buffer.from(request?.execution?.binaryHash ?? []).equals(createHash("sha256").update(binary).digest())).toBe(true);
      expect(request?.execution?.owner).toBe(OWNER);
    }
    expect(subscribe?.execution?.executionId).toBe("");
    expect(fromBinary(sdk.ExecuteRequestSchema, subscribe!.execution!.executeRequest).request.case).toBe("subscribe");
    expect(trigger?.execution?.executionId).toBe(executionId);
    const triggerRequest = fromBinary(sdk.ExecuteRequestSchema, trigger!.execution!.executeRequest);
    expect(triggerRequest.request.case === "trigger" && new TextDecoder().decode(triggerRequest.request.value.payload)).toBe('{"price":1}');
    expect(new TextDecoder().decode(triggerRequest.config)).toBe(new TextDecoder().decode(h.artifacts.binaries.get(wf.configUrl)));
    expect(trigger?.vaultDonSecrets.map((s) => [s.key, s.namespace])).toEqual([
      ["API_KEY", "main"],
      ["SIGNING_KEY", "custom-ns"],
    ]);
    const authorizer = new WorkflowAuthorizer({ workflowNodeKeys: [h.signer.publicKey], threshold: 1 });
    expect(authorizer.check(trigger?.authorization, { owner: OWNER, workflowId: wf.workflowId, executionId }).kind).toBe("authorized");
  });

  it("a workflow without attributes, or not confidential, runs locally and the enclave never hears of it", async () => {
    const h = createHarness();
    const plain = h.register();
    const explicit = h.register({ attributes: '{"confidential":false}' });
    const odd = h.register({ attributes: '{"enclave":"nitro"}' });
    await h.syncer.tick();
    expect([...h.localModules.keys()].sort()).toEqual([plain.workflowId, explicit.workflowId, odd.workflowId].sort());
    const record = await (await h.engines.get(plain.workflowId)!.engine.trigger()).finished;
    expect(record.status).toBe("succeeded");
    expect(h.localModules.get(plain.workflowId)?.triggerCalls()).toHaveLength(1);
    expect(h.enclaveRequests).toEqual([]);
  });

  it("keys match case-insensitively when routing, as Go does", async () => {
    const h = createHarness();
    const wf = h.register({ attributes: '{"CONFIDENTIAL":true}' });
    await h.syncer.tick();
    expect(h.engines.has(wf.workflowId)).toBe(true);
    expect(h.localModules.size).toBe(0);
    expect(h.enclaveRequests).toHaveLength(1);
  });

  it("a confidential workflow is refused, not run locally, when the node has no enclave endpoint", async () => {
    const h = createHarness({ confidential: false });
    const wf = h.register({ attributes: '{"confidential":true}' });
    const report = await h.syncer.tick();
    expect(report.sources[0]).toMatchObject({ handled: 1, failed: 1 });
    expect(h.engines.has(wf.workflowId)).toBe(false);
    expect(h.localModules.size).toBe(0);
    expect(h.syncer.lastError(wf.workflowId)).toBe(
      `failed to create workflow engine: workflow ${wf.workflowId} is confidential, but this workflow node has no ConfidentialWorkflows endpoint configured; it will not run it outside an enclave`,
    );
  });
});

describe("malformed attributes fail closed", () => {
  it("create no engine, run nothing anywhere, and retry with backoff", async () => {
    const h = createHarness();
    const wf = h.register({ attributes: '{"confidential":"true"}' });
    const good = h.register();
    await h.syncer.tick();

    expect(h.engines.has(wf.workflowId)).toBe(false);
    expect(h.engines.has(good.workflowId)).toBe(true); // one bad workflow does not hold up the others
    expect(h.localModules.has(wf.workflowId)).toBe(false);
    expect(h.enclaveRequests).toEqual([]);
    expect(h.syncer.lastError(wf.workflowId)).toBe(
      "failed to parse workflow attributes: json: cannot unmarshal string into Go struct field WorkflowAttributes.confidential of type bool",
    );
    // The spec (with its attributes) is stored, as upstream: attributes are fixed per workflow id.
    expect(new TextDecoder().decode(h.specs.rows.get(wf.workflowId)?.attributes)).toBe('{"confidential":"true"}');
    const pending = h.syncer.pending(SOURCE).get(wf.workflowId);
    expect(pending).toMatchObject({ retryCount: 1, nextRetryAtMs: h.clock.nowMs() + 24_000 });

    // Before the backoff has passed: not retried.
    h.clock.advance(24_000);
    const deferred = await h.syncer.tick();
    expect(deferred.sources[0]).toMatchObject({ handled: 0, deferred: 1 });
    // After: retried (and failing the same way, so it backs off further).
    h.clock.advance(1);
    const retried = await h.syncer.tick();
    expect(retried.sources[0]).toMatchObject({ handled: 1, failed: 1 });
    expect(h.syncer.pending(SOURCE).get(wf.workflowId)).toMatchObject({ retryCount: 2, nextRetryAtMs: h.clock.nowMs() + 48_000 });
    expect(h.engines.has(wf.workflowId)).toBe(false);
  });

  it("a workflow id that does not match its artifacts creates no engine", async () => {
    const h = createHarness();
    const wf = h.register();
    h.source.workflows.set(wf.workflowId, { ...wf, name: "renamed" });
    await h.syncer.tick();
    expect(h.engines.has(wf.workflowId)).toBe(false);
    expect(h.syncer.lastError(wf.workflowId)).toMatch(/^workflowID mismatch: [0-9a-f]{64} != [0-9a-f]{64}$/);
  });
});
