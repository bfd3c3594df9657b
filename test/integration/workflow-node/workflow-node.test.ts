/**
 * The workflow node end to end on real sockets and PGlite: `ccr workflow …` (the CLI function)
 * against the admin API, the artifact store serving what the registry points at, a local workflow
 * (the `hello` example) running in the shared WASM runtime, a confidential one routed to an
 * enclave stand-in that fetches and checks the binary like the real enclave host (and returns relay
 * receipts, whose signers the execution JSON shows), executions in Postgres, and a restart that
 * rebuilds the engines.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkflowCommandContext, runWorkflowCommand, type WorkflowCommandContext } from "../../../src/cli/commands/workflow.js";
import {
  answerSignaturePayload,
  ConfidentialWorkflows,
  type ConfidentialWorkflowRequest,
  ConfidentialWorkflowResponseSchema,
  RelayMethod,
  sdk,
} from "../../../src/contract/index.js";
import { ed25519SignerFromSeed, generateEd25519 } from "../../../src/domain/crypto/ed25519.js";
import { createWorkflowNode, resolveWorkflowNodeOptions, type WorkflowNode } from "../../../src/services/workflow-node/index.js";
import { exampleWasm } from "../../../src/wasm/examples.js";
import { createPgliteTestDatabase, type TestDatabase } from "../../support/databases.js";

const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const ADMIN_TOKEN = "test-admin-token-0123456789";
/** Two relay DON members who sign the stand-in's secret-fetch receipt. */
const RELAY_SIGNERS = [0x51, 0x52].map((b) => ed25519SignerFromSeed(new Uint8Array(32).fill(b)));
const RELAY_SIGNERS_HEX = RELAY_SIGNERS.map((s) => Buffer.from(s.publicKey).toString("hex")).sort();

/** Stands in for the enclave host: fetches the binary from binary_url and checks its SHA-256 first. */
function enclaveStandIn() {
  const requests: ConfidentialWorkflowRequest[] = [];
  const fetchedHashes: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ConfidentialWorkflows, {
      async execute(request) {
        requests.push(request);
        const execution = request.execution!;
        const binary = new Uint8Array(await (await fetch(execution.binaryUrl)).arrayBuffer());
        const actual = createHash("sha256").update(binary).digest();
        fetchedHashes.push(actual.toString("hex"));
        if (!actual.equals(Buffer.from(execution.binaryHash))) {
          throw new ConnectError("binary hash mismatch", Code.FailedPrecondition);
        }
        const execute = fromBinary(sdk.ExecuteRequestSchema, execution.executeRequest);
        const result =
          execute.request.case === "subscribe"
            ? create(sdk.ExecutionResultSchema, {
                result: { case: "triggerSubscriptions", value: { subscriptions: [{ id: "manual-trigger@1.0.0", method: "Trigger", payload: new TextEncoder().encode("{}") }] } },
              })
            : create(sdk.ExecutionResultSchema, { result: { case: "value", value: { kind: { case: "stringValue", value: `digest-of-${request.vaultDonSecrets[0]?.key}` } } } });
        // A trigger's secret fetch went through the relay: one receipt, signed by RELAY_SIGNERS.
        const resultHash = createHash("sha256").update(`answer for ${execution.executionId}`).digest();
        const relayReceipts =
          execute.request.case === "subscribe"
            ? []
            : [
                {
                  method: RelayMethod.getSecrets,
                  requestId: `enc-${execution.executionId.slice(0, 8)}`,
                  certificate: { resultHash, signatures: RELAY_SIGNERS.map((s) => ({ signer: s.publicKey, signature: s.sign(answerSignaturePayload(resultHash)) })) },
                },
              ];
        return create(ConfidentialWorkflowResponseSchema, { executionResult: toBinary(sdk.ExecutionResultSchema, result), relayReceipts });
      },
      info() {
        throw new ConnectError("not used", Code.Unimplemented);
      },
    });
  });
  return { client: createClient(ConfidentialWorkflows, transport), requests, fetchedHashes };
}

describe("workflow node over real sockets", () => {
  let database: TestDatabase;
  let node: WorkflowNode;
  let adminUrl: string;
  const enclave = enclaveStandIn();
  const { signer } = generateEd25519();
  const options = resolveWorkflowNodeOptions({ syncIntervalMs: 3_600_000, adminToken: ADMIN_TOKEN, executionTimeoutMs: 20_000 });

  const startNode = async (port = 0): Promise<void> => {
    node = createWorkflowNode({ db: database.db, options: { ...options, artifactPort: port }, signer, confidentialClient: enclave.client });
    adminUrl = (await node.start()).artifactUrl;
  };

  beforeAll(async () => {
    database = await createPgliteTestDatabase();
    await startNode();
  });

  afterAll(async () => {
    await node?.close();
    await database?.dispose();
  });

  async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const ctx: WorkflowCommandContext = createWorkflowCommandContext({
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      adminUrl,
      adminToken: ADMIN_TOKEN,
      defaultOwner: OWNER,
    });
    const code = await runWorkflowCommand(argv, ctx);
    return { code, stdout, stderr };
  }

  let helloId = "";
  let digestId = "";

  it("deploys the hello example, which runs locally, and `trigger --wait --json` prints its final record as one JSON line", async () => {
    const deployed = await cli("deploy", "hello", "--name", "hello", "--config-json", '{"greeting":"hi from the test"}', "--json");
    expect(deployed.stderr).toBe("");
    expect(deployed.code).toBe(0);
    const answer = JSON.parse(deployed.stdout) as { result: string; workflow: { workflowId: string; engine: string; confidential: boolean } };
    expect(answer.result).toBe("created");
    expect(answer.workflow).toMatchObject({ engine: "running", confidential: false });
    helloId = answer.workflow.workflowId;

    const triggered = await cli("trigger", helloId, "--wait", "--json");
    expect(triggered.code).toBe(0);
    expect(triggered.stdout.endsWith("\n")).toBe(true);
    expect(triggered.stdout.trim().split("\n")).toHaveLength(1);
    const record = JSON.parse(triggered.stdout) as Record<string, unknown>;
    expect(record).toMatchObject({ workflowId: helloId, status: "succeeded", result: "hi from the test", error: null, triggerKind: "manual", signers: [] });
    expect(record["executionId"]).toMatch(/^[0-9a-f]{64}$/);
    expect(typeof record["durationMs"]).toBe("number");
    expect(enclave.requests).toHaveLength(0);
  });

  it("routes a confidential deploy to the enclave, which fetches the binary from the artifact store and finds the hash it was sent", async () => {
    const deployed = await cli(
      "deploy",
      "secret-digest",
      "--name",
      "digest",
      "--config-json",
      '{"secret":"API_KEY"}',
      "--confidential",
      "--secret",
      "API_KEY",
      "--secret",
      "SIGNING_KEY:custom-ns",
      "--json",
    );
    expect(deployed.code).toBe(0);
    const answer = JSON.parse(deployed.stdout) as { workflow: { workflowId: string; engine: string; confidential: boolean; attributes: string } };
    expect(answer.workflow).toMatchObject({ engine: "running", confidential: true });
    expect(answer.workflow.attributes).toBe('{"confidential":true,"vault_don_secrets":[{"key":"API_KEY"},{"key":"SIGNING_KEY","namespace":"custom-ns"}]}');
    digestId = answer.workflow.workflowId;

    const triggered = await cli("trigger", digestId, "--wait", "--json");
    expect(triggered.code).toBe(0);
    const record = JSON.parse(triggered.stdout) as { executionId: string };
    expect(record).toMatchObject({ status: "succeeded", result: "digest-of-API_KEY", signers: RELAY_SIGNERS_HEX });
    // Read back from the database through the admin API, as `ccr workflow executions --json` shows it.
    const listed = JSON.parse((await cli("executions", digestId, "--json")).stdout) as { executions: Array<{ executionId: string; signers: string[] }> };
    expect(listed.executions.map((e) => [e.executionId, e.signers])).toEqual([[record.executionId, RELAY_SIGNERS_HEX]]);
    const trigger = enclave.requests.at(-1)!;
    expect(trigger.vaultDonSecrets.map((s) => [s.key, s.namespace])).toEqual([
      ["API_KEY", "main"],
      ["SIGNING_KEY", "custom-ns"],
    ]);
    const served = new Uint8Array(await (await fetch(trigger.execution!.binaryUrl)).arrayBuffer());
    expect(served).toEqual(await exampleWasm("secret-digest"));
    expect(Buffer.from(trigger.execution!.binaryHash).toString("hex")).toBe(createHash("sha256").update(served).digest("hex"));
    expect(enclave.fetchedHashes.every((h) => h === enclave.fetchedHashes[0])).toBe(true);
  });

  it("lists workflows and executions", async () => {
    const listed = await cli("list", "--json");
    expect(listed.code).toBe(0);
    const workflows = (JSON.parse(listed.stdout) as { workflows: Array<{ workflowId: string; name: string; engine: string }> }).workflows;
    expect(workflows.map((w) => [w.name, w.engine])).toEqual([
      ["hello", "running"],
      ["digest", "running"],
    ]);
    const human = await cli("list");
    expect(human.stdout).toContain(`${helloId}  hello/latest  active  local  engine running`);
    expect(human.stdout).toContain(`${digestId}  digest/latest  active  confidential  engine running`);

    await cli("trigger", helloId, "--wait");
    const executions = await cli("executions", helloId, "--json");
    const records = (JSON.parse(executions.stdout) as { executions: Array<{ status: string; workflowId: string }> }).executions;
    expect(records).toHaveLength(2);
    expect(records.every((r) => r.status === "succeeded" && r.workflowId === helloId)).toBe(true);
  });

  it("pause stops the engine, triggering then fails, activate brings it back", async () => {
    const paused = await cli("pause", helloId);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toBe(`paused ${helloId} (engine stopped)\n`);
    const refused = await cli("trigger", helloId, "--wait");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`workflow ${helloId} has no running engine on this node`);
    const activated = await cli("activate", helloId, "--json");
    expect(JSON.parse(activated.stdout)).toMatchObject({ changed: true, workflow: { status: "active", engine: "running" } });
    expect((await cli("trigger", helloId, "--wait", "--json")).code).toBe(0);
  });

  it("rebuilds the engines after a restart, and keeps the execution history", async () => {
    // Registered binary URLs name the artifact store's address, so it comes back on the same port
    // (as under `ccr up`, whose ports are fixed).
    const port = Number(new URL(adminUrl).port);
    await node.close();
    await startNode(port);
    const listed = JSON.parse((await cli("list", "--json")).stdout) as { workflows: Array<{ engine: string }> };
    expect(listed.workflows.map((w) => [w.engine, (w as { lastError?: string }).lastError])).toEqual([["running", null], ["running", null]]);
    const again = JSON.parse((await cli("trigger", helloId, "--wait", "--json")).stdout) as { status: string };
    expect(again.status).toBe("succeeded");
    const history = JSON.parse((await cli("executions", helloId, "--json")).stdout) as { executions: unknown[] };
    expect(history.executions).toHaveLength(4);
  });

  it("deletes a workflow", async () => {
    const deleted = await cli("delete", digestId);
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted ${digestId}\n` });
    expect(node.engines.has(digestId)).toBe(false);
    const gone = await cli("pause", digestId);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("does not exist (WorkflowDoesNotExist) (not_found)");
  });

  it("deploys a .wasm file from disk with a config file, keeping other versions alive on request", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ccr-workflow-cli-"));
    try {
      await writeFile(join(dir, "hello.wasm"), await exampleWasm("hello"));
      await writeFile(join(dir, "config.json"), '{"greeting":"from a file"}');
      const deployed = await cli("deploy", join(dir, "hello.wasm"), "--name", "hello", "--tag", "v2", "--config", join(dir, "config.json"), "--keep-alive");
      expect(deployed.code).toBe(0);
      expect(deployed.stdout).toMatch(/^created [0-9a-f]{64}\n {2}0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\/hello\/v2 {2}active {2}local {2}engine running\n$/);
      const id = deployed.stdout.slice("created ".length, "created ".length + 64);
      expect(JSON.parse((await cli("trigger", id, "--wait", "--json")).stdout)).toMatchObject({ result: "from a file" });
      expect((await cli("list", "--json")).stdout).toContain(`"workflowId":"${helloId}"`); // v1 still listed
      expect((await cli("deploy", "no-such-example", "--name", "x")).stderr).toContain('no example "no-such-example"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses usage errors before calling the node, and admin calls without the token", async () => {
    const secretWithoutConfidential = await cli("deploy", "hello", "--name", "x", "--secret", "API_KEY");
    expect(secretWithoutConfidential.code).toBe(2);
    expect(secretWithoutConfidential.stderr).toContain("--secret needs --confidential");
    expect((await cli("deploy", "hello")).stderr).toContain("deploy needs --name");
    expect((await cli("frobnicate")).code).toBe(2);

    const anonymous = await fetch(`${adminUrl}/admin/v1/workflows`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("unauthenticated");
    // Artifacts stay open: the enclave host fetches them without credentials.
    expect((await fetch(`${adminUrl}/artifacts/${"0".repeat(64)}`)).status).toBe(404);
  });
});
