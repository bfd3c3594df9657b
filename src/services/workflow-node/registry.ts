/**
 * The workflow registry: ccr's stand-in for the on-chain WorkflowRegistry 2.0.0 (reference
 * chainlink-workflows.md §8.1; chainlink-evm `WorkflowRegistry.sol`), over the `workflow_registry`
 * table, plus the artifact store that serves what it points at.
 *
 * `upsert` is the contract's `upsertWorkflow`, except that the id is derived here from the artifacts
 * (sha256(owner‖name‖binary‖config‖secretsURL), byte 0 = 0x00 — upstream derives it off-chain in the
 * CLI and the contract only checks it is new and non-zero):
 * - checks, in the contract's order: id unused (WorkflowIDAlreadyExists), binary URL present and
 *   ≤ 200 bytes, config URL ≤ 200 bytes, attributes ≤ 1024 bytes, tag 1–32 bytes, name 1–64 bytes;
 * - (owner, name, tag) new → create; unless keep-alive, every active version of (owner, name) is
 *   paused first;
 * - (owner, name, tag) known → update: new id, URLs and attributes; its status and DON family must
 *   be unchanged (CannotChangeStatusOnUpdate / CannotChangeDONFamilyOnUpdate).
 * `pause` / `activate` are idempotent and owner-only; `delete` is owner-only. Activation does not
 * pause other versions (the contract does not either).
 *
 * `deploy` is the CLI's path: it stores the artifacts (content-addressed) and upserts with the
 * artifact store's URLs. Deploying exactly what is already registered under the same owner, name and
 * tag answers "unchanged" instead of the contract's revert, so re-running a deploy is harmless.
 *
 * [ccr] Configs must be UTF-8 text without NUL: the workflow node stores them in a text column
 * (upstream `Config string`), and a config that did not survive that round trip would change the id.
 */
import type { Clock } from "../../domain/clock.js";
import { Code, ccrError } from "../../domain/errors.js";
import { parseOwner } from "../../domain/ethereum/address.js";
import type { WorkflowMetadata } from "../../domain/workflow/reconcile.js";
import { checkWorkflowMetadata, deriveWorkflowIdHex, normalizeWorkflowId } from "../../domain/workflow/workflow-id.js";
import type { WorkflowArtifactsStore } from "../../store/workflow-artifacts.js";
import type { RegistryListFilter, RegistryRow, RegistryStatus, WorkflowRegistryStore } from "../../store/workflow-registry.js";
import type { WorkflowSource } from "./syncer.js";

export const REGISTRY_SOURCE_ID = "registry:workflow_registry";
export const DEFAULT_WORKFLOW_TAG = "latest";

export interface RegistryUpsertRequest {
  readonly owner: string;
  readonly name: string;
  readonly tag: string;
  readonly binary: Uint8Array;
  readonly config: Uint8Array;
  readonly binaryUrl: string;
  readonly configUrl: string;
  readonly secretsUrl?: string;
  readonly status?: RegistryStatus;
  readonly attributes?: Uint8Array;
  readonly keepAlive?: boolean;
  readonly donFamily?: string;
}

export interface RegistryDeployRequest {
  readonly owner: string;
  readonly name: string;
  readonly tag?: string;
  readonly binary: Uint8Array;
  readonly config: Uint8Array;
  readonly status?: RegistryStatus;
  readonly attributes?: Uint8Array;
  readonly keepAlive?: boolean;
  readonly donFamily?: string;
}

export type RegistryUpsertResult =
  | { readonly kind: "created"; readonly workflowId: string; readonly pausedWorkflowIds: readonly string[] }
  | { readonly kind: "updated"; readonly workflowId: string; readonly previousWorkflowId: string }
  | { readonly kind: "unchanged"; readonly workflowId: string };

export interface WorkflowRegistryDeps {
  readonly store: WorkflowRegistryStore;
  readonly artifacts: WorkflowArtifactsStore;
  /** The URL the artifact store serves an artifact at, from its SHA-256 hex. */
  readonly artifactUrl: (sha256: string) => string;
  readonly clock: Clock;
}

export class WorkflowRegistry {
  constructor(private readonly deps: WorkflowRegistryDeps) {}

  async upsert(request: RegistryUpsertRequest): Promise<Exclude<RegistryUpsertResult, { kind: "unchanged" }>> {
    const owner = normalizeOwner(request.owner);
    checkConfigText(request.config);
    const attributes = request.attributes ?? new Uint8Array(0);
    const secretsUrl = request.secretsUrl ?? "";
    const workflowId = deriveWorkflowIdHex({ owner, name: request.name, binary: request.binary, config: request.config, secretsUrl });
    const check = checkWorkflowMetadata({
      name: request.name,
      tag: request.tag,
      binaryUrl: request.binaryUrl,
      configUrl: request.configUrl,
      attributes,
    });
    const existing = await this.deps.store.get(workflowId);
    if (existing !== undefined) throw idExists(workflowId);
    if (check.kind !== "ok") throw ccrError(check.reason, Code.InvalidArgument);

    const outcome = await this.deps.store.upsert(
      {
        workflowId,
        owner,
        name: request.name,
        tag: request.tag,
        status: request.status ?? "active",
        donFamily: request.donFamily ?? "",
        binaryUrl: request.binaryUrl,
        configUrl: request.configUrl,
        secretsUrl,
        binaryHash: null,
        attributes,
        keepAlive: request.keepAlive ?? false,
      },
      this.deps.clock.nowMs(),
    );
    switch (outcome.kind) {
      case "created":
      case "updated":
        return outcome;
      case "id-exists":
        throw idExists(outcome.workflowId);
      case "status-change":
        throw ccrError(
          `workflow ${owner}/${request.name}/${request.tag} (${outcome.workflowId}) is ${outcome.currentStatus}; an update cannot change its status (CannotChangeStatusOnUpdate): ${outcome.currentStatus === "paused" ? "activate it first, or deploy it paused" : "pause it first, or deploy it active"}`,
          Code.FailedPrecondition,
        );
      case "don-family-change":
        throw ccrError(
          `workflow ${owner}/${request.name}/${request.tag} (${outcome.workflowId}) runs on DON family "${outcome.currentDonFamily}"; an update cannot change it (CannotChangeDONFamilyOnUpdate)`,
          Code.FailedPrecondition,
        );
    }
  }

  /** Stores the artifacts and upserts a workflow pointing at them. */
  async deploy(request: RegistryDeployRequest): Promise<RegistryUpsertResult> {
    const owner = normalizeOwner(request.owner);
    const tag = request.tag ?? DEFAULT_WORKFLOW_TAG;
    checkConfigText(request.config);
    const workflowId = deriveWorkflowIdHex({ owner, name: request.name, binary: request.binary, config: request.config });
    const existing = await this.deps.store.get(workflowId);
    if (existing !== undefined) {
      if (existing.owner === owner && existing.name === request.name && existing.tag === tag) return { kind: "unchanged", workflowId };
      throw idExists(workflowId);
    }
    const nowMs = this.deps.clock.nowMs();
    const binary = await this.deps.artifacts.put(request.binary, nowMs);
    const config = request.config.length === 0 ? undefined : await this.deps.artifacts.put(request.config, nowMs);
    return this.upsert({
      owner,
      name: request.name,
      tag,
      binary: request.binary,
      config: request.config,
      binaryUrl: this.deps.artifactUrl(binary.sha256),
      configUrl: config === undefined ? "" : this.deps.artifactUrl(config.sha256),
      ...(request.status === undefined ? {} : { status: request.status }),
      ...(request.attributes === undefined ? {} : { attributes: request.attributes }),
      ...(request.keepAlive === undefined ? {} : { keepAlive: request.keepAlive }),
      ...(request.donFamily === undefined ? {} : { donFamily: request.donFamily }),
    });
  }

  pause(workflowId: string, owner: string): Promise<{ readonly changed: boolean; readonly row: RegistryRow }> {
    return this.setStatus(workflowId, owner, "paused");
  }

  activate(workflowId: string, owner: string): Promise<{ readonly changed: boolean; readonly row: RegistryRow }> {
    return this.setStatus(workflowId, owner, "active");
  }

  async delete(workflowId: string, owner: string): Promise<RegistryRow> {
    const id = requireWorkflowId(workflowId);
    const outcome = await this.deps.store.delete(id, normalizeOwner(owner));
    switch (outcome.kind) {
      case "changed":
      case "unchanged":
        return outcome.row;
      case "not-found":
        throw notFound(id);
      case "not-owner":
        throw notOwner(id);
    }
  }

  async get(workflowId: string): Promise<RegistryRow> {
    const id = requireWorkflowId(workflowId);
    const row = await this.deps.store.get(id);
    if (row === undefined) throw notFound(id);
    return row;
  }

  list(filter: RegistryListFilter = {}): Promise<readonly RegistryRow[]> {
    return this.deps.store.list(filter.owner === undefined ? filter : { ...filter, owner: normalizeOwner(filter.owner) });
  }

  private async setStatus(workflowId: string, owner: string, status: RegistryStatus): Promise<{ readonly changed: boolean; readonly row: RegistryRow }> {
    const id = requireWorkflowId(workflowId);
    const outcome = await this.deps.store.setStatus(id, normalizeOwner(owner), status, this.deps.clock.nowMs());
    switch (outcome.kind) {
      case "changed":
        return { changed: true, row: outcome.row };
      case "unchanged":
        return { changed: false, row: outcome.row };
      case "not-found":
        throw notFound(id);
      case "not-owner":
        throw notOwner(id);
    }
  }
}

/**
 * The syncer's source over the registry table. Each tick costs one light query (id, status, last
 * change of every workflow); full rows are read only for workflows that are new or changed since the
 * previous listing — in the steady state, none. Every registry mutation bumps `updated_at`, and a
 * deleted-and-recreated id gets a new one, so a cached row is never stale.
 */
export function registryWorkflowSource(store: WorkflowRegistryStore, options: { readonly donFamily?: string } = {}): WorkflowSource {
  const filter = options.donFamily === undefined ? {} : { donFamily: options.donFamily };
  let cache = new Map<string, { readonly updatedAtMs: number; readonly metadata: WorkflowMetadata }>();
  return Object.freeze({
    id: REGISTRY_SOURCE_ID,
    async list(): Promise<readonly WorkflowMetadata[]> {
      const versions = await store.listVersions(filter);
      const stale = versions.filter((v) => cache.get(v.workflowId)?.updatedAtMs !== v.updatedAtMs).map((v) => v.workflowId);
      const fresh = new Map((await store.getMany(stale)).map((row) => [row.workflowId, row]));
      const next = new Map<string, { readonly updatedAtMs: number; readonly metadata: WorkflowMetadata }>();
      const listed: WorkflowMetadata[] = [];
      for (const version of versions) {
        const row = fresh.get(version.workflowId);
        // A row deleted between the two queries is simply not listed this tick.
        let entry = row !== undefined ? { updatedAtMs: version.updatedAtMs, metadata: toMetadata(row) } : cache.get(version.workflowId);
        if (entry === undefined) continue;
        // The status is read every tick, so even two changes within one millisecond are seen.
        if (entry.metadata.status !== version.status) entry = { ...entry, metadata: Object.freeze({ ...entry.metadata, status: version.status }) };
        next.set(version.workflowId, entry);
        listed.push(entry.metadata);
      }
      cache = next;
      return listed;
    },
  });
}

function toMetadata(row: RegistryRow): WorkflowMetadata {
  return Object.freeze({
    workflowId: row.workflowId,
    owner: row.owner,
    name: row.name,
    tag: row.tag,
    status: row.status,
    binaryUrl: row.binaryUrl,
    configUrl: row.configUrl,
    secretsUrl: row.secretsUrl,
    attributes: row.attributes,
    donFamily: row.donFamily,
    createdAtMs: row.createdAtMs,
    source: REGISTRY_SOURCE_ID,
  });
}

function normalizeOwner(owner: string): string {
  const parsed = parseOwner(owner);
  if (parsed.kind !== "ok") throw ccrError(`${parsed.reason} (got ${JSON.stringify(owner)})`, Code.InvalidArgument);
  return parsed.owner;
}

function requireWorkflowId(value: string): string {
  const id = normalizeWorkflowId(value);
  if (id === undefined) throw ccrError(`workflow id must be 64 hex digits (got ${JSON.stringify(value)})`, Code.InvalidArgument);
  return id;
}

function checkConfigText(config: Uint8Array): void {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(config);
  } catch {
    throw ccrError("config must be UTF-8 text (the workflow node stores it as text)", Code.InvalidArgument);
  }
  if (text.includes("\u0000")) throw ccrError("config must not contain NUL characters", Code.InvalidArgument);
}

function idExists(workflowId: string) {
  return ccrError(
    `workflow id ${workflowId} already exists (WorkflowIDAlreadyExists): the same owner, name, binary and config give the same id; change one of them`,
    Code.AlreadyExists,
  );
}

function notFound(workflowId: string) {
  return ccrError(`workflow ${workflowId} does not exist (WorkflowDoesNotExist)`, Code.NotFound);
}

function notOwner(workflowId: string) {
  return ccrError(`workflow ${workflowId} belongs to another owner (CallerIsNotWorkflowOwner)`, Code.PermissionDenied);
}
