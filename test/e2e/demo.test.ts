/**
 * Issue 8, "Processes" and "End-to-end tests": the mesh as separate OS processes on loopback
 * (test/support/process-mesh.ts), with `ccr demo` run through it as one more process, and a
 * confidential workflow whose secret comes through F+1 relay nodes and whose execution is recorded
 * in the database (a real Postgres server when DATABASE_URL is set; required in CI).
 */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useProcessMesh, waitFor, type ProcessMesh } from "../support/process-mesh.js";
import { deployExample, executionFromAdminApi, executionRow, putSecret, triggerAndWait, type ExecutionView } from "./workflows.js";

interface DemoResult {
  event: string;
  workflow: string;
  executionId: string;
  status: string;
  value: unknown;
  error: string | null;
  signers: string[];
  ms: number;
  /** secret-digest only: the SHA-256 of the secret the demo stored. */
  expected?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const SECRETS_GET = "confidential.secrets.get";

/** Relay requests of `method` that relay nodes answered with a signed result, summed over the DON. */
async function relayAnswers(mesh: ProcessMesh, method: string): Promise<number> {
  let sum = 0;
  for (const member of mesh.don.members) {
    sum += await mesh.metric(member.name, "ccr_relay_node_requests_total", { method, outcome: "ok" });
  }
  return sum;
}

/**
 * When this build records signers (another change adds them), they must be F+1 or more distinct
 * DON members. Returns whether the record had them.
 */
function checkSigners(mesh: ProcessMesh, record: ExecutionView): boolean {
  if (record.signers === undefined) return false;
  const members = new Set(mesh.don.members.map((m) => m.publicKey));
  expect(new Set(record.signers).size, JSON.stringify(record.signers)).toBe(record.signers.length);
  expect(record.signers.length).toBeGreaterThanOrEqual(mesh.don.f + 1);
  for (const signer of record.signers) expect(members.has(signer), `signer ${signer} is not a DON member`).toBe(true);
  return true;
}

describe("the mesh as separate OS processes", () => {
  const mesh = useProcessMesh();

  it("runs `ccr demo --json` through the running mesh: the secret's digest and the price come back, and both executions are recorded", async () => {
    const m = mesh();
    const demo = await m.ccr(["demo", "--dir", m.dir, "--json"], { timeoutMs: 120_000 });
    expect(demo.code, `ccr demo failed:\n${demo.stderr}\n${m.diagnostics()}`).toBe(0);
    // It used this mesh rather than starting one of its own.
    expect(demo.stderr).not.toContain("no mesh running");

    const results = demo.stdout.trim().split("\n").map((line) => JSON.parse(line) as DemoResult);
    expect(results.map((r) => [r.event, r.workflow, r.status, r.error])).toEqual([
      ["result", "secret-digest", "succeeded", null],
      ["result", "http-price", "succeeded", null],
    ]);
    const [digest, price] = results as [DemoResult, DemoResult];
    // A SHA-256 digest, not the secret (the demo's secrets read "demo-api-key-…").
    expect(digest.value).toMatch(SHA256_HEX);
    // … and the digest of exactly the secret the demo stored through the Vault.
    expect(digest.value).toBe(digest.expected);
    expect(JSON.stringify(results)).not.toContain("demo-api-key-");
    // The local price feed the demo serves answers 4242.17.
    expect(price.value).toBe(4242.17);

    const nameOf = new Map(m.don.members.map((member) => [member.publicKey, member.name]));
    for (const r of results) {
      expect(r.executionId).toMatch(SHA256_HEX);
      // Recorded by the workflow node: the admin API (`ccr workflow executions`) reads its database …
      const view = await executionFromAdminApi(m, r.executionId);
      expect([view.status, view.result, view.error]).toEqual(["succeeded", r.value, null]);
      expect(view.finishedAt).not.toBeNull();
      if (checkSigners(m, view)) {
        // The demo names the nodes that signed: the record's signers, by their DON names.
        expect([...r.signers].sort()).toEqual(view.signers!.map((key) => nameOf.get(key)).sort());
      }
      // … and on a Postgres server, the row itself.
      const row = await executionRow(m, r.executionId);
      if (row !== undefined) {
        expect([row.status, row.error, row.finished]).toEqual(["succeeded", null, true]);
        expect(JSON.parse(row.resultText ?? "null")).toEqual(r.value);
        if (row.signers !== undefined && view.signers !== undefined) expect([...row.signers].sort()).toEqual([...view.signers].sort());
      }
    }
    // `ccr workflow executions` lists it among the workflow's executions.
    const { workflowId } = await executionFromAdminApi(m, digest.executionId);
    const listed = await m.ccr(["workflow", "executions", workflowId, "--dir", m.dir, "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const executions = (JSON.parse(listed.stdout) as { executions: ExecutionView[] }).executions;
    expect(executions.map((e) => [e.executionId, e.status])).toContainEqual([digest.executionId, "succeeded"]);
  }, 150_000);

  it("a confidential workflow gets its secret through F+1 relay nodes and records its digest, never the secret", async () => {
    const m = mesh();
    const secret = `e2e-secret-${randomBytes(12).toString("hex")}`;
    await putSecret(m, "e2e", "API_KEY", secret);
    const workflowId = await deployExample(m, "secret-digest", [
      "--name",
      "e2e-secret-digest",
      "--confidential",
      "--secret",
      "API_KEY:e2e",
      "--config-json",
      JSON.stringify({ secret: "API_KEY", namespace: "e2e" }),
    ]);
    const answersBefore = await relayAnswers(m, SECRETS_GET);

    const { code, record } = await triggerAndWait(m, workflowId);
    expect(code, `${JSON.stringify(record)}\n${m.diagnostics()}`).toBe(0);
    expect(record.status).toBe("succeeded");
    expect(record.result).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(JSON.stringify(record)).not.toContain(secret);
    // F+1 relay nodes (at least) each fetched the secret from the Vault and signed their answer.
    const quorum = m.don.f + 1;
    await waitFor(`${quorum} relay nodes to have answered the secrets request`, async () => (await relayAnswers(m, SECRETS_GET)) >= answersBefore + quorum, {
      timeoutMs: 10_000,
    });
    checkSigners(m, record);

    const row = await executionRow(m, record.executionId);
    if (row !== undefined) {
      expect([row.workflowId, row.status, row.error, row.finished]).toEqual([workflowId, "succeeded", null, true]);
      expect(row.resultText).toBe(JSON.stringify(record.result));
      if (row.signers !== undefined && record.signers !== undefined) expect([...row.signers].sort()).toEqual([...record.signers].sort());
      // The Vault keeps the secret encrypted: its plaintext is in no row.
      const sql = m.database.backend === "postgres" ? m.database.db.sql : undefined;
      const stored = await sql!<{ n: number }[]>`
        select count(*)::int as n from vault_secrets where namespace = 'e2e' and key = 'API_KEY'`;
      expect(stored[0]!.n).toBe(1);
      const plaintext = await sql!<{ n: number }[]>`
        select count(*)::int as n from vault_secrets where position(convert_to(${secret}, 'UTF8') in ciphertext) > 0`;
      expect(plaintext[0]!.n).toBe(0);
    }
    for (const name of m.names) expect(m.logs(name), `${name} logged the secret`).not.toContain(secret);
  }, 90_000);
});
