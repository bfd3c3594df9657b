/**
 * The enclave host's metrics. Labels carry outcomes, methods and sources only — never workflow
 * ids, owners, URLs or anything a secret could be derived from.
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from "prom-client";

export interface EnclaveMetrics {
  registerOn(target: Registry): void;
  /** Execute calls by outcome: value, error, subscriptions, trap, memory_limit, or an error code name. */
  readonly executions: Counter<"outcome">;
  /** Execute handling time, from admission to answer. */
  readonly executionDuration: Histogram<"outcome">;
  /** Executions admitted and not yet answered. */
  readonly inFlight: Gauge;
  /** Guest loads by source: cache, fetched, or the failure kind. */
  readonly binaryLoads: Counter<"result">;
  /** Relay calls by method and outcome (ok, relay_error, certificate_invalid, transport, malformed, cancelled, attestation). */
  readonly relayCalls: Counter<"method" | "outcome">;
  /** Relay receipts not returned because an execution exceeded MAX_RELAY_RECEIPTS. */
  readonly relayReceiptsDropped: Counter;
  /** Attestation documents produced, by purpose (session, per_request, info). */
  readonly attestationDocuments: Counter<"purpose">;
  /** 1 when documents come from the dev producer (not a real NSM). */
  readonly devAttestation: Gauge;
}

export function createEnclaveMetrics(registry?: Registry): EnclaveMetrics {
  const registers = registry === undefined ? [] : [registry];
  const metrics = {
    executions: new Counter({ name: "ccr_enclave_executions_total", help: "Execute calls by outcome.", labelNames: ["outcome"] as const, registers }),
    executionDuration: new Histogram({
      name: "ccr_enclave_execution_duration_seconds",
      help: "Execute handling time by outcome.",
      labelNames: ["outcome"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    inFlight: new Gauge({ name: "ccr_enclave_executions_in_flight", help: "Executions admitted and not yet answered.", registers }),
    binaryLoads: new Counter({ name: "ccr_enclave_binary_loads_total", help: "Workflow binary loads by result.", labelNames: ["result"] as const, registers }),
    relayCalls: new Counter({ name: "ccr_enclave_relay_calls_total", help: "Relay calls by method and outcome.", labelNames: ["method", "outcome"] as const, registers }),
    relayReceiptsDropped: new Counter({
      name: "ccr_enclave_relay_receipts_dropped_total",
      help: "Relay receipts not returned because an execution made more relay calls than the response carries receipts for.",
      registers,
    }),
    attestationDocuments: new Counter({
      name: "ccr_enclave_attestation_documents_total",
      help: "Attestation documents produced by purpose.",
      labelNames: ["purpose"] as const,
      registers,
    }),
    devAttestation: new Gauge({ name: "ccr_enclave_dev_attestation", help: "1 when attestation documents come from the dev producer, not an NSM.", registers }),
  };
  const all: Metric[] = Object.values(metrics);
  return Object.freeze({
    ...metrics,
    registerOn(target: Registry): void {
      for (const metric of all) target.registerMetric(metric);
    },
  });
}
