/**
 * The host module interface (reference chainlink-workflows.md §1.1, chainlink-common
 * `pkg/workflows/wasm/host/module.go`, PR era): what the engine runs a workflow through, whether the
 * guest runs here (WasmModule) or in an enclave (ConfidentialModule).
 *
 * `execute` answers an `ExecutionResult`; a result whose `error` is set is a successful call (the
 * workflow failed, the module did not). A rejected promise is the module failing.
 */
import type { sdk } from "../../contract/index.js";

/** What the engine lends a module for one execution (upstream `ExecutionHelper`). */
export interface ExecutionHelper {
  /** The 64-hex execution id; "" during the subscribe phase. */
  getWorkflowExecutionId(): string;
  /** Runs a capability call for the guest. A capability's own failure is a response with `error`. */
  callCapability(request: sdk.CapabilityRequest): Promise<sdk.CapabilityResponse>;
  /** The guest's secrets request, answered entry by entry in request order. */
  getSecrets(request: sdk.GetSecretsRequest): Promise<sdk.SecretResponse[]>;
  /** This node's clock, ms since the epoch (upstream `GetNodeTime`). */
  getNodeTimeMs(): number;
  /** A log line the guest emitted (upstream `EmitUserLog`). */
  emitUserLog(line: string): void;
  /**
   * [ccr] The relay DON members (ed25519 public keys, 64 lowercase hex) whose quorum certificates
   * vouched for relay answers this execution used; the engine records their union on the execution
   * row. A module whose guest makes no relay calls (WasmModule) never calls it.
   */
  recordRelaySigners(signers: readonly string[]): void;
}

export interface ModuleExecuteOptions {
  /** Aborted when the execution times out or the engine is forced to stop. */
  readonly signal?: AbortSignal;
}

/** Upstream `ModuleBase` + `ModuleV2`. */
export interface ModuleV2 {
  start(): void | Promise<void>;
  close(): void | Promise<void>;
  /** Upstream runs DAG (v1) workflows through another interface; every ccr module answers false. */
  isLegacyDAG(): boolean;
  execute(request: sdk.ExecuteRequest, helper: ExecutionHelper, options?: ModuleExecuteOptions): Promise<sdk.ExecutionResult>;
}

/** The slice of a pino logger the workflow node uses (pino's `Logger` satisfies it). */
export interface WorkflowNodeLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(bindings: Record<string, unknown>): WorkflowNodeLogger;
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: WorkflowNodeLogger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
});
