/**
 * The workflow node's HTTP server (node:http, HTTP/1.1, JSON): the artifact store and a small admin
 * API, which is how `ccr workflow …` reaches a running workflow node.
 *
 * Why an HTTP admin API rather than the CLI opening the database: the default database is PGlite
 * in the deployment directory, which only one process can open — the running node's — and manual
 * triggers need the running engine anyway. The API is plain JSON so curl works too.
 *
 * Artifacts (open: the enclave host fetches binaries from here):
 *   GET  /artifacts/<sha256>                 the stored bytes (application/octet-stream)
 *   GET  /healthz                            {"status":"ok"}
 * Admin (JSON; `Authorization: Bearer <adminToken>` when one is configured):
 *   POST /admin/v1/workflows                 deploy: {owner, name, tag?, binary (base64), config? (base64),
 *                                            attributes? (base64), keepAlive?, status?, donFamily?}
 *   GET  /admin/v1/workflows[?owner=0x…]     {"workflows":[view…]}
 *   GET  /admin/v1/workflows/<id>            view
 *   POST /admin/v1/workflows/<id>/pause      {owner}
 *   POST /admin/v1/workflows/<id>/activate   {owner}
 *   POST /admin/v1/workflows/<id>/delete     {owner}
 *   POST /admin/v1/workflows/<id>/trigger    {input? (any JSON), subscription? (index), wait?}
 *   GET  /admin/v1/workflows/<id>/executions[?limit=N]
 *   GET  /admin/v1/executions/<executionId>
 * Registry changes run a sync tick before answering, so the answer reports the engine as it now is.
 * Errors: {"error":{"code":"not_found","message":"…"}} with the HTTP status Connect uses for the code.
 * Secrets never pass through here: attributes name secrets, they do not carry them.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { ConnectError } from "@connectrpc/connect";
import { Code, ccrError } from "../../domain/errors.js";
import { parseWorkflowAttributes } from "../../domain/workflow/attributes.js";
import { isExecutionId } from "../../domain/workflow/execution-id.js";
import { normalizeWorkflowId } from "../../domain/workflow/workflow-id.js";
import { isDatabaseUnavailable } from "../../store/database-unavailable.js";
import type { WorkflowArtifactsStore } from "../../store/workflow-artifacts.js";
import { httpStatusForCode } from "../../transport/index.js";
import type { ExecutionRecord, WorkflowExecutionsStore } from "../../store/workflow-executions.js";
import type { RegistryRow, RegistryStatus } from "../../store/workflow-registry.js";
import type { WorkflowEngine } from "./engine.js";
import type { EngineRegistry } from "./engine-registry.js";
import type { WorkflowNodeLogger } from "./module.js";
import type { WorkflowRegistry } from "./registry.js";
import type { WorkflowSyncer } from "./syncer.js";

export interface ArtifactServerDeps {
  readonly host: string;
  readonly port: number;
  readonly maxArtifactBytes: number;
  readonly adminToken: string | undefined;
  readonly artifacts: WorkflowArtifactsStore;
  readonly registry: WorkflowRegistry;
  readonly engines: EngineRegistry<WorkflowEngine>;
  readonly executions: WorkflowExecutionsStore;
  readonly syncer: WorkflowSyncer;
  readonly logger: WorkflowNodeLogger;
}

export interface ArtifactServer {
  /** Starts listening; answers the bound base URL, e.g. http://127.0.0.1:40123. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** A workflow as the admin API shows it. */
export interface WorkflowView {
  readonly workflowId: string;
  readonly owner: string;
  readonly name: string;
  readonly tag: string;
  readonly status: RegistryStatus;
  readonly donFamily: string;
  readonly binaryUrl: string;
  readonly configUrl: string;
  /** true / false, or "invalid" when the attributes do not parse (no engine will run). */
  readonly confidential: boolean | "invalid";
  /** The attributes as text ("" when none). */
  readonly attributes: string;
  readonly engine: "running" | "stopped";
  /** Why the last attempt to start or stop its engine failed, while it is being retried. */
  readonly lastError: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An execution as the admin API and `ccr workflow trigger --wait --json` show it. */
export interface ExecutionView {
  readonly executionId: string;
  readonly workflowId: string;
  readonly trigger: string;
  readonly triggerKind: string;
  readonly status: string;
  /** The workflow's value (parsed JSON), or null. */
  readonly result: unknown;
  readonly error: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly durationMs: number | null;
  /**
   * The relay DON members (ed25519 public keys, hex, sorted) whose quorum certificates vouched for
   * the relay answers a confidential execution used; [] for a local workflow or a running execution.
   */
  readonly signers: readonly string[];
}

const ADMIN_PREFIX = "/admin/v1/";

/**
 * What a failed admin or artifact request answers: our own errors as they are; a database that
 * cannot be reached as Unavailable (503, retry), which is what a caller can act on; anything else
 * as a bare internal error, its detail only in the log.
 */
function wireError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (isDatabaseUnavailable(error)) {
    return ccrError("the workflow node's database is unavailable; retry shortly", Code.Unavailable, error);
  }
  return ccrError("internal error", Code.Internal, error);
}

function errorText(error: unknown): string {
  const cause = error instanceof ConnectError && error.cause !== undefined ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
const SHA256_HEX = /^[0-9a-f]{64}$/;
const JSON_OVERHEAD_BYTES = 64 * 1024;

export function createArtifactServer(deps: ArtifactServerDeps): ArtifactServer {
  const logger = deps.logger.child({ component: "artifact_server" });
  // Base64 grows binary and config by 4/3 each.
  const maxBodyBytes = Math.ceil((deps.maxArtifactBytes * 2 * 4) / 3) + JSON_OVERHEAD_BYTES;
  const tokenDigest = deps.adminToken === undefined ? undefined : sha256(Buffer.from(deps.adminToken, "utf8"));

  const server = http.createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      const wire = wireError(error);
      if (wire.code === Code.Internal || wire.code === Code.Unavailable) {
        logger.error({ method: req.method, path: pathOf(req), err: errorText(error) }, "admin request failed");
      }
      if (!res.headersSent) sendJson(res, httpStatusForCode(wire.code), { error: { code: codeName(wire.code), message: wire.rawMessage } });
      else res.destroy();
    });
  });
  server.requestTimeout = 0; // `trigger --wait` holds the request open for the execution's duration
  server.headersTimeout = 60_000;

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    const method = req.method ?? "GET";

    if (path.startsWith("/artifacts/") && (method === "GET" || method === "HEAD")) {
      const sha = path.slice("/artifacts/".length);
      if (!SHA256_HEX.test(sha)) throw ccrError("artifact paths are /artifacts/<sha256 as 64 lowercase hex digits>", Code.NotFound);
      const content = await deps.artifacts.get(sha);
      if (content === undefined) throw ccrError(`no artifact ${sha}`, Code.NotFound);
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(content.length),
        etag: `"${sha}"`,
        "cache-control": "public, max-age=31536000, immutable",
      });
      res.end(method === "HEAD" ? undefined : content);
      return;
    }
    if (path === "/healthz" && method === "GET") {
      sendJson(res, 200, { status: "ok" });
      return;
    }
    if (!path.startsWith(ADMIN_PREFIX)) throw ccrError(`no route ${method} ${path}`, Code.NotFound);
    authorize(req);
    const parts = path.slice(ADMIN_PREFIX.length).split("/");

    if (parts[0] === "workflows" && parts.length === 1) {
      if (method === "POST") return sendJson(res, 200, await deploy(await readJson(req)));
      if (method === "GET") {
        const owner = url.searchParams.get("owner");
        const rows = await deps.registry.list(owner === null ? {} : { owner });
        return sendJson(res, 200, { workflows: rows.map(view) });
      }
    }
    if (parts[0] === "workflows" && parts.length >= 2) {
      const id = normalizeWorkflowId(parts[1] ?? "");
      if (id === undefined) throw ccrError(`workflow id must be 64 hex digits (got ${JSON.stringify(parts[1])})`, Code.InvalidArgument);
      const action = parts[2];
      if (parts.length === 2 && method === "GET") return sendJson(res, 200, view(await deps.registry.get(id)));
      if (parts.length === 3 && method === "POST" && (action === "pause" || action === "activate" || action === "delete")) {
        const owner = requireString(await readJson(req), "owner");
        if (action === "delete") {
          await deps.registry.delete(id, owner);
          await deps.syncer.tick();
          return sendJson(res, 200, { workflowId: id, deleted: true, engine: deps.engines.has(id) ? "running" : "stopped" });
        }
        const outcome = action === "pause" ? await deps.registry.pause(id, owner) : await deps.registry.activate(id, owner);
        await deps.syncer.tick();
        return sendJson(res, 200, { changed: outcome.changed, workflow: view(await deps.registry.get(id)) });
      }
      if (parts.length === 3 && action === "trigger" && method === "POST") return trigger(id, await readJson(req), res);
      if (parts.length === 3 && action === "executions" && method === "GET") {
        const limit = optionalLimit(url.searchParams.get("limit"));
        const records = await deps.executions.listByWorkflow(id, limit);
        return sendJson(res, 200, { executions: records.map(executionView) });
      }
    }
    if (parts[0] === "executions" && parts.length === 2 && method === "GET") {
      const executionId = parts[1] ?? "";
      if (!isExecutionId(executionId)) throw ccrError("execution id must be 64 lowercase hex digits", Code.InvalidArgument);
      const record = await deps.executions.get(executionId);
      if (record === undefined) throw ccrError(`no execution ${executionId}`, Code.NotFound);
      return sendJson(res, 200, executionView(record));
    }
    throw ccrError(`no route ${method} ${path}`, Code.NotFound);
  }

  async function deploy(body: Record<string, unknown>): Promise<object> {
    const status = optionalString(body, "status");
    if (status !== undefined && status !== "active" && status !== "paused") throw ccrError('status must be "active" or "paused"', Code.InvalidArgument);
    const binary = requireBase64(body, "binary");
    const config = optionalBase64(body, "config") ?? new Uint8Array(0);
    for (const [name, artifact] of [["binary", binary], ["config", config]] as const) {
      if (artifact.length > deps.maxArtifactBytes) {
        throw ccrError(`${name} is ${artifact.length} bytes; the limit is ${deps.maxArtifactBytes} bytes`, Code.ResourceExhausted);
      }
    }
    if (binary.length === 0) throw ccrError("binary must not be empty", Code.InvalidArgument);
    const tag = optionalString(body, "tag");
    const attributes = optionalBase64(body, "attributes");
    const keepAlive = optionalBoolean(body, "keepAlive");
    const donFamily = optionalString(body, "donFamily");
    const result = await deps.registry.deploy({
      owner: requireString(body, "owner"),
      name: requireString(body, "name"),
      binary,
      config,
      ...(tag === undefined ? {} : { tag }),
      ...(status === undefined ? {} : { status }),
      ...(attributes === undefined ? {} : { attributes }),
      ...(keepAlive === undefined ? {} : { keepAlive }),
      ...(donFamily === undefined ? {} : { donFamily }),
    });
    await deps.syncer.tick();
    const { kind, ...details } = result;
    return { result: kind, ...details, workflow: view(await deps.registry.get(result.workflowId)) };
  }

  async function trigger(workflowId: string, body: Record<string, unknown>, res: http.ServerResponse): Promise<void> {
    const entry = deps.engines.get(workflowId);
    if (entry === undefined || !entry.engine.ready()) {
      const lastError = deps.syncer.lastError(workflowId);
      throw ccrError(
        `workflow ${workflowId} has no running engine on this node${lastError === undefined ? " (it is paused, deleted, or not synced yet)" : `: ${lastError}`}`,
        Code.FailedPrecondition,
      );
    }
    const subscription = body["subscription"];
    if (subscription !== undefined && (!Number.isInteger(subscription) || (subscription as number) < 0)) {
      throw ccrError("subscription must be a non-negative integer index", Code.InvalidArgument);
    }
    const payload = body["input"] === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body["input"]));
    const triggered = await entry.engine.trigger({
      ...(subscription === undefined ? {} : { subscriptionIndex: subscription as number }),
      ...(payload === undefined ? {} : { payload }),
    });
    if (body["wait"] !== true) {
      triggered.finished.catch(() => undefined);
      return sendJson(res, 202, { executionId: triggered.executionId });
    }
    sendJson(res, 200, executionView(await triggered.finished));
  }

  function view(row: RegistryRow): WorkflowView {
    const parsed = parseWorkflowAttributes(row.attributes);
    const entry = deps.engines.get(row.workflowId);
    return {
      workflowId: row.workflowId,
      owner: row.owner,
      name: row.name,
      tag: row.tag,
      status: row.status,
      donFamily: row.donFamily,
      binaryUrl: row.binaryUrl,
      configUrl: row.configUrl,
      confidential: parsed.kind === "ok" ? parsed.attributes.confidential : "invalid",
      attributes: Buffer.from(row.attributes).toString("utf8"),
      engine: entry !== undefined && entry.engine.ready() ? "running" : "stopped",
      lastError: deps.syncer.lastError(row.workflowId) ?? null,
      createdAt: new Date(row.createdAtMs).toISOString(),
      updatedAt: new Date(row.updatedAtMs).toISOString(),
    };
  }

  function authorize(req: http.IncomingMessage): void {
    if (tokenDigest === undefined) return;
    const header = req.headers.authorization ?? "";
    const presented = header.startsWith("Bearer ") ? header.slice("Bearer ".length) : "";
    if (!timingSafeEqual(sha256(Buffer.from(presented, "utf8")), tokenDigest)) {
      throw ccrError("the admin API needs Authorization: Bearer <the workflow node's adminToken>", Code.Unauthenticated);
    }
  }

  async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBodyBytes) throw ccrError(`request body exceeds ${maxBodyBytes} bytes`, Code.ResourceExhausted);
      chunks.push(chunk);
    }
    if (total === 0) return {};
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks, total).toString("utf8"));
    } catch {
      throw ccrError("request body must be JSON", Code.InvalidArgument);
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw ccrError("request body must be a JSON object", Code.InvalidArgument);
    return body as Record<string, unknown>;
  }

  let baseUrl: string | undefined;
  return Object.freeze({
    listen(): Promise<string> {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(deps.port, deps.host, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
          baseUrl = `http://${host}:${address.port}`;
          logger.info({ url: baseUrl }, "artifact store listening");
          resolve(baseUrl);
        });
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still open (e.g. a `trigger --wait`) end now: the node is stopping.
        setImmediate(() => server.closeAllConnections());
      });
    },
  });
}

export function executionView(record: ExecutionRecord): ExecutionView {
  let result: unknown = null;
  if (record.result !== null) {
    const text = Buffer.from(record.result).toString("utf8");
    try {
      result = JSON.parse(text);
    } catch {
      result = text;
    }
  }
  return {
    executionId: record.id,
    workflowId: record.workflowId,
    trigger: record.triggerId,
    triggerKind: record.triggerKind,
    status: record.status,
    result,
    error: record.error,
    startedAt: new Date(record.startedAtMs).toISOString(),
    finishedAt: record.finishedAtMs === null ? null : new Date(record.finishedAtMs).toISOString(),
    durationMs: record.durationMs,
    signers: [...record.relaySigners],
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
  res.end(text);
}

function requireString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== "string" || value === "") throw ccrError(`${name} is required (a string)`, Code.InvalidArgument);
  return value;
}

function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw ccrError(`${name} must be a string`, Code.InvalidArgument);
  return value;
}

function optionalBoolean(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw ccrError(`${name} must be true or false`, Code.InvalidArgument);
  return value;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function requireBase64(body: Record<string, unknown>, name: string): Uint8Array {
  const value = optionalBase64(body, name);
  if (value === undefined) throw ccrError(`${name} is required (base64)`, Code.InvalidArgument);
  return value;
}

function optionalBase64(body: Record<string, unknown>, name: string): Uint8Array | undefined {
  const value = optionalString(body, name);
  if (value === undefined) return undefined;
  if (value.length % 4 !== 0 || !BASE64.test(value)) throw ccrError(`${name} must be standard base64`, Code.InvalidArgument);
  return new Uint8Array(Buffer.from(value, "base64"));
}

function optionalLimit(value: string | null): number {
  if (value === null) return 20;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw ccrError("limit must be an integer from 1 to 1000", Code.InvalidArgument);
  return limit;
}

function pathOf(req: http.IncomingMessage): string {
  return new URL(req.url ?? "/", "http://localhost").pathname;
}

function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}


/** Connect's wire names: "not_found", "failed_precondition", … */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
