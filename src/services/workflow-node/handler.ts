/**
 * The syncer's event handler (reference chainlink-workflows.md §4, §8.2 `Handle`), working on a
 * batch of events at a time so that a tick touching thousands of workflows costs a few statements:
 *
 * Activated (idempotent):
 *   1. one query loads the stored specs of every event's workflow;
 *   2. workflows without a spec get their artifacts fetched (bounded concurrency) and their spec
 *      written in one multi-row upsert, `attributes` included (§4.1); a stored spec is reused as
 *      is — artifacts and attributes are fixed per workflow id — and only its status is set active;
 *   3. per workflow, unless an engine already runs (then: done), `tryEngineCreate` (§4.2):
 *      re-derive the id from the artifacts ("workflowID mismatch: …"), check the name, parse the
 *      attributes ("failed to parse workflow attributes: …" — fail closed, no engine, the syncer
 *      retries), build the engine through the one construction path (engine-factory.ts), start it
 *      and wait for its init ("engine initialization failed: …", the engine is closed), and register
 *      it ("invariant violation: …" on a duplicate, the new engine is closed).
 * Paused / Deleted (PR era: a pause is a delete; idempotent): close each engine (draining its
 * running executions), delete the specs in one statement, then unregister the engines. An engine
 * stays registered until its spec is gone, so a failure half-way is seen again by the next tick.
 *
 * Each event gets its own outcome; one workflow's failure never fails the others (except a failing
 * database, which fails the events that needed it).
 */
import { ConnectError } from "@connectrpc/connect";
import { toChecksumAddress } from "../../domain/ethereum/address.js";
import { parseWorkflowAttributes } from "../../domain/workflow/attributes.js";
import type { WorkflowEvent, WorkflowMetadata } from "../../domain/workflow/reconcile.js";
import { checkWorkflowName, deriveWorkflowIdHex, ownerSpecHex } from "../../domain/workflow/workflow-id.js";
import type { Clock } from "../../domain/clock.js";
import type { WorkflowSpecRecord, WorkflowSpecRow, WorkflowSpecsStore } from "../../store/workflow-specs.js";
import type { ArtifactFetcher } from "./artifact-fetcher.js";
import type { WorkflowEngine } from "./engine.js";
import { buildWorkflowEngine, type EngineFactoryDeps } from "./engine-factory.js";
import type { EngineRegistry } from "./engine-registry.js";
import type { WorkflowNodeLogger } from "./module.js";

export type HandleOutcome = { readonly kind: "ok" } | { readonly kind: "failed"; readonly error: string };

export interface WorkflowEventHandler {
  /** Handles the events (in order where it matters) and answers one outcome per event, in order. */
  handleBatch(events: readonly WorkflowEvent[]): Promise<readonly HandleOutcome[]>;
}

export interface WorkflowEventHandlerDeps {
  readonly specs: WorkflowSpecsStore;
  readonly engines: EngineRegistry<WorkflowEngine>;
  readonly fetchArtifact: ArtifactFetcher;
  readonly engineFactory: EngineFactoryDeps;
  readonly clock: Clock;
  readonly logger: WorkflowNodeLogger;
  /** Artifact fetches and engine starts in flight at once. */
  readonly concurrency: number;
}

const OK: HandleOutcome = Object.freeze({ kind: "ok" });
const WASM_FILE_SPEC_TYPE = "wasm_file";

export function createWorkflowEventHandler(deps: WorkflowEventHandlerDeps): WorkflowEventHandler {
  const { specs, engines, logger } = deps;

  async function handleStops(events: readonly Exclude<WorkflowEvent, { type: "activated" }>[]): Promise<HandleOutcome[]> {
    const outcomes: HandleOutcome[] = events.map(() => OK);
    // 1. Close engines (idempotent; drains running executions).
    await forEachLimited(events, deps.concurrency, async (event, index) => {
      const entry = engines.get(event.workflowId);
      if (entry === undefined) return;
      try {
        await entry.engine.close();
      } catch (error) {
        outcomes[index] = failed(`failed to close workflow engine: ${messageOf(error)}`);
      }
    });
    // 2. Remove the specs of those that closed, in one statement.
    const closed = events.filter((_, index) => outcomes[index]?.kind === "ok");
    try {
      await specs.deleteMany(closed.map((event) => event.workflowId));
    } catch (error) {
      const reason = failed(`failed to delete workflow spec: ${messageOf(error)}`);
      events.forEach((_, index) => {
        if (outcomes[index]?.kind === "ok") outcomes[index] = reason;
      });
      return outcomes;
    }
    // 3. Unregister (a missing engine is success: the handler is idempotent).
    for (const event of closed) {
      if (engines.has(event.workflowId)) engines.pop(event.workflowId);
      logger.info({ workflowId: event.workflowId, event: event.type }, event.type === "paused" ? "workflow paused" : "workflow deleted");
    }
    return outcomes;
  }

  async function handleActivations(events: readonly Extract<WorkflowEvent, { type: "activated" }>[]): Promise<HandleOutcome[]> {
    const outcomes: HandleOutcome[] = events.map(() => OK);
    const nowMs = deps.clock.nowMs();
    // Already running (e.g. a retry after a partial failure): nothing to do.
    const todo = events.map((event, index) => ({ event, index })).filter(({ event }) => !engines.has(event.workflowId));
    if (todo.length === 0) return outcomes;

    // 1.
    let stored: ReadonlyMap<string, WorkflowSpecRow>;
    try {
      stored = await specs.getMany(todo.map(({ event }) => event.workflowId));
    } catch (error) {
      const reason = failed(`failed to read workflow specs: ${messageOf(error)}`);
      for (const { index } of todo) outcomes[index] = reason;
      return outcomes;
    }

    // 2.
    const binaries = new Map<string, Uint8Array>();
    const created: WorkflowSpecRecord[] = [];
    const createdIndexes: number[] = [];
    await forEachLimited(todo, deps.concurrency, async ({ event, index }) => {
      if (stored.has(event.workflowId)) return;
      try {
        const { spec, binary } = await createWorkflowSpec(event.metadata);
        binaries.set(event.workflowId, binary);
        created.push(spec);
        createdIndexes.push(index);
      } catch (error) {
        outcomes[index] = failed(messageOf(error));
      }
    });
    try {
      await specs.upsertMany(created, nowMs);
      const reactivated = [...stored.values()].filter((spec) => spec.status !== "active").map((spec) => spec.workflowId);
      await specs.setStatusMany(reactivated, "active", nowMs);
    } catch (error) {
      const reason = failed(`failed to upsert workflow spec: ${messageOf(error)}`);
      for (const { index } of todo) if (outcomes[index]?.kind === "ok") outcomes[index] = reason;
      return outcomes;
    }

    // 3.
    const createdById = new Map(created.map((spec) => [spec.workflowId, spec]));
    await forEachLimited(todo, deps.concurrency, async ({ event, index }) => {
      if (outcomes[index]?.kind !== "ok") return;
      const spec = stored.get(event.workflowId) ?? createdById.get(event.workflowId);
      if (spec === undefined) return;
      try {
        const binary = binaries.get(event.workflowId) ?? new Uint8Array(Buffer.from(spec.workflow, "hex"));
        await tryEngineCreate(spec, binary, event.metadata);
      } catch (error) {
        const message = messageOf(error);
        outcomes[index] = failed(message);
        logger.warn({ workflowId: event.workflowId, err: message }, "workflow engine not created");
      }
    });
    return outcomes;
  }

  /** Upstream `createWorkflowSpec` (§4.1), minus the write (batched by the caller). */
  async function createWorkflowSpec(metadata: WorkflowMetadata): Promise<{ spec: WorkflowSpecRecord; binary: Uint8Array }> {
    const [binary, config] = await Promise.all([
      deps.fetchArtifact(metadata.binaryUrl, "binary"),
      metadata.configUrl === "" ? Promise.resolve(new Uint8Array(0)) : deps.fetchArtifact(metadata.configUrl, "config"),
    ]);
    let configText: string;
    try {
      configText = new TextDecoder("utf-8", { fatal: true }).decode(config);
    } catch {
      throw new Error(`config artifact at ${metadata.configUrl} is not UTF-8 text`);
    }
    if (configText.includes("\u0000")) throw new Error(`config artifact at ${metadata.configUrl} contains a NUL character`);
    const spec: WorkflowSpecRecord = {
      workflow: Buffer.from(binary).toString("hex"),
      config: configText,
      workflowId: metadata.workflowId,
      workflowOwner: ownerSpecHex(metadata.owner),
      workflowName: metadata.name,
      workflowTag: metadata.tag,
      status: "active",
      binaryUrl: metadata.binaryUrl,
      configUrl: metadata.configUrl,
      specType: WASM_FILE_SPEC_TYPE,
      attributes: metadata.attributes,
    };
    return { spec, binary };
  }

  /** Upstream `tryEngineCreate` (§4.2). */
  async function tryEngineCreate(spec: WorkflowSpecRecord, binary: Uint8Array, metadata: WorkflowMetadata): Promise<void> {
    const config = new TextEncoder().encode(spec.config);
    const derived = deriveWorkflowIdHex({
      owner: spec.workflowOwner,
      name: spec.workflowName,
      binary,
      config,
      secretsUrl: metadata.secretsUrl,
    });
    if (derived !== spec.workflowId) throw new Error(`workflowID mismatch: ${derived} != ${spec.workflowId}`);
    const name = checkWorkflowName(spec.workflowName);
    if (name.kind !== "ok") throw new Error(`invalid workflow name: ${name.reason}`);
    // Routing input. Fail closed: malformed attributes never fall through to local execution.
    const attributes = parseWorkflowAttributes(spec.attributes);
    if (attributes.kind !== "ok") throw new Error(attributes.reason);

    let engine: WorkflowEngine;
    try {
      engine = await buildWorkflowEngine(
        {
          workflowId: spec.workflowId,
          owner: toChecksumAddress(`0x${spec.workflowOwner}`),
          name: spec.workflowName,
          tag: spec.workflowTag,
          binaryUrl: spec.binaryUrl,
          binary,
          config,
          attributes: attributes.attributes,
        },
        deps.engineFactory,
      );
    } catch (error) {
      throw new Error(`failed to create workflow engine: ${messageOf(error)}`, { cause: error });
    }
    try {
      await engine.start();
    } catch (error) {
      await engine.close().catch(() => undefined);
      throw new Error(`engine initialization failed: ${messageOf(error)}`, { cause: error });
    }
    try {
      engines.add(spec.workflowId, metadata.source, engine);
    } catch (error) {
      await engine.close().catch((closeError: unknown) => {
        throw new Error(`failed to close workflow engine: ${messageOf(closeError)} during invariant violation: ${messageOf(error)}`);
      });
      const existing = engines.get(spec.workflowId);
      if (existing !== undefined && existing.source !== metadata.source) {
        logger.warn(
          { workflowId: spec.workflowId, attemptedSource: metadata.source, existingSource: existing.source },
          "WorkflowID collision detected: workflow already exists from different source",
        );
      }
      throw new Error(`invariant violation: ${messageOf(error)}`, { cause: error });
    }
  }

  return Object.freeze({
    async handleBatch(events: readonly WorkflowEvent[]): Promise<readonly HandleOutcome[]> {
      // The same event twice in one batch is handled once (both get its outcome).
      const firstIndex = new Map<string, number>();
      const stops: { event: Exclude<WorkflowEvent, { type: "activated" }>; index: number }[] = [];
      const activations: { event: Extract<WorkflowEvent, { type: "activated" }>; index: number }[] = [];
      events.forEach((event, index) => {
        const key = `${event.type}:${event.workflowId}`;
        if (firstIndex.has(key)) return;
        firstIndex.set(key, index);
        if (event.type === "activated") activations.push({ event, index });
        else stops.push({ event, index });
      });
      const byIndex = new Map<number, HandleOutcome>();
      // Pauses and deletes first (§8.2).
      const stopOutcomes = await handleStops(stops.map((s) => s.event));
      stops.forEach((s, i) => byIndex.set(s.index, stopOutcomes[i] ?? OK));
      const activationOutcomes = await handleActivations(activations.map((a) => a.event));
      activations.forEach((a, i) => byIndex.set(a.index, activationOutcomes[i] ?? OK));
      return events.map((event) => byIndex.get(firstIndex.get(`${event.type}:${event.workflowId}`) ?? -1) ?? OK);
    },
  });
}

function failed(error: string): HandleOutcome {
  return { kind: "failed", error };
}

function messageOf(error: unknown): string {
  if (error instanceof ConnectError) return error.rawMessage;
  return error instanceof Error ? error.message : String(error);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  });
  await Promise.all(workers);
}
