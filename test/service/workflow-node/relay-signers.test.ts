/**
 * Who vouched for a confidential execution (issue 8): the enclave's relay receipts reach the
 * execution record through ConfidentialModule → ExecutionHelper.recordRelaySigners → the engine →
 * `workflow_executions.relay_signers`, and the admin API's execution view shows them as `signers`.
 * Only signers whose signature verifies over the receipt's result hash are recorded; a local
 * workflow's executions have none.
 */
import { createHash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  answerSignaturePayload,
  ConfidentialWorkflowResponseSchema,
  ConfidentialWorkflows,
  RelayMethod,
  RelayReceiptSchema,
  sdk,
  type RelayReceipt,
} from "../../../src/contract/index.js";
import { ed25519SignerFromSeed, generateEd25519, type Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import { executionView } from "../../../src/services/workflow-node/artifact-server.js";
import { ConfidentialModule } from "../../../src/services/workflow-node/confidential-module.js";
import type { ExecutionHelper, WorkflowNodeLogger } from "../../../src/services/workflow-node/module.js";
import { MAX_RELAY_RECEIPTS } from "../../../src/services/workflow-node/relay-signers.js";
import { errorResult } from "./support/fake-module.js";
import { createHarness } from "./support/harness.js";

const [A, B, C, D] = [1, 2, 3, 4].map((i) => ed25519SignerFromSeed(new Uint8Array(32).fill(i))) as [Ed25519Signer, Ed25519Signer, Ed25519Signer, Ed25519Signer];
const hex = (s: Ed25519Signer): string => Buffer.from(s.publicKey).toString("hex");
const sorted = (...signers: Ed25519Signer[]): string[] => signers.map(hex).sort();

let nextHash = 0;

/** A receipt signed by `signers` over a fresh result hash; `forged` signers sign something else. */
function receipt(method: string, signers: readonly Ed25519Signer[], forged: readonly Ed25519Signer[] = []): RelayReceipt {
  const resultHash = createHash("sha256").update(`result-${nextHash++}`).digest();
  const signatures = [
    ...signers.map((s) => ({ signer: s.publicKey, signature: s.sign(answerSignaturePayload(resultHash)) })),
    ...forged.map((s) => ({ signer: s.publicKey, signature: s.sign(answerSignaturePayload(new Uint8Array(32))) })),
  ].sort((a, b) => Buffer.compare(a.signer, b.signer));
  return create(RelayReceiptSchema, { method, requestId: `enc-${nextHash}`, certificate: { resultHash, signatures } });
}

function helper(executionId: string, reported: string[][]): ExecutionHelper {
  return {
    getWorkflowExecutionId: () => executionId,
    callCapability: async () => create(sdk.CapabilityResponseSchema),
    getSecrets: async () => [],
    getNodeTimeMs: () => 0,
    emitUserLog: () => undefined,
    recordRelaySigners: (signers) => void reported.push([...signers]),
  };
}

function capturingLogger(lines: Array<{ fields: object; message: string }>): WorkflowNodeLogger {
  const logger: WorkflowNodeLogger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (fields, message) => void lines.push({ fields, message }),
    error: () => undefined,
    child: () => logger,
  };
  return logger;
}

function moduleAnswering(receipts: RelayReceipt[], logger?: WorkflowNodeLogger) {
  const transport = createRouterTransport(({ service }) => {
    service(ConfidentialWorkflows, {
      execute: () =>
        create(ConfidentialWorkflowResponseSchema, {
          executionResult: toBinary(sdk.ExecutionResultSchema, create(sdk.ExecutionResultSchema, { result: { case: "value", value: { kind: { case: "stringValue", value: "ok" } } } })),
          relayReceipts: receipts,
        }),
      info: () => {
        throw new ConnectError("not used", Code.Unimplemented);
      },
    });
  });
  return new ConfidentialModule({
    client: createClient(ConfidentialWorkflows, transport),
    binaryUrl: "https://example.com/binary.wasm",
    binaryHash: new Uint8Array(32),
    workflowId: "ab".repeat(32),
    workflowOwner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    workflowName: "w",
    workflowTag: "v1",
    vaultDonSecrets: [{ key: "API_KEY", namespace: "" }],
    signer: generateEd25519().signer,
    ...(logger === undefined ? {} : { logger }),
  });
}

const EXEC_ID = "ee".repeat(32);
const execReq = create(sdk.ExecuteRequestSchema, { config: new TextEncoder().encode("c") });

describe("ConfidentialModule reports the receipts' signers", () => {
  it("distinct, sorted hex of every signer whose signature verifies, reported once with the result", async () => {
    const reported: string[][] = [];
    const module = moduleAnswering([
      receipt(RelayMethod.getSecrets, [C, A]),
      receipt(RelayMethod.executeCapability, [A, B]),
      receipt(RelayMethod.getSecrets, [B, C]), // an agreed RelayError's receipt looks the same
    ]);
    const result = await module.execute(execReq, helper(EXEC_ID, reported));
    expect(result.result.case).toBe("value");
    expect(reported).toEqual([sorted(A, B, C)]);
  });

  it("leaves out a signer whose signature does not verify over its receipt's result hash, and warns", async () => {
    const reported: string[][] = [];
    const warnings: Array<{ fields: object; message: string }> = [];
    const module = moduleAnswering([receipt(RelayMethod.getSecrets, [A, B], [D])], capturingLogger(warnings));
    const result = await module.execute(execReq, helper(EXEC_ID, reported));
    expect(result.result.case).toBe("value"); // receipts never change the result
    expect(reported).toEqual([sorted(A, B)]);
    expect(warnings).toEqual([expect.objectContaining({ fields: expect.objectContaining({ invalidSignatures: 1, ignoredReceipts: 0 }) })]);
  });

  it(`reads at most ${MAX_RELAY_RECEIPTS} receipts (the contract's bound)`, async () => {
    const reported: string[][] = [];
    const receipts = Array.from({ length: MAX_RELAY_RECEIPTS }, () => receipt(RelayMethod.executeCapability, [A]));
    receipts.push(receipt(RelayMethod.executeCapability, [D]));
    await moduleAnswering(receipts).execute(execReq, helper(EXEC_ID, reported));
    expect(reported).toEqual([sorted(A)]);
  });

  it("reports none when the execution used no relay answer", async () => {
    const reported: string[][] = [];
    await moduleAnswering([]).execute(execReq, helper(EXEC_ID, reported));
    expect(reported).toEqual([[]]);
  });
});

describe("the signers reach the execution record and the admin view", () => {
  it("a confidential execution records its signers; a local one records none", async () => {
    const h = createHarness();
    const confidential = h.register({ attributes: '{"confidential":true,"vault_don_secrets":[{"key":"API_KEY"}]}' });
    const local = h.register();
    await h.syncer.tick();
    h.enclave.receipts = [receipt(RelayMethod.getSecrets, [B, A]), receipt(RelayMethod.executeCapability, [C, B])];

    const record = await (await h.engines.get(confidential.workflowId)!.engine.trigger()).finished;
    expect(record).toMatchObject({ status: "succeeded", relaySigners: sorted(A, B, C) });
    expect((await h.executions.get(record.id))?.relaySigners).toEqual(sorted(A, B, C));
    const view = executionView(record);
    expect(view.signers).toEqual(sorted(A, B, C));
    // What `ccr workflow trigger --wait --json` and `executions --json` print.
    expect(JSON.parse(JSON.stringify(view))).toMatchObject({ executionId: record.id, status: "succeeded", result: "enclave-output", signers: sorted(A, B, C) });

    const localRecord = await (await h.engines.get(local.workflowId)!.engine.trigger()).finished;
    expect(localRecord).toMatchObject({ status: "succeeded", relaySigners: [] });
    expect(executionView(localRecord).signers).toEqual([]);
  });

  it("a workflow error still records who vouched for the data it failed on", async () => {
    const h = createHarness();
    const wf = h.register({ attributes: '{"confidential":true}' });
    await h.syncer.tick();
    h.enclave.result = errorResult("secret-digest: secret main/API_KEY: relay refused the request (PermissionDenied): denied");
    h.enclave.receipts = [receipt(RelayMethod.getSecrets, [D, C])];
    const record = await (await h.engines.get(wf.workflowId)!.engine.trigger()).finished;
    expect(record).toMatchObject({ status: "failed", relaySigners: sorted(C, D) });
  });

  it("an enclave call that fails records none, with the upstream error text", async () => {
    const h = createHarness();
    const wf = h.register({ attributes: '{"confidential":true}' });
    await h.syncer.tick();
    h.enclave.error = new ConnectError("enclave at capacity", Code.ResourceExhausted);
    const record = await (await h.engines.get(wf.workflowId)!.engine.trigger()).finished;
    expect(record).toMatchObject({ status: "failed", error: "confidential-workflows capability execution failed: enclave at capacity", relaySigners: [] });
  });
});
