/**
 * WasmModule: the ModuleV2 that runs a workflow's guest on this node (upstream `host.NewModule`,
 * reference chainlink-workflows.md §1.2), for workflows that are not confidential.
 *
 * It owns no WASM machinery: compiling, memory caps, the worker pool, blocking host calls and time
 * limits are the shared runtime's (src/wasm, also used by the enclave host; docs/wasm-abi.md). This
 * module only converts at the edge — sdk.ExecuteRequest → the runtime's GuestRequest, the engine's
 * ExecutionHelper → the runtime's HostCalls, RunOutcome → sdk.ExecutionResult:
 * - value / error / subscriptions → the ExecutionResult with that outcome;
 * - a trap or the guest's memory limit → an ExecutionResult error (the workflow failed, not the
 *   node), as the enclave host does;
 * - timeout → DeadlineExceeded; at-capacity → ResourceExhausted; cancelled → Canceled (the engine
 *   records these as timed out / failed).
 * The guest is compiled when the module is built (`createWasmModule`), so a binary that is not a
 * valid guest fails engine creation: "could not instantiate module: …" (upstream's wording).
 *
 * Capability calls go through the helper to the Capability service; secret requests are answered
 * with per-secret errors (capability-caller.ts explains why local workflows get no secrets).
 */
import { create, fromJson, type JsonValue as ProtoJsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { sdk } from "../../contract/index.js";
import { Code, ccrError } from "../../domain/errors.js";
import type { CapabilityResponse, GuestRequest, HostCalls, RunOutcome, SecretsResponse } from "../../wasm/guest-abi.js";
import type { CompiledGuest, WasmRuntime } from "../../wasm/wasm-runtime.js";
import type { LocalModuleFactory } from "./engine-factory.js";
import type { ExecutionHelper, ModuleExecuteOptions, ModuleV2 } from "./module.js";

export interface WasmModuleConfig {
  readonly runtime: WasmRuntime;
  readonly guest: CompiledGuest;
  /** Wall-clock limit the runtime enforces per execution (the engine's own deadline also applies). */
  readonly timeoutMs: number;
}

export class WasmModule implements ModuleV2 {
  constructor(private readonly config: WasmModuleConfig) {}

  start(): void {}

  /** The runtime is shared by every workflow of the node; its compiled-module cache is bounded. */
  close(): void {}

  isLegacyDAG(): boolean {
    return false;
  }

  async execute(request: sdk.ExecuteRequest, helper: ExecutionHelper, options: ModuleExecuteOptions = {}): Promise<sdk.ExecutionResult> {
    const outcome = await this.config.runtime.run({
      module: this.config.guest,
      request: toGuestRequest(request),
      host: hostCalls(helper),
      limits: { timeoutMs: this.config.timeoutMs, maxResultBytes: Number(request.maxResponseSize) },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return toExecutionResult(outcome);
  }
}

/** Compiles the binary with the shared runtime; the LocalModuleFactory of a workflow node. */
export function wasmModuleFactory(runtime: WasmRuntime, options: { readonly timeoutMs: number }): LocalModuleFactory {
  return async ({ binary }) => {
    const compiled = await runtime.compile(binary);
    if (compiled.kind !== "ok") {
      const reason = compiled.kind === "hash-mismatch" ? "binary hash mismatch" : compiled.message;
      throw ccrError(`could not instantiate module: ${reason}`, Code.InvalidArgument);
    }
    return new WasmModule({ runtime, guest: compiled.guest, timeoutMs: options.timeoutMs });
  };
}

function toGuestRequest(request: sdk.ExecuteRequest): GuestRequest {
  switch (request.request.case) {
    case "subscribe":
      return { kind: "subscribe", config: request.config };
    case "trigger":
      return { kind: "trigger", config: request.config, triggerId: request.request.value.id, payload: request.request.value.payload };
    default:
      throw ccrError("ExecuteRequest has neither subscribe nor trigger", Code.InvalidArgument);
  }
}

function hostCalls(helper: ExecutionHelper): HostCalls {
  return {
    async callCapability(request): Promise<CapabilityResponse> {
      const response = await helper.callCapability(
        create(sdk.CapabilityRequestSchema, { id: request.id, method: request.method, payload: request.payload }),
      );
      switch (response.response.case) {
        case "payload":
          return { kind: "payload", payload: response.response.value };
        case "error":
          return { kind: "error", error: response.response.value };
        default:
          return { kind: "error", error: `capability ${request.id} returned no response` };
      }
    },
    async getSecrets(request): Promise<SecretsResponse> {
      const answers = await helper.getSecrets(
        create(sdk.GetSecretsRequestSchema, { requests: request.requests.map((r) => ({ id: r.id, namespace: r.namespace })) }),
      );
      return {
        responses: request.requests.map((asked, index) => {
          const answer = answers[index]?.response;
          if (answer?.case === "secret") return { kind: "secret", id: answer.value.id, namespace: answer.value.namespace, value: answer.value.value };
          if (answer?.case === "error") return { kind: "error", id: answer.value.id, namespace: answer.value.namespace, error: answer.value.error };
          return { kind: "error", id: asked.id, namespace: asked.namespace, error: "no answer for this secret" };
        }),
      };
    },
    log(level, message): void {
      helper.emitUserLog(`[${level}] ${message}`);
    },
    nowMs(): number {
      return helper.getNodeTimeMs();
    },
  };
}

/** RunOutcome → ExecutionResult, or a thrown error for the runtime's own verdicts. */
export function toExecutionResult(outcome: RunOutcome): sdk.ExecutionResult {
  switch (outcome.kind) {
    case "value":
      return create(sdk.ExecutionResultSchema, {
        result: { case: "value", value: fromJson(ValueSchema, outcome.value as ProtoJsonValue) },
      });
    case "error":
      return create(sdk.ExecutionResultSchema, { result: { case: "error", value: outcome.message } });
    case "subscriptions":
      return create(sdk.ExecutionResultSchema, {
        result: {
          case: "triggerSubscriptions",
          value: { subscriptions: outcome.subscriptions.map((s) => ({ id: s.id, method: s.method, payload: s.payload })) },
        },
      });
    case "trap":
      return create(sdk.ExecutionResultSchema, { result: { case: "error", value: `guest trapped: ${outcome.message}` } });
    case "memory-limit":
      return create(sdk.ExecutionResultSchema, { result: { case: "error", value: `guest exceeded its memory limit: ${outcome.message}` } });
    case "timeout":
      throw ccrError(`execution exceeded the time limit of ${outcome.timeoutMs} ms`, Code.DeadlineExceeded);
    case "at-capacity":
      throw ccrError("the workflow runtime is at capacity; try again later", Code.ResourceExhausted);
    case "invalid-module":
      throw ccrError(`could not instantiate module: ${outcome.message}`, Code.InvalidArgument);
    case "cancelled":
      throw ccrError("execution cancelled", Code.Canceled);
  }
}
