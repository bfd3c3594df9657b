/**
 * The workflow node (issue 7): the registry syncer, one engine per active workflow, routing of
 * confidential workflows to the enclave, execution records, and the artifact store / admin API
 * server. docs/workflow-node.md describes it as a whole.
 *
 *   const node = createWorkflowNode({ db, options: resolveWorkflowNodeOptions({...}), signer, confidentialClient, capabilityClient });
 *   const { artifactUrl } = await node.start();
 *   …
 *   await node.close();
 *
 * The database must be migrated first (the composition root runs `migrate`). `start()` marks
 * executions a previous run left 'started' as cancelled, starts the artifact server, runs the first
 * sync tick (which rebuilds the engines of every active workflow) and then ticks every
 * `syncIntervalMs`. `close()` stops the syncer,
 * closes every engine (draining running executions), the artifact server and, when it owns it, the
 * WASM runtime.
 */
import type { Client } from "@connectrpc/connect";
import type { Capability, ConfidentialWorkflows } from "../../contract/index.js";
import { systemClock, type Clock, type RandomBytes } from "../../domain/clock.js";
import type { Ed25519Signer } from "../../domain/crypto/ed25519.js";
import type { Db } from "../../store/db.js";
import { createWorkflowArtifactsStore } from "../../store/workflow-artifacts.js";
import { createWorkflowExecutionsStore, type WorkflowExecutionsStore } from "../../store/workflow-executions.js";
import { createWorkflowRegistryStore } from "../../store/workflow-registry.js";
import { createWorkflowSpecsStore } from "../../store/workflow-specs.js";
import { WasmRuntime } from "../../wasm/wasm-runtime.js";
import { createArtifactFetcher, type ArtifactFetcher } from "./artifact-fetcher.js";
import { createArtifactServer } from "./artifact-server.js";
import { capabilityCallerFromClient, noCapabilities } from "./capability-caller.js";
import type { BinaryURLResolver } from "./confidential-module.js";
import type { WorkflowEngine } from "./engine.js";
import type { EngineFactoryDeps, LocalModuleFactory } from "./engine-factory.js";
import { EngineRegistry } from "./engine-registry.js";
import { createWorkflowEventHandler } from "./handler.js";
import { silentLogger, type WorkflowNodeLogger } from "./module.js";
import type { WorkflowNodeOptions } from "./options.js";
import { registryWorkflowSource, WorkflowRegistry } from "./registry.js";
import { createSystemScheduler, type Scheduler } from "./scheduler.js";
import { WorkflowSyncer, type WorkflowSource } from "./syncer.js";
import { wasmModuleFactory } from "./wasm-module.js";
import { randomBytes as nodeRandomBytes } from "node:crypto";

export { resolveWorkflowNodeOptions, type WorkflowNodeOptions, type WorkflowNodeOptionsInput } from "./options.js";
export type { BinaryURLResolver } from "./confidential-module.js";
export type { LocalModuleFactory } from "./engine-factory.js";

export interface WorkflowNodeDeps {
  /** A migrated database. */
  readonly db: Db;
  readonly options: WorkflowNodeOptions;
  /** The workflow node's ed25519 identity: signs each confidential execution's authorization. */
  readonly signer: Ed25519Signer;
  /** The enclave host. Absent: confidential workflows are refused (never run locally). */
  readonly confidentialClient?: Client<typeof ConfidentialWorkflows>;
  /** The Capability service, for locally run workflows. Absent: their capability calls fail. */
  readonly capabilityClient?: Client<typeof Capability>;
  readonly binaryUrlResolver?: BinaryURLResolver;
  /** How non-confidential guests run; default a WasmModule on `wasmRuntime`. */
  readonly localModule?: LocalModuleFactory;
  /** The shared WASM runtime; default one the node creates (and closes). */
  readonly wasmRuntime?: WasmRuntime;
  /** Default: http(s)/file fetch with the options' size cap and timeout. */
  readonly fetchArtifact?: ArtifactFetcher;
  /** Extra sources besides the registry table (tests). */
  readonly sources?: readonly WorkflowSource[];
  readonly logger?: WorkflowNodeLogger;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  readonly randomBytes?: RandomBytes;
}

export interface WorkflowNodeEndpoints {
  /** Base URL of the artifact store and admin API, e.g. http://127.0.0.1:40123. */
  readonly artifactUrl: string;
}

export interface WorkflowNode {
  start(): Promise<WorkflowNodeEndpoints>;
  close(): Promise<void>;
  readonly registry: WorkflowRegistry;
  readonly syncer: WorkflowSyncer;
  readonly engines: EngineRegistry<WorkflowEngine>;
  readonly executions: WorkflowExecutionsStore;
}

export const INTERRUPTED_EXECUTION_ERROR = "interrupted: the workflow node stopped before the execution finished";

export function createWorkflowNode(deps: WorkflowNodeDeps): WorkflowNode {
  const { db, options } = deps;
  const logger = (deps.logger ?? silentLogger).child({ svc: "workflow-node" });
  const clock = deps.clock ?? systemClock;
  const scheduler = deps.scheduler ?? createSystemScheduler();
  const randomBytes = deps.randomBytes ?? ((n: number) => new Uint8Array(nodeRandomBytes(n)));

  const registryStore = createWorkflowRegistryStore(db.sql);
  const specs = createWorkflowSpecsStore(db.sql);
  const executions = createWorkflowExecutionsStore(db.sql);
  const artifacts = createWorkflowArtifactsStore(db.sql);
  const engines = new EngineRegistry<WorkflowEngine>();

  const ownsRuntime = deps.localModule === undefined && deps.wasmRuntime === undefined;
  let runtime: WasmRuntime | undefined = deps.wasmRuntime;
  const localModule: LocalModuleFactory =
    deps.localModule ??
    ((input) => {
      runtime ??= new WasmRuntime({ clock, defaultTimeoutMs: options.executionTimeoutMs });
      return wasmModuleFactory(runtime, { timeoutMs: options.executionTimeoutMs })(input);
    });

  const engineFactory: EngineFactoryDeps = {
    executions,
    capabilities: deps.capabilityClient === undefined ? noCapabilities : capabilityCallerFromClient(deps.capabilityClient),
    limits: {
      maxConcurrentExecutions: options.maxConcurrentExecutions,
      maxQueuedExecutions: options.maxQueuedExecutions,
      executionTimeoutMs: options.executionTimeoutMs,
      maxResponseSizeBytes: options.maxResponseSizeBytes,
    },
    clock,
    scheduler,
    randomBytes,
    logger,
    localModule,
    ...(deps.confidentialClient === undefined
      ? {}
      : {
          confidential: {
            client: deps.confidentialClient,
            signer: deps.signer,
            orgId: options.orgId,
            ...(deps.binaryUrlResolver === undefined ? {} : { binaryUrlResolver: deps.binaryUrlResolver }),
          },
        }),
  };

  const handler = createWorkflowEventHandler({
    specs,
    engines,
    fetchArtifact: deps.fetchArtifact ?? createArtifactFetcher({ maxBytes: options.artifactMaxBytes, timeoutMs: options.artifactFetchTimeoutMs }),
    engineFactory,
    clock,
    logger,
    concurrency: options.syncConcurrency,
  });
  const syncer = new WorkflowSyncer({
    sources: [
      registryWorkflowSource(registryStore, options.donFamily === undefined ? {} : { donFamily: options.donFamily }),
      ...(deps.sources ?? []),
    ],
    handler,
    engines,
    clock,
    scheduler,
    syncIntervalMs: options.syncIntervalMs,
    logger,
  });

  let artifactBase: string | undefined;
  const registry = new WorkflowRegistry({
    store: registryStore,
    artifacts,
    artifactUrl: (sha256) => {
      if (artifactBase === undefined) throw new Error("the artifact store is not listening yet; start the workflow node first");
      return `${artifactBase}/artifacts/${sha256}`;
    },
    clock,
  });
  const server = createArtifactServer({
    host: options.artifactHost,
    port: options.artifactPort,
    maxArtifactBytes: options.artifactMaxBytes,
    adminToken: options.adminToken,
    artifacts,
    registry,
    engines,
    executions,
    syncer,
    logger,
  });

  let started: Promise<WorkflowNodeEndpoints> | undefined;
  let closing: Promise<void> | undefined;
  return Object.freeze({
    registry,
    syncer,
    engines,
    executions,
    start(): Promise<WorkflowNodeEndpoints> {
      started ??= (async () => {
        const interrupted = await executions.cancelStarted(INTERRUPTED_EXECUTION_ERROR, clock.nowMs());
        if (interrupted > 0) logger.warn({ executions: interrupted }, "marked executions cut off by the last stop as cancelled");
        const bound = await server.listen();
        artifactBase = options.artifactPublicUrl ?? bound;
        // The first reconciliation before answering, so a started node runs its workflows (failures
        // are retried by later ticks, not raised here).
        await syncer.tick().catch((error: unknown) => logger.error({ err: error instanceof Error ? error.message : String(error) }, "first sync tick failed"));
        syncer.start(options.syncIntervalMs);
        return { artifactUrl: bound };
      })();
      return started;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        await syncer.close();
        const all = engines.popAll();
        await Promise.allSettled(all.map((entry) => entry.engine.close()));
        await server.close();
        if (ownsRuntime && runtime !== undefined) await runtime.close();
        logger.info({ engines: all.length }, "workflow node stopped");
      })();
      return closing;
    },
  });
}
