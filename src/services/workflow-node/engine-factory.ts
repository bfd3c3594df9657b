/**
 * The one engine-construction path (reference chainlink-workflows.md §4.2–4.4). Routing is a single
 * decision — which module runs the guest — and everything else about the engine is shared:
 *
 *   attributes.confidential ? ConfidentialModule (the enclave) : the local module (WasmModule)
 *
 * Upstream's first version had a separate `tryConfidentialEngineCreate` that duplicated engine
 * set-up; review rejected it, and the merged shape is a symmetric choice of module with shared
 * config (`newV2EngineConfig`). Here that is literal: `buildWorkflowEngine` picks the module and
 * passes it to the same `WorkflowEngine` constructor with the same config either way. Tests and the
 * benchmark swap the *local module factory*, never the path, so confidential routing is exercised
 * by the same code production runs (upstream's test hooks bypassed the confidential branch, §4.2
 * note).
 *
 * A confidential workflow on a node without a ConfidentialWorkflows endpoint fails closed: it is
 * never run locally instead.
 */
import { createHash } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import type { ConfidentialWorkflows } from "../../contract/index.js";
import type { Clock, RandomBytes } from "../../domain/clock.js";
import type { Ed25519Signer } from "../../domain/crypto/ed25519.js";
import { Code, ccrError } from "../../domain/errors.js";
import type { WorkflowAttributes } from "../../domain/workflow/attributes.js";
import type { WorkflowExecutionsStore } from "../../store/workflow-executions.js";
import type { CapabilityCaller } from "./capability-caller.js";
import { ConfidentialModule, type BinaryURLResolver } from "./confidential-module.js";
import { WorkflowEngine, type EngineLimits } from "./engine.js";
import type { ModuleV2, WorkflowNodeLogger } from "./module.js";
import type { Scheduler } from "./scheduler.js";

/** Builds the module that runs a guest on this node (WasmModule in production). */
export type LocalModuleFactory = (input: {
  readonly workflowId: string;
  readonly workflowName: string;
  readonly owner: string;
  readonly binary: Uint8Array;
  readonly logger: WorkflowNodeLogger;
}) => ModuleV2 | Promise<ModuleV2>;

export interface ConfidentialRouting {
  readonly client: Client<typeof ConfidentialWorkflows>;
  readonly signer: Ed25519Signer;
  readonly binaryUrlResolver?: BinaryURLResolver;
  readonly orgId?: string;
}

export interface EngineFactoryDeps {
  readonly executions: WorkflowExecutionsStore;
  readonly capabilities: CapabilityCaller;
  readonly limits: EngineLimits;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly randomBytes: RandomBytes;
  readonly logger: WorkflowNodeLogger;
  readonly localModule: LocalModuleFactory;
  /** Absent: confidential workflows are refused (never run locally). */
  readonly confidential?: ConfidentialRouting;
}

export interface EngineSpec {
  readonly workflowId: string;
  /** EIP-55 owner address. */
  readonly owner: string;
  readonly name: string;
  readonly tag: string;
  /** The raw registry binary URL (what the enclave fetches). */
  readonly binaryUrl: string;
  /** The binary artifact exactly as stored. */
  readonly binary: Uint8Array;
  readonly config: Uint8Array;
  readonly attributes: WorkflowAttributes;
}

/** Upstream `ComputeBinaryHash`: SHA-256 of the artifact bytes as stored (32 raw bytes). */
export function computeBinaryHash(binary: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(binary).digest());
}

export async function buildWorkflowEngine(spec: EngineSpec, deps: EngineFactoryDeps): Promise<WorkflowEngine> {
  const confidential = spec.attributes.confidential;
  const logger = deps.logger.child({ workflowId: spec.workflowId, workflowName: spec.name, workflowOwner: spec.owner });
  let module: ModuleV2;
  if (confidential) {
    const routing = deps.confidential;
    if (routing === undefined) {
      throw ccrError(
        `workflow ${spec.workflowId} is confidential, but this workflow node has no ConfidentialWorkflows endpoint configured; it will not run it outside an enclave`,
        Code.FailedPrecondition,
      );
    }
    logger.info({}, "routing workflow to confidential execution");
    module = new ConfidentialModule({
      client: routing.client,
      binaryUrl: spec.binaryUrl,
      binaryHash: computeBinaryHash(spec.binary),
      workflowId: spec.workflowId,
      workflowOwner: spec.owner,
      workflowName: spec.name,
      workflowTag: spec.tag,
      vaultDonSecrets: spec.attributes.vaultDonSecrets,
      signer: routing.signer,
      ...(routing.binaryUrlResolver === undefined ? {} : { binaryUrlResolver: routing.binaryUrlResolver }),
      ...(routing.orgId === undefined ? {} : { orgId: routing.orgId }),
      logger,
    });
  } else {
    module = await deps.localModule({ workflowId: spec.workflowId, workflowName: spec.name, owner: spec.owner, binary: spec.binary, logger });
  }
  return new WorkflowEngine({
    workflowId: spec.workflowId,
    owner: spec.owner,
    name: spec.name,
    tag: spec.tag,
    config: spec.config,
    module,
    confidential,
    executions: deps.executions,
    capabilities: deps.capabilities,
    limits: deps.limits,
    clock: deps.clock,
    scheduler: deps.scheduler,
    randomBytes: deps.randomBytes,
    logger: deps.logger,
  });
}
