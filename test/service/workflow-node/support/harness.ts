/**
 * A workflow node wired from its parts on fake time, in memory: a scripted registry source, the
 * real handler, syncer, engine factory (routing) and engines, an in-memory ConfidentialWorkflows
 * (createRouterTransport) and a FakeModule per locally run workflow.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  ConfidentialWorkflows,
  type ConfidentialWorkflowRequest,
  ConfidentialWorkflowResponseSchema,
  sdk,
  type RelayReceipt,
} from "../../../../src/contract/index.js";
import { ManualClock } from "../../../../src/domain/clock.js";
import { generateEd25519 } from "../../../../src/domain/crypto/ed25519.js";
import type { WorkflowMetadata, WorkflowStatus } from "../../../../src/domain/workflow/reconcile.js";
import { deriveWorkflowIdHex } from "../../../../src/domain/workflow/workflow-id.js";
import type { ArtifactFetcher } from "../../../../src/services/workflow-node/artifact-fetcher.js";
import { noCapabilities } from "../../../../src/services/workflow-node/capability-caller.js";
import type { WorkflowEngine } from "../../../../src/services/workflow-node/engine.js";
import type { EngineFactoryDeps } from "../../../../src/services/workflow-node/engine-factory.js";
import { EngineRegistry } from "../../../../src/services/workflow-node/engine-registry.js";
import { createWorkflowEventHandler, type WorkflowEventHandler } from "../../../../src/services/workflow-node/handler.js";
import { silentLogger as silent } from "../../../../src/services/workflow-node/module.js";
import { ManualScheduler } from "../../../../src/services/workflow-node/scheduler.js";
import { WorkflowSyncer, type WorkflowSource } from "../../../../src/services/workflow-node/syncer.js";
import { FakeModule, MANUAL, subscriptionsResult, valueResult, type SubscriptionSpec } from "./fake-module.js";
import { MemoryExecutionsStore, MemorySpecsStore } from "./memory-stores.js";

export const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
export const SOURCE = "registry:workflow_registry";
export const T0 = Date.UTC(2026, 0, 1);

/** A registry source the test edits directly. */
export class ScriptedSource implements WorkflowSource {
  readonly id = SOURCE;
  readonly workflows = new Map<string, WorkflowMetadata>();
  lists = 0;
  private failures = 0;

  failNextList(times = 1): void {
    this.failures += times;
  }

  async list(): Promise<readonly WorkflowMetadata[]> {
    this.lists++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error("registry RPC timed out");
    }
    return [...this.workflows.values()];
  }

  setStatus(workflowId: string, status: WorkflowStatus): void {
    const current = this.workflows.get(workflowId);
    if (current === undefined) throw new Error(`no workflow ${workflowId}`);
    this.workflows.set(workflowId, { ...current, status });
  }
}

export interface Artifacts {
  readonly binaries: Map<string, Uint8Array>;
  fetches: string[];
  failing: Set<string>;
}

export interface HarnessOptions {
  /** Serve confidential workflows (default true). */
  readonly confidential?: boolean;
  readonly clock?: ManualClock;
  readonly specs?: MemorySpecsStore;
  readonly executions?: MemoryExecutionsStore;
  readonly artifacts?: Artifacts;
  readonly source?: ScriptedSource;
  /** Subscriptions every local FakeModule answers with (default: one manual trigger). */
  readonly subscriptions?: readonly SubscriptionSpec[];
}

export function createHarness(options: HarnessOptions = {}) {
  const clock = options.clock ?? new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const specs = options.specs ?? new MemorySpecsStore();
  const executions = options.executions ?? new MemoryExecutionsStore();
  const source = options.source ?? new ScriptedSource();
  const artifacts: Artifacts = options.artifacts ?? { binaries: new Map(), fetches: [], failing: new Set() };
  const engines = new EngineRegistry<WorkflowEngine>();
  const log: string[] = [];

  // Local modules, by workflow id.
  const localModules = new Map<string, FakeModule>();
  const subscriptions = options.subscriptions ?? [MANUAL];

  // The enclave: answers Subscribe with a manual trigger and a trigger with `enclave.result`
  // ("enclave-output") and `enclave.receipts` (none) — or fails it with `enclave.error`.
  const enclaveRequests: ConfidentialWorkflowRequest[] = [];
  const enclave: { result: sdk.ExecutionResult; receipts: RelayReceipt[]; error: ConnectError | undefined } = {
    result: valueResult("enclave-output"),
    receipts: [],
    error: undefined,
  };
  const transport = createRouterTransport(({ service }) => {
    service(ConfidentialWorkflows, {
      execute(request) {
        enclaveRequests.push(request);
        const execute = fromBinary(sdk.ExecuteRequestSchema, request.execution?.executeRequest ?? new Uint8Array());
        log.push(`enclave ${execute.request.case} ${request.execution?.workflowId.slice(0, 8)}`);
        if (execute.request.case === "subscribe") {
          return create(ConfidentialWorkflowResponseSchema, { executionResult: toBinary(sdk.ExecutionResultSchema, subscriptionsResult(subscriptions)) });
        }
        if (enclave.error !== undefined) throw enclave.error;
        return create(ConfidentialWorkflowResponseSchema, { executionResult: toBinary(sdk.ExecutionResultSchema, enclave.result), relayReceipts: enclave.receipts });
      },
      info() {
        throw new ConnectError("not used", Code.Unimplemented);
      },
    });
  });
  const { signer } = generateEd25519();

  const fetchArtifact: ArtifactFetcher = async (url) => {
    artifacts.fetches.push(url);
    if (artifacts.failing.has(url)) throw new ConnectError(`failed to fetch workflow binary from ${url}: HTTP 503`, Code.Unavailable);
    const bytes = artifacts.binaries.get(url);
    if (bytes === undefined) throw new ConnectError(`failed to fetch workflow binary from ${url}: HTTP 404`, Code.Unavailable);
    return bytes;
  };

  const engineFactory: EngineFactoryDeps = {
    executions,
    capabilities: noCapabilities,
    limits: { maxConcurrentExecutions: 2, maxQueuedExecutions: 10, executionTimeoutMs: 30_000, maxResponseSizeBytes: 100_000 },
    clock,
    scheduler,
    randomBytes: (n) => new Uint8Array(n).fill(7),
    logger: silent,
    localModule: ({ workflowId }) => {
      log.push(`local module ${workflowId.slice(0, 8)}`);
      const module = new FakeModule(subscriptions);
      const close = module.close.bind(module);
      module.close = () => {
        log.push(`close ${workflowId.slice(0, 8)}`);
        close();
      };
      localModules.set(workflowId, module);
      return module;
    },
    ...(options.confidential === false ? {} : { confidential: { client: createClient(ConfidentialWorkflows, transport), signer } }),
  };

  const handler: WorkflowEventHandler = createWorkflowEventHandler({
    specs,
    engines,
    fetchArtifact,
    engineFactory,
    clock,
    logger: silent,
    concurrency: 4,
  });
  const syncer = new WorkflowSyncer({ sources: [source], handler, engines, clock, scheduler, syncIntervalMs: 12_000, logger: silent });

  let counter = 0;
  /** Registers a workflow in the source (and its artifacts in the fake artifact store). */
  function register(input: { name?: string; attributes?: string | Uint8Array; status?: WorkflowStatus; config?: string } = {}): WorkflowMetadata {
    counter++;
    const name = input.name ?? `workflow-${counter}`;
    const binary = new TextEncoder().encode(`\0asm-binary-of-${name}-${counter}`);
    const config = new TextEncoder().encode(input.config ?? `{"n":${counter}}`);
    const workflowId = deriveWorkflowIdHex({ owner: OWNER, name, binary, config });
    const binaryUrl = `http://artifacts.test/artifacts/${workflowId}/binary`;
    const configUrl = `http://artifacts.test/artifacts/${workflowId}/config`;
    artifacts.binaries.set(binaryUrl, binary);
    artifacts.binaries.set(configUrl, config);
    const attributes = typeof input.attributes === "string" ? new TextEncoder().encode(input.attributes) : input.attributes ?? new Uint8Array(0);
    const metadata: WorkflowMetadata = {
      workflowId,
      owner: OWNER,
      name,
      tag: "latest",
      status: input.status ?? "active",
      binaryUrl,
      configUrl,
      secretsUrl: "",
      attributes,
      donFamily: "",
      createdAtMs: clock.nowMs(),
      source: SOURCE,
    };
    source.workflows.set(workflowId, metadata);
    return metadata;
  }

  return { clock, scheduler, specs, executions, source, artifacts, engines, handler, syncer, register, localModules, enclave, enclaveRequests, log, signer };
}

export type Harness = ReturnType<typeof createHarness>;
