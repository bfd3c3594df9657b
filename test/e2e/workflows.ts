/**
 * What the end-to-end tests do to a process mesh through its public surfaces: `ccr workflow …` and
 * `ccr demo` as child processes, the workflow node's admin API, the Vault's owner-signed API, and —
 * when the mesh runs on a Postgres server — the `workflow_executions` rows themselves.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { readKeyFile } from "../../src/config/index.js";
import { OwnerSignatureSchema, SecretIdentifierSchema, Vault } from "../../src/contract/index.js";
import { addressOfPrivateKey } from "../../src/domain/ethereum/eip191.js";
import { signOwnerRequest } from "../../src/domain/vault/owner-request.js";
import { createServiceClient } from "../../src/transport/index.js";
import type { ProcessMesh } from "../support/process-mesh.js";

/** An execution as `ccr workflow trigger --wait --json` and the admin API print it. */
export interface ExecutionView {
  readonly executionId: string;
  readonly workflowId: string;
  readonly status: string;
  readonly result: unknown;
  readonly error: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** Hex ed25519 keys of the relay nodes whose quorum certificates the execution used (when the build records them). */
  readonly signers?: readonly string[];
}

/** A `workflow_executions` row as stored (server mode only). */
export interface ExecutionRow {
  readonly id: string;
  readonly workflowId: string;
  readonly status: string;
  readonly resultText: string | null;
  readonly error: string | null;
  readonly finished: boolean;
  /** `relay_signers`, when the schema has that column (migration 0008). */
  readonly signers: readonly string[] | undefined;
}

function lastJsonLine(stdout: string): unknown {
  const line = stdout.trim().split("\n").pop();
  if (line === undefined || line === "") throw new Error("the command printed nothing on stdout");
  return JSON.parse(line);
}

/** `ccr workflow ARGS --dir DIR --json`; returns the JSON it printed and its exit code. */
export async function workflowCommand(mesh: ProcessMesh, args: readonly string[]): Promise<{ code: number | null; json: unknown }> {
  const r = await mesh.ccr(["workflow", ...args, "--dir", mesh.dir, "--json"]);
  let json: unknown;
  try {
    json = lastJsonLine(r.stdout);
  } catch (error) {
    const what = `ccr workflow ${args.join(" ")} (exit ${r.code}) printed no JSON (${(error as Error).message})`;
    throw new Error(`${what}\nstderr:\n${r.stderr}\n${mesh.diagnostics()}`);
  }
  return { code: r.code, json };
}

/** Deploys an example (`ccr workflow deploy`) and returns its workflow id; fails on any refusal. */
export async function deployExample(mesh: ProcessMesh, example: string, args: readonly string[]): Promise<string> {
  const { code, json } = await workflowCommand(mesh, ["deploy", example, ...args]);
  const answer = json as { workflow: { workflowId: string; engine: string; lastError: string | null } };
  if (code !== 0 || answer.workflow.engine !== "running") {
    throw new Error(`deploying ${example} failed (exit ${code}): ${JSON.stringify(answer)}\n${mesh.diagnostics()}`);
  }
  return answer.workflow.workflowId;
}

/** `ccr workflow trigger ID --wait --json`: the execution's final record and the command's exit code. */
export async function triggerAndWait(mesh: ProcessMesh, workflowId: string): Promise<{ code: number | null; record: ExecutionView }> {
  const { code, json } = await workflowCommand(mesh, ["trigger", workflowId, "--wait"]);
  return { code, record: json as ExecutionView };
}

/**
 * The same trigger straight through the admin API the CLI uses (no child process), for bursts that
 * must be in flight at a chosen moment.
 */
export async function triggerViaAdminApi(mesh: ProcessMesh, workflowId: string): Promise<ExecutionView> {
  const response = await fetch(`${mesh.adminUrl}/admin/v1/workflows/${workflowId}/trigger`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ wait: true }),
    signal: AbortSignal.timeout(90_000),
  });
  const body = (await response.json()) as ExecutionView;
  if (!response.ok) throw new Error(`trigger answered HTTP ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/** The execution as the admin API reads it back from the workflow node's database. */
export async function executionFromAdminApi(mesh: ProcessMesh, executionId: string): Promise<ExecutionView> {
  const response = await fetch(`${mesh.adminUrl}/admin/v1/executions/${executionId}`, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`GET execution ${executionId} answered HTTP ${response.status}: ${await response.text()}`);
  return (await response.json()) as ExecutionView;
}

/** The execution's row in Postgres, or undefined on PGlite (only the workflow node can open that). */
export async function executionRow(mesh: ProcessMesh, executionId: string): Promise<ExecutionRow | undefined> {
  if (mesh.database.backend !== "postgres") return undefined;
  const rows = await mesh.database.db.sql<
    {
      id: string;
      workflow_id: string;
      status: string;
      result: Uint8Array | null;
      error: string | null;
      finished_at: Date | null;
      relay_signers?: string[];
    }[]
  >`select * from workflow_executions where id = ${executionId}`;
  const row = rows[0];
  if (row === undefined) throw new Error(`no workflow_executions row for execution ${executionId} in ${mesh.database.url}`);
  return {
    id: row.id,
    workflowId: row.workflow_id,
    status: row.status,
    resultText: row.result === null ? null : Buffer.from(row.result).toString("utf8"),
    error: row.error,
    finished: row.finished_at !== null,
    signers: row.relay_signers === undefined ? undefined : [...row.relay_signers],
  };
}

/** The deployment's demo owner (keys/demo-owner.key), which `ccr workflow` uses by default. */
export function demoOwner(mesh: ProcessMesh): { address: string; key: Uint8Array } {
  const key = readKeyFile(join(mesh.dir, "keys", "demo-owner.key"));
  return { address: addressOfPrivateKey(key), key };
}

/** Stores `value` under namespace/key for the demo owner through the Vault's owner-signed PutSecret. */
export async function putSecret(mesh: ProcessMesh, namespace: string, key: string, value: string): Promise<void> {
  const owner = demoOwner(mesh);
  const bytes = new TextEncoder().encode(value);
  const auth = { nonce: randomBytes(16).toString("hex"), expiresAtMs: Date.now() + 5 * 60_000 };
  const signature = signOwnerRequest(owner.key, { method: "PutSecret", owner: owner.address, namespace, key, value: bytes }, auth);
  // Connect over HTTP/1.1: no pooled HTTP/2 session outlives the call.
  const vault = createServiceClient(Vault, { baseUrl: mesh.url("vault"), protocol: "connect", httpVersion: "1.1" });
  await vault.putSecret({
    owner: owner.address,
    id: create(SecretIdentifierSchema, { key, namespace }),
    value: bytes,
    signature: create(OwnerSignatureSchema, signature),
  });
}
