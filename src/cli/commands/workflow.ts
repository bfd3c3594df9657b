/**
 * `ccr workflow deploy|pause|activate|delete|list|trigger|executions` (issue 7, "CLI").
 *
 * The commands talk to a running workflow node through its admin API (JSON over HTTP on the
 * artifact store's port; src/services/workflow-node/artifact-server.ts). Why not the database
 * directly: the default database is PGlite in the deployment directory, which only the running
 * node can open, and manual triggers need the running engine anyway. The caller (the CLI's
 * composition root) supplies the admin URL, e.g. from `ccr up`'s ready line or a `--node URL` flag.
 *
 *   deploy <file.wasm|example> --name NAME [--config FILE | --config-json JSON] [--tag TAG]
         (an example without --config uses examples/<name>/config.json)
 *          [--owner 0x…] [--confidential] [--secret KEY[:NAMESPACE]]… [--keep-alive] [--paused] [--json]
 *   pause|activate|delete <workflow-id> [--owner 0x…] [--json]
 *   list [--owner 0x…] [--json]
 *   trigger <workflow-id> [--input JSON] [--subscription N] [--wait] [--json]
 *   executions <workflow-id> [--limit N] [--json]
 *
 * `--confidential` writes the attributes {"confidential":true}; each `--secret KEY[:NAMESPACE]` adds
 * {"key":KEY[,"namespace":NAMESPACE]} to "vault_don_secrets" (the enclave fetches them before the
 * guest runs; no namespace means "main"). Secrets need `--confidential`: an ordinary workflow never
 * receives secrets. `trigger --wait --json` prints the execution's final record as one JSON line
 * and exits 0 only if it succeeded.
 *
 * Exit codes: 0 done, 1 the node refused or the execution did not succeed, 2 bad usage.
 */
import { readFile } from "node:fs/promises";
import { encodeWorkflowAttributes, type SecretIdentifier } from "../../domain/workflow/attributes.js";

export interface WorkflowCommandContext {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The workflow node's admin/artifact base URL, e.g. http://127.0.0.1:7410. */
  readonly adminUrl: string;
  /** Sent as `Authorization: Bearer …` when the node has an admin token. */
  readonly adminToken?: string;
  readonly fetch: typeof fetch;
  readonly readFile: (path: string) => Promise<Uint8Array>;
  /** The compiled `.wasm` of an example workflow in examples/ (e.g. "hello"). */
  readonly buildExample: (name: string) => Promise<Uint8Array>;
  /** The example's own config.json, used when an example is deployed without --config. */
  readonly exampleConfig?: (name: string) => Promise<Uint8Array>;
  /** The owner used when `--owner` is not given. */
  readonly defaultOwner?: string;
}

/**
 * The usual context: files from disk, examples compiled on demand (src/wasm/examples.ts, loaded
 * only when an example is deployed), the global fetch. The composition root supplies where the
 * node is (e.g. from `ccr up`'s ready line or config) and the output streams.
 */
export function createWorkflowCommandContext(input: {
  readonly adminUrl: string;
  readonly adminToken?: string;
  readonly defaultOwner?: string;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}): WorkflowCommandContext {
  return {
    ...input,
    fetch,
    readFile: async (path) => new Uint8Array(await readFile(path)),
    buildExample: async (name) => {
      const { exampleWasm, isExampleName, exampleNames } = await import("../../wasm/examples.js");
      if (!isExampleName(name)) throw new Error(`no example "${name}" (examples: ${exampleNames.join(", ")}; or give a path to a .wasm file)`);
      return exampleWasm(name);
    },
    exampleConfig: async (name) => (await import("../../wasm/examples.js")).exampleConfig(name),
  };
}

export const WORKFLOW_USAGE = `usage: ccr workflow <command> [options]

  deploy <file.wasm|example> --name NAME [--config FILE | --config-json JSON] [--tag TAG]
         (an example without --config uses examples/<name>/config.json)
         [--owner 0x…] [--confidential] [--secret KEY[:NAMESPACE]]… [--keep-alive] [--paused] [--json]
      register a workflow (a .wasm file, or the name of an example in examples/)
  pause <workflow-id> [--owner 0x…] [--json]        stop its engine; the registry keeps it
  activate <workflow-id> [--owner 0x…] [--json]     start it again
  delete <workflow-id> [--owner 0x…] [--json]       remove it from the registry
  list [--owner 0x…] [--json]                       registered workflows and their engines
  trigger <workflow-id> [--input JSON] [--subscription N] [--wait] [--json]
      fire its manual trigger (or subscription N); --wait prints the final execution record
  executions <workflow-id> [--limit N] [--json]      its latest executions, newest first

  --confidential          run only inside the enclave (attributes {"confidential":true})
  --secret KEY[:NS]       a secret the enclave fetches for it (repeatable; needs --confidential)
  --keep-alive            keep other active versions of the same name running
`;

class UsageError extends Error {}

interface ParsedArgs {
  readonly positionals: string[];
  readonly values: Map<string, string[]>;
  readonly flags: Set<string>;
}

const VALUE_FLAGS = new Set(["--name", "--config", "--config-json", "--tag", "--owner", "--secret", "--input", "--subscription", "--limit"]);
const BOOLEAN_FLAGS = new Set(["--confidential", "--keep-alive", "--paused", "--wait", "--json", "--help", "-h"]);
const SECRET_PART = /^[A-Za-z0-9_.-]{1,128}$/;

export async function runWorkflowCommand(argv: readonly string[], ctx: WorkflowCommandContext): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === "help" || command === "--help" || command === "-h") {
      ctx.stdout(WORKFLOW_USAGE);
      return 0;
    }
    const args = parseArgs(rest);
    if (args.flags.has("--help") || args.flags.has("-h")) {
      ctx.stdout(WORKFLOW_USAGE);
      return 0;
    }
    const api = new AdminApi(ctx);
    switch (command) {
      case "deploy":
        return await deploy(args, ctx, api);
      case "pause":
      case "activate":
      case "delete":
        return await changeStatus(command, args, ctx, api);
      case "list":
        return await list(args, ctx, api);
      case "trigger":
        return await trigger(args, ctx, api);
      case "executions":
        return await executions(args, ctx, api);
      default:
        throw new UsageError(`unknown workflow command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      ctx.stderr(`ccr workflow: ${error.message}\n\n${WORKFLOW_USAGE}`);
      return 2;
    }
    ctx.stderr(`ccr workflow: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function deploy(args: ParsedArgs, ctx: WorkflowCommandContext, api: AdminApi): Promise<number> {
  const source = onePositional(args, "a .wasm file or an example name");
  const name = single(args, "--name");
  if (name === undefined) throw new UsageError("deploy needs --name");
  const confidential = args.flags.has("--confidential");
  const secrets = (args.values.get("--secret") ?? []).map(parseSecret);
  if (secrets.length > 0 && !confidential) {
    throw new UsageError("--secret needs --confidential: secrets are only ever handed to workflows running in the enclave");
  }
  const binary = isFilePath(source) ? await readFileOrFail(ctx, source, "workflow binary") : await buildExampleOrFail(ctx, source);
  const configFile = single(args, "--config");
  const configJson = single(args, "--config-json");
  if (configFile !== undefined && configJson !== undefined) throw new UsageError("give --config or --config-json, not both");
  let config: Uint8Array = new Uint8Array(0);
  if (configFile !== undefined) config = await readFileOrFail(ctx, configFile, "config");
  else if (configJson === undefined && !isFilePath(source) && ctx.exampleConfig !== undefined) {
    config = await ctx.exampleConfig(source);
  }
  if (configJson !== undefined) {
    try {
      JSON.parse(configJson);
    } catch {
      throw new UsageError("--config-json must be JSON");
    }
    config = new TextEncoder().encode(configJson);
  }
  const attributes = encodeWorkflowAttributes({ confidential, secrets });
  const tag = single(args, "--tag");
  const body = {
    owner: owner(args, ctx),
    name,
    ...(tag === undefined ? {} : { tag }),
    binary: Buffer.from(binary).toString("base64"),
    config: Buffer.from(config).toString("base64"),
    attributes: Buffer.from(attributes).toString("base64"),
    keepAlive: args.flags.has("--keep-alive"),
    status: args.flags.has("--paused") ? "paused" : "active",
  };
  const answer = (await api.call("POST", "workflows", body)) as DeployAnswer;
  if (args.flags.has("--json")) {
    ctx.stdout(`${JSON.stringify(answer)}\n`);
  } else {
    const w = answer.workflow;
    ctx.stdout(
      `${answer.result} ${w.workflowId}\n  ${w.owner}/${w.name}/${w.tag}  ${w.status}  ${w.confidential === true ? "confidential" : "local"}  engine ${w.engine}\n`,
    );
    if (answer.pausedWorkflowIds !== undefined && answer.pausedWorkflowIds.length > 0) {
      ctx.stdout(`  paused other versions: ${answer.pausedWorkflowIds.join(", ")}\n`);
    }
    if (w.lastError !== null) ctx.stdout(`  engine not started: ${w.lastError}\n`);
  }
  return answer.workflow.lastError === null ? 0 : 1;
}

async function changeStatus(command: "pause" | "activate" | "delete", args: ParsedArgs, ctx: WorkflowCommandContext, api: AdminApi): Promise<number> {
  const id = onePositional(args, "a workflow id");
  const answer = (await api.call("POST", `workflows/${encodeURIComponent(id)}/${command}`, { owner: owner(args, ctx) })) as {
    changed?: boolean;
    workflow?: WorkflowView;
  };
  if (args.flags.has("--json")) ctx.stdout(`${JSON.stringify(answer)}\n`);
  else if (command === "delete") ctx.stdout(`deleted ${id}\n`);
  else ctx.stdout(`${answer.changed === true ? `${command}d` : `already ${command === "pause" ? "paused" : "active"}`} ${id} (engine ${answer.workflow?.engine ?? "?"})\n`);
  return 0;
}

async function list(args: ParsedArgs, ctx: WorkflowCommandContext, api: AdminApi): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError("list takes no arguments");
  const ownerFilter = single(args, "--owner");
  const answer = (await api.call("GET", `workflows${ownerFilter === undefined ? "" : `?owner=${encodeURIComponent(ownerFilter)}`}`)) as {
    workflows: WorkflowView[];
  };
  if (args.flags.has("--json")) {
    ctx.stdout(`${JSON.stringify(answer)}\n`);
    return 0;
  }
  if (answer.workflows.length === 0) {
    ctx.stdout("no workflows\n");
    return 0;
  }
  for (const w of answer.workflows) {
    const mode = w.confidential === "invalid" ? "invalid-attributes" : w.confidential ? "confidential" : "local";
    ctx.stdout(`${w.workflowId}  ${w.name}/${w.tag}  ${w.status}  ${mode}  engine ${w.engine}  owner ${w.owner}\n`);
    if (w.lastError !== null) ctx.stdout(`    last error: ${w.lastError}\n`);
  }
  return 0;
}

async function trigger(args: ParsedArgs, ctx: WorkflowCommandContext, api: AdminApi): Promise<number> {
  const id = onePositional(args, "a workflow id");
  const inputText = single(args, "--input");
  let input: unknown;
  if (inputText !== undefined) {
    try {
      input = JSON.parse(inputText);
    } catch {
      throw new UsageError("--input must be JSON");
    }
  }
  const subscriptionText = single(args, "--subscription");
  const subscription = subscriptionText === undefined ? undefined : nonNegativeInteger(subscriptionText, "--subscription");
  const wait = args.flags.has("--wait");
  const answer = (await api.call("POST", `workflows/${encodeURIComponent(id)}/trigger`, {
    ...(input === undefined ? {} : { input }),
    ...(subscription === undefined ? {} : { subscription }),
    wait,
  })) as ExecutionView | { executionId: string };
  if (!wait) {
    ctx.stdout(args.flags.has("--json") ? `${JSON.stringify(answer)}\n` : `triggered ${answer.executionId}\n`);
    return 0;
  }
  const record = answer as ExecutionView;
  if (args.flags.has("--json")) ctx.stdout(`${JSON.stringify(record)}\n`);
  else ctx.stdout(describeExecution(record));
  return record.status === "succeeded" ? 0 : 1;
}

async function executions(args: ParsedArgs, ctx: WorkflowCommandContext, api: AdminApi): Promise<number> {
  const id = onePositional(args, "a workflow id");
  const limitText = single(args, "--limit");
  const limit = limitText === undefined ? undefined : nonNegativeInteger(limitText, "--limit");
  const answer = (await api.call("GET", `workflows/${encodeURIComponent(id)}/executions${limit === undefined ? "" : `?limit=${limit}`}`)) as {
    executions: ExecutionView[];
  };
  if (args.flags.has("--json")) {
    ctx.stdout(`${JSON.stringify(answer)}\n`);
    return 0;
  }
  if (answer.executions.length === 0) ctx.stdout("no executions\n");
  for (const record of answer.executions) ctx.stdout(describeExecution(record));
  return 0;
}

function describeExecution(record: ExecutionView): string {
  const timing = record.durationMs === null ? "running" : `${record.durationMs} ms`;
  const outcome = record.status === "succeeded" ? JSON.stringify(record.result) : record.error ?? "";
  const signers = record.signers.length === 0 ? "" : `\n    signed by ${record.signers.map((s) => s.slice(0, 12) + "…").join(", ")}`;
  return `${record.executionId}  ${record.status}  ${record.trigger}  ${record.startedAt}  ${timing}${outcome === "" ? "" : `\n    ${outcome}`}${signers}\n`;
}

// --- the admin API -------------------------------------------------------------------------------

interface WorkflowView {
  workflowId: string;
  owner: string;
  name: string;
  tag: string;
  status: string;
  confidential: boolean | "invalid";
  engine: string;
  lastError: string | null;
}

interface DeployAnswer {
  result: string;
  pausedWorkflowIds?: string[];
  workflow: WorkflowView;
}

interface ExecutionView {
  executionId: string;
  status: string;
  trigger: string;
  result: unknown;
  error: string | null;
  startedAt: string;
  durationMs: number | null;
  /** ed25519 keys (hex) of the relay nodes whose quorum certificates the execution used. */
  signers: string[];
}

class AdminApi {
  private readonly base: string;

  constructor(private readonly ctx: WorkflowCommandContext) {
    this.base = ctx.adminUrl.replace(/\/+$/, "");
  }

  async call(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.ctx.adminToken !== undefined) headers["authorization"] = `Bearer ${this.ctx.adminToken}`;
    let response: Response;
    try {
      response = await this.ctx.fetch(`${this.base}/admin/v1/${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new Error(
        `cannot reach the workflow node at ${this.base} (${error instanceof Error ? error.message : String(error)}); is it running (ccr up)?`,
      );
    }
    const text = await response.text();
    let answer: unknown;
    try {
      answer = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new Error(`the workflow node answered HTTP ${response.status} with a body that is not JSON`);
    }
    if (!response.ok) {
      const error = (answer as { error?: { code?: string; message?: string } }).error;
      throw new Error(`${error?.message ?? `HTTP ${response.status}`}${error?.code === undefined ? "" : ` (${error.code})`}`);
    }
    return answer;
  }
}

// --- arguments -----------------------------------------------------------------------------------

function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN_FLAGS.has(flag)) {
      if (eq >= 0) throw new UsageError(`${flag} takes no value`);
      flags.add(flag);
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) throw new UsageError(`unknown option ${flag}`);
    let value: string;
    if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      value = next;
      i++;
    }
    const list = values.get(flag) ?? [];
    if (list.length > 0 && flag !== "--secret") throw new UsageError(`${flag} given twice`);
    list.push(value);
    values.set(flag, list);
  }
  return { positionals, values, flags };
}

function single(args: ParsedArgs, flag: string): string | undefined {
  return args.values.get(flag)?.[0];
}

function onePositional(args: ParsedArgs, what: string): string {
  if (args.positionals.length !== 1) throw new UsageError(`expected ${what}`);
  return args.positionals[0] as string;
}

function owner(args: ParsedArgs, ctx: WorkflowCommandContext): string {
  const value = single(args, "--owner") ?? ctx.defaultOwner;
  if (value === undefined) throw new UsageError("--owner is required (a 0x-prefixed 20-byte address)");
  return value;
}

function parseSecret(text: string): SecretIdentifier {
  const colon = text.indexOf(":");
  const key = colon < 0 ? text : text.slice(0, colon);
  const namespace = colon < 0 ? "" : text.slice(colon + 1);
  if (!SECRET_PART.test(key)) throw new UsageError(`--secret ${JSON.stringify(text)}: the key must be 1–128 characters of A–Z a–z 0–9 _ . -`);
  if (colon >= 0 && !SECRET_PART.test(namespace)) {
    throw new UsageError(`--secret ${JSON.stringify(text)}: the namespace must be 1–128 characters of A–Z a–z 0–9 _ . - (omit it for "main")`);
  }
  return { key, namespace };
}

function nonNegativeInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new UsageError(`${flag} must be a non-negative integer`);
  return value;
}

function isFilePath(source: string): boolean {
  return source.endsWith(".wasm") || source.includes("/") || source.includes("\\");
}

async function readFileOrFail(ctx: WorkflowCommandContext, path: string, what: string): Promise<Uint8Array> {
  try {
    return await ctx.readFile(path);
  } catch (error) {
    throw new Error(`cannot read the ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function buildExampleOrFail(ctx: WorkflowCommandContext, name: string): Promise<Uint8Array> {
  try {
    return await ctx.buildExample(name);
  } catch (error) {
    throw new Error(`cannot build the example workflow "${name}": ${error instanceof Error ? error.message : String(error)}`);
  }
}
