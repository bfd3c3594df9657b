/**
 * The Capability service's metrics on the injected registry. The capability label takes only
 * registered ids (or "unknown"), so callers cannot blow up its cardinality.
 */
import { Counter, Histogram, type Metric, type Registry } from "prom-client";

export interface CapabilityMetrics {
  /** Adds every metric of this service to `target` (once per registry). */
  registerOn(target: Registry): void;
  /** Calls by capability and outcome: "ok", "capability_error" (an answer with `error`), or the RPC error's code name. */
  readonly calls: Counter<"capability" | "outcome">;
  readonly duration: Histogram<"capability">;
  /** Memo lookups: hit (memoized), joined (an execution in flight), computed. */
  readonly memo: Counter<"result">;
  /** Executions actually run, by capability and outcome (ok, capability_error, exception). */
  readonly executions: Counter<"capability" | "outcome">;
}

/** Metrics on `registry` when given; `registerOn` adds them to another (e.g. the server's, created later). */
export function createCapabilityMetrics(registry?: Registry): CapabilityMetrics {
  const registers = registry === undefined ? [] : [registry];
  const metrics = {
    calls: new Counter({ name: "ccr_capability_calls_total", help: "Capability.Execute calls by capability and outcome.", labelNames: ["capability", "outcome"] as const, registers }),
    duration: new Histogram({
      name: "ccr_capability_call_duration_seconds",
      help: "Capability.Execute handling time by capability.",
      labelNames: ["capability"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    memo: new Counter({ name: "ccr_capability_memo_lookups_total", help: "Capability memo lookups by result (hit, joined, computed).", labelNames: ["result"] as const, registers }),
    executions: new Counter({ name: "ccr_capability_executions_total", help: "Capability executions run, by capability and outcome.", labelNames: ["capability", "outcome"] as const, registers }),
  };
  const all: Metric[] = Object.values(metrics);
  return Object.freeze({
    ...metrics,
    registerOn(target: Registry): void {
      for (const metric of all) target.registerMetric(metric);
    },
  });
}
