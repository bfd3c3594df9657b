/**
 * The Vault's metrics, registered on the injected registry (the server serves it at /metrics).
 * Labels carry method names, outcome codes and memo results only — never owners, ids or values.
 */
import { Counter, Histogram, type Metric, type Registry } from "prom-client";

export interface VaultMetrics {
  /** Adds every metric of this service to `target` (once per registry). */
  registerOn(target: Registry): void;
  /** Calls by method and outcome (a Connect code name, "OK" on success). */
  readonly calls: Counter<"method" | "code">;
  /** Handling time by method. */
  readonly duration: Histogram<"method">;
  /** GetSecrets memo lookups: hit (memoized), joined (a computation in flight), computed. */
  readonly memo: Counter<"result">;
  /** Per-secret outcomes of computed GetSecrets answers. */
  readonly items: Counter<"outcome">;
}

/** Metrics on `registry` when given; `registerOn` adds them to another (e.g. the server's, created later). */
export function createVaultMetrics(registry?: Registry): VaultMetrics {
  const registers = registry === undefined ? [] : [registry];
  const metrics = {
    calls: new Counter({ name: "ccr_vault_calls_total", help: "Vault calls by method and outcome code.", labelNames: ["method", "code"] as const, registers }),
    duration: new Histogram({
      name: "ccr_vault_call_duration_seconds",
      help: "Vault call handling time by method.",
      labelNames: ["method"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    memo: new Counter({ name: "ccr_vault_memo_lookups_total", help: "GetSecrets memo lookups by result (hit, joined, computed).", labelNames: ["result"] as const, registers }),
    items: new Counter({ name: "ccr_vault_secret_results_total", help: "Per-secret outcomes of computed GetSecrets answers.", labelNames: ["outcome"] as const, registers }),
  };
  const all: Metric[] = Object.values(metrics);
  return Object.freeze({
    ...metrics,
    registerOn(target: Registry): void {
      for (const metric of all) target.registerMetric(metric);
    },
  });
}
