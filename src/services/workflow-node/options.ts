/**
 * The workflow node's options: input in, validated and frozen config out (pure; no env, no files —
 * src/config reads those and passes the values here).
 */
import { Code, ccrError } from "../../domain/errors.js";

export interface WorkflowNodeOptionsInput {
  /** Registry poll interval (upstream `defaultTickInterval`, 12 s). */
  readonly syncIntervalMs?: number;
  /** Events (artifact fetches, engine starts and stops) handled at once per tick (upstream 12). */
  readonly syncConcurrency?: number;
  /** Only workflows of this DON family; absent: every workflow in the registry. */
  readonly donFamily?: string;
  /** The artifact store / admin API listener. */
  readonly artifactHost?: string;
  readonly artifactPort?: number;
  /**
   * The base URL written into binary_url / config_url (what the enclave host fetches), e.g. when
   * the listener is behind a proxy. Default: http://<artifactHost>:<bound port>.
   */
  readonly artifactPublicUrl?: string;
  /** Largest binary or config accepted, stored, fetched or served (upstream: 20 MB binaries). */
  readonly artifactMaxBytes?: number;
  readonly artifactFetchTimeoutMs?: number;
  /** Per workflow: executions running at once, and trigger events waiting for a slot. */
  readonly maxConcurrentExecutions?: number;
  readonly maxQueuedExecutions?: number;
  /** Wall-clock limit of one execution (subscribe included). */
  readonly executionTimeoutMs?: number;
  /** ExecuteRequest.max_response_size. */
  readonly maxResponseSizeBytes?: number;
  /** The owner's organization id sent with confidential executions; "" when none. */
  readonly orgId?: string;
  /**
   * When set, admin API calls must carry `Authorization: Bearer <token>`. Artifact downloads stay
   * open (the enclave host fetches them). At least 16 characters.
   */
  readonly adminToken?: string;
}

export interface WorkflowNodeOptions {
  readonly syncIntervalMs: number;
  readonly syncConcurrency: number;
  readonly donFamily: string | undefined;
  readonly artifactHost: string;
  readonly artifactPort: number;
  readonly artifactPublicUrl: string | undefined;
  readonly artifactMaxBytes: number;
  readonly artifactFetchTimeoutMs: number;
  readonly maxConcurrentExecutions: number;
  readonly maxQueuedExecutions: number;
  readonly executionTimeoutMs: number;
  readonly maxResponseSizeBytes: number;
  readonly orgId: string;
  readonly adminToken: string | undefined;
}

export const WORKFLOW_NODE_DEFAULTS = Object.freeze({
  syncIntervalMs: 12_000,
  syncConcurrency: 12,
  artifactHost: "127.0.0.1",
  artifactPort: 0,
  artifactMaxBytes: 20 * 1024 * 1024,
  artifactFetchTimeoutMs: 30_000,
  maxConcurrentExecutions: 4,
  maxQueuedExecutions: 100,
  executionTimeoutMs: 60_000,
  maxResponseSizeBytes: 100_000,
});

export function resolveWorkflowNodeOptions(input: WorkflowNodeOptionsInput = {}): WorkflowNodeOptions {
  const d = WORKFLOW_NODE_DEFAULTS;
  const options: WorkflowNodeOptions = {
    syncIntervalMs: integer("syncIntervalMs", input.syncIntervalMs, d.syncIntervalMs, 100, 3_600_000),
    syncConcurrency: integer("syncConcurrency", input.syncConcurrency, d.syncConcurrency, 1, 256),
    donFamily: input.donFamily,
    artifactHost: nonEmpty("artifactHost", input.artifactHost ?? d.artifactHost),
    artifactPort: integer("artifactPort", input.artifactPort, d.artifactPort, 0, 65_535),
    artifactPublicUrl: input.artifactPublicUrl === undefined ? undefined : baseUrl(input.artifactPublicUrl),
    artifactMaxBytes: integer("artifactMaxBytes", input.artifactMaxBytes, d.artifactMaxBytes, 1024, 512 * 1024 * 1024),
    artifactFetchTimeoutMs: integer("artifactFetchTimeoutMs", input.artifactFetchTimeoutMs, d.artifactFetchTimeoutMs, 100, 600_000),
    maxConcurrentExecutions: integer("maxConcurrentExecutions", input.maxConcurrentExecutions, d.maxConcurrentExecutions, 1, 1024),
    maxQueuedExecutions: integer("maxQueuedExecutions", input.maxQueuedExecutions, d.maxQueuedExecutions, 0, 100_000),
    executionTimeoutMs: integer("executionTimeoutMs", input.executionTimeoutMs, d.executionTimeoutMs, 10, 3_600_000),
    maxResponseSizeBytes: integer("maxResponseSizeBytes", input.maxResponseSizeBytes, d.maxResponseSizeBytes, 1, 64 * 1024 * 1024),
    orgId: input.orgId ?? "",
    adminToken: input.adminToken === undefined ? undefined : token(input.adminToken),
  };
  return Object.freeze(options);
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw ccrError(`workflow node option ${name} must be an integer from ${min} to ${max} (got ${String(value)})`, Code.InvalidArgument);
  }
  return value;
}

function nonEmpty(name: string, value: string): string {
  if (value.trim() === "") throw ccrError(`workflow node option ${name} must not be empty`, Code.InvalidArgument);
  return value;
}

function baseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw ccrError(`workflow node option artifactPublicUrl must be an http(s) URL (got ${JSON.stringify(value)})`, Code.InvalidArgument);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw ccrError(`workflow node option artifactPublicUrl must be an http(s) URL (got ${JSON.stringify(value)})`, Code.InvalidArgument);
  }
  if (url.search !== "" || url.hash !== "") {
    throw ccrError("workflow node option artifactPublicUrl must not have a query or fragment", Code.InvalidArgument);
  }
  return value.replace(/\/+$/, "");
}

function token(value: string): string {
  if (value.length < 16) throw ccrError("workflow node option adminToken must be at least 16 characters", Code.InvalidArgument);
  return value;
}
