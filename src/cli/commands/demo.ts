/**
 * `ccr demo [--dir .ccr] [--json] [--base-port N]`: proves the confidential path end to end against a
 * running mesh, or one it starts itself:
 *   1. stores a secret for the demo owner through the Vault's owner-signed API;
 *   2. deploys the secret-digest and http-price examples as confidential workflows;
 *   3. triggers them and waits;
 *   4. prints each result, which relay nodes signed the quorum certificates, and timings.
 * Progress goes to stderr; stdout carries the results (with --json, one line per execution).
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { loadConfig, meshSection, readDonFile, readKeyFile, serverSection, vaultSection, type DonFile } from "../../config/index.js";
import { OwnerSignatureSchema, SecretIdentifierSchema, Vault } from "../../contract/index.js";
import { addressOfPrivateKey } from "../../domain/ethereum/eip191.js";
import { signOwnerRequest } from "../../domain/vault/owner-request.js";
import { createLogger, createServiceClient } from "../../transport/index.js";
import type { CommandIo } from "../io.js";
import { startMesh, type RunningMesh } from "../mesh.js";
import { DeploymentPaths } from "./init.js";
import { createWorkflowCommandContext, runWorkflowCommand } from "./workflow.js";
import { workflowAdminTarget } from "./workflow-target.js";

const USAGE = `Usage: ccr demo [--dir DIR] [--json] [--base-port N]

Runs a confidential workflow end to end: stores a secret through the Vault's owner-signed API, deploys
the secret-digest and http-price examples as confidential workflows, triggers them, and prints each
result with the relay nodes that signed its quorum certificates. Uses the mesh running from DIR
(default .ccr), or starts one (ccr up) for the duration of the demo.
`;

export interface DemoResult {
  readonly event: "result";
  readonly workflow: string;
  readonly executionId: string;
  readonly status: string;
  readonly value: unknown;
  readonly error: string | null;
  readonly signers: readonly string[];
  readonly ms: number;
  /** secret-digest only: the SHA-256 of the secret the demo stored, which the value must equal. */
  readonly expected?: string;
}

interface ExecutionRecord {
  executionId: string;
  status: string;
  result: unknown;
  error: string | null;
  durationMs: number | null;
  signers?: string[];
}

/** Runs a `ccr workflow` command and returns the JSON it printed (commands are run with --json). */
async function workflowJson(args: string[], target: ReturnType<typeof workflowAdminTarget>["context"], io: CommandIo): Promise<unknown> {
  let out = "";
  const code = await runWorkflowCommand([...args, "--json"], createWorkflowCommandContext({ ...target, stdout: (t) => (out += t), stderr: io.stderr }));
  if (code !== 0) throw new Error(`ccr workflow ${args[0]} failed (exit ${code})`);
  return JSON.parse(out.trim().split("\n").pop() ?? "null");
}

async function reachable(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/admin/v1/workflows`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

/** A local price feed for the http-price example (the capability's allowlist admits 127.0.0.1). */
async function startPriceFeed(price: number): Promise<{ url: string; server: Server }> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ symbol: "ETH-USD", price }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("price feed did not bind");
  return { url: `http://127.0.0.1:${address.port}/price.json`, server };
}

export async function runDemo(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: "string", default: ".ccr" },
        json: { type: "boolean", default: false },
        "base-port": { type: "string", default: "7400" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    io.stderr(`ccr demo: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const say = (message: string) => io.stderr(`ccr demo: ${message}\n`);
  const dir = values.dir;
  let mesh: RunningMesh | undefined;
  let feed: { url: string; server: Server } | undefined;
  try {
    let target = existsSync(join(dir, DeploymentPaths.don)) ? workflowAdminTarget(["--dir", dir]) : undefined;
    if (target === undefined || !(await reachable(target.context.adminUrl))) {
      say(`no mesh running from ${dir}; starting one (this takes a few seconds)`);
      const basePort = Number(values["base-port"]);
      if (!Number.isInteger(basePort) || basePort < 0 || basePort > 65000) throw new Error(`--base-port must be an integer 0–65000, got "${values["base-port"]}"`);
      const meshConfig = loadConfig({ mesh: meshSection, server: serverSection }, {});
      mesh = await startMesh({
        dir,
        basePort,
        nodes: 4,
        f: 1,
        host: "127.0.0.1",
        databaseUrl: meshConfig.mesh.databaseUrl,
        logger: () => createLogger({ level: meshConfig.server.logLevel === "info" ? "warn" : meshConfig.server.logLevel }),
        progress: say,
      });
      target = workflowAdminTarget(["--dir", dir, "--node", mesh.endpoints.workflowNode]);
    }
    const don: DonFile = readDonFile(join(dir, DeploymentPaths.don));
    const memberName = new Map(don.members.map((m) => [m.publicKey, m.name]));
    const ownerKey = readKeyFile(join(dir, DeploymentPaths.demoOwnerKey));
    const owner = addressOfPrivateKey(ownerKey);
    const vaultUrl =
      mesh?.endpoints.vault ??
      (() => {
        const c = loadConfig({ server: serverSection, vault: vaultSection }, { file: join(dir, DeploymentPaths.config("vault")) });
        return `http://${c.server.host}:${c.server.port}`;
      })();

    // 1. A secret, written with the owner's EIP-191 signature. The demo knows it only to show that the
    //    enclave's digest matches; the workflow never returns the secret itself.
    const secret = `demo-api-key-${randomBytes(8).toString("hex")}`;
    const value = new TextEncoder().encode(secret);
    const expectedDigest = createHash("sha256").update(value).digest("hex");
    const auth = { nonce: randomBytes(16).toString("hex"), expiresAtMs: Date.now() + 5 * 60_000 };
    const signature = signOwnerRequest(ownerKey, { method: "PutSecret", owner, namespace: "main", key: "API_KEY", value }, auth);
    const vault = createServiceClient(Vault, { baseUrl: vaultUrl, protocol: "grpc" });
    const put = await vault.putSecret({
      owner,
      id: create(SecretIdentifierSchema, { key: "API_KEY", namespace: "main" }),
      value,
      signature: create(OwnerSignatureSchema, signature),
    });
    say(`stored secret main/API_KEY (version ${put.version}) for owner ${owner}`);

    // 2. The two examples, confidential.
    feed = await startPriceFeed(4242.17);
    const deployments: Array<{ name: string; args: string[] }> = [
      { name: "secret-digest", args: ["deploy", "secret-digest", "--name", "demo-secret-digest", "--confidential", "--secret", "API_KEY", "--owner", owner] },
      {
        name: "http-price",
        args: ["deploy", "http-price", "--name", "demo-http-price", "--confidential", "--owner", owner, "--config-json", JSON.stringify({ url: feed.url, field: "price" })],
      },
    ];
    const results: DemoResult[] = [];
    for (const d of deployments) {
      const deployed = (await workflowJson(d.args, target.context, io)) as { workflowId: string };
      say(`deployed ${d.name} as confidential workflow ${deployed.workflowId.slice(0, 16)}…`);
      // 3. Trigger and wait for the final record.
      const started = performance.now();
      const record = (await workflowJson(["trigger", deployed.workflowId, "--wait", "--owner", owner], target.context, io)) as ExecutionRecord;
      const ms = Math.round(performance.now() - started);
      const signers = (record.signers ?? []).map((key) => memberName.get(key) ?? key);
      results.push({
        event: "result",
        workflow: d.name,
        executionId: record.executionId,
        status: record.status,
        value: record.result,
        error: record.error,
        signers,
        ms,
        ...(d.name === "secret-digest" ? { expected: expectedDigest } : {}),
      });
    }

    // 4. Report.
    for (const r of results) {
      if (values.json) {
        io.stdout(`${JSON.stringify(r)}\n`);
        continue;
      }
      io.stdout(
        `${r.workflow}: ${r.status === "succeeded" ? JSON.stringify(r.value) : `FAILED: ${r.error ?? "unknown error"}`}\n` +
          `  execution ${r.executionId}\n` +
          `  quorum certificates signed by ${r.signers.length > 0 ? r.signers.join(", ") : "(no relay calls)"}\n` +
          `  ${r.ms} ms end to end\n`,
      );
    }
    if (!values.json) {
      io.stdout(`(expected secret digest ${expectedDigest}; the secret itself never left the enclave)\n`);
    }
    // The demo proves the path: a wrong digest is a failure, not just an odd value.
    const digest = results.find((r) => r.workflow === "secret-digest");
    const digestOk = digest === undefined || digest.status !== "succeeded" || digest.value === expectedDigest;
    if (!digestOk) {
      io.stderr(`ccr demo: secret-digest answered ${JSON.stringify(digest?.value)}, but the stored secret's SHA-256 is ${expectedDigest}\n`);
    }
    return results.every((r) => r.status === "succeeded") && digestOk ? 0 : 1;
  } catch (error) {
    io.stderr(`ccr demo: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    feed?.server.close();
    if (mesh !== undefined) {
      say("stopping the mesh it started");
      await mesh.close();
    }
  }
}
