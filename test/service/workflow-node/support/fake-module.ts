/**
 * A scripted ModuleV2 for engine, handler and syncer tests: it answers Subscribe with the given
 * subscriptions and each trigger with what `onTrigger` returns, recording every call.
 */
import { create } from "@bufbuild/protobuf";
import { sdk } from "../../../../src/contract/index.js";
import type { ExecutionHelper, ModuleExecuteOptions, ModuleV2 } from "../../../../src/services/workflow-node/module.js";

export interface SubscriptionSpec {
  readonly id: string;
  readonly payload?: unknown;
}

export interface ModuleCall {
  readonly kind: "subscribe" | "trigger";
  readonly executionId: string;
  readonly triggerIndex?: number;
  readonly payload?: string;
  readonly config: string;
}

export type TriggerScript = (call: ModuleCall, helper: ExecutionHelper, options: ModuleExecuteOptions) => Promise<sdk.ExecutionResult> | sdk.ExecutionResult;

export class FakeModule implements ModuleV2 {
  readonly calls: ModuleCall[] = [];
  started = 0;
  closed = 0;

  constructor(
    private readonly subscriptions: readonly SubscriptionSpec[] | sdk.ExecutionResult,
    private readonly onTrigger: TriggerScript = () => valueResult("ok"),
  ) {}

  start(): void {
    this.started++;
  }

  close(): void {
    this.closed++;
  }

  isLegacyDAG(): boolean {
    return false;
  }

  async execute(request: sdk.ExecuteRequest, helper: ExecutionHelper, options: ModuleExecuteOptions = {}): Promise<sdk.ExecutionResult> {
    const config = new TextDecoder().decode(request.config);
    if (request.request.case === "subscribe") {
      this.calls.push({ kind: "subscribe", executionId: helper.getWorkflowExecutionId(), config });
      if (!Array.isArray(this.subscriptions)) return this.subscriptions as sdk.ExecutionResult;
      return subscriptionsResult(this.subscriptions as readonly SubscriptionSpec[]);
    }
    if (request.request.case !== "trigger") throw new Error("neither subscribe nor trigger");
    const call: ModuleCall = {
      kind: "trigger",
      executionId: helper.getWorkflowExecutionId(),
      triggerIndex: Number(request.request.value.id),
      payload: new TextDecoder().decode(request.request.value.payload),
      config,
    };
    this.calls.push(call);
    return this.onTrigger(call, helper, options);
  }

  triggerCalls(): ModuleCall[] {
    return this.calls.filter((c) => c.kind === "trigger");
  }
}

export function subscriptionsResult(subscriptions: readonly SubscriptionSpec[]): sdk.ExecutionResult {
  return create(sdk.ExecutionResultSchema, {
    result: {
      case: "triggerSubscriptions",
      value: {
        subscriptions: subscriptions.map((s) => ({
          id: s.id,
          method: "Trigger",
          payload: new TextEncoder().encode(JSON.stringify(s.payload ?? {})),
        })),
      },
    },
  });
}

export function valueResult(text: string): sdk.ExecutionResult {
  return create(sdk.ExecutionResultSchema, { result: { case: "value", value: { kind: { case: "stringValue", value: text } } } });
}

export function errorResult(message: string): sdk.ExecutionResult {
  return create(sdk.ExecutionResultSchema, { result: { case: "error", value: message } });
}

export const CRON = (schedule: string): SubscriptionSpec => ({ id: "cron-trigger@1.0.0", payload: { schedule } });
export const MANUAL: SubscriptionSpec = { id: "manual-trigger@1.0.0" };

/** A promise with its resolver, to hold a fake execution open. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
