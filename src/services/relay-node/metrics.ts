/**
 * Relay node metrics, on an injected prom-client registry (one registry per node, so several nodes
 * can share a process). Labels are closed sets: method names, outcome kinds, Connect code names and
 * the attestation module's rejection codes — never request data.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { Code } from "../../domain/errors.js";
import type { RelayMethodName } from "../../contract/relay-hash.js";

/**
 * - ok: a signed result (secrets or capability);
 * - rejected: a signed RelayError (invalid params, config mismatch, attestation, authorization, …);
 * - failure: an unsigned NodeFailure (vault/capability unreachable, overloaded, internal);
 * - canceled: the gateway or caller no longer wanted the answer;
 * - timeout: the per-request deadline passed.
 */
export type RequestOutcome = "ok" | "rejected" | "failure" | "canceled" | "timeout";

export class RelayNodeMetrics {
  private readonly requests: Counter<"method" | "outcome" | "code">;
  private readonly duration: Histogram<"method" | "outcome">;
  private readonly attestationVerdicts: Counter<"verdict">;
  private readonly attestationCache: Counter<"result">;
  private readonly gatewayConnected: Gauge<"gateway_id">;
  private readonly inFlight: Gauge<"gateway_id">;
  private readonly devMode: Gauge;
  private cacheHits = 0;
  private cacheMisses = 0;

  constructor(readonly registry: Registry = new Registry()) {
    const registers = [registry];
    this.requests = new Counter({
      name: "ccr_relay_node_requests_total",
      help: "Relay requests handled, by method, outcome and Connect code.",
      labelNames: ["method", "outcome", "code"],
      registers,
    });
    this.duration = new Histogram({
      name: "ccr_relay_node_request_duration_seconds",
      help: "Time from receiving a relay request to its answer.",
      labelNames: ["method", "outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.attestationVerdicts = new Counter({
      name: "ccr_relay_node_attestation_verdicts_total",
      help: 'Attestation checks by verdict: "ok" or the rejection code.',
      labelNames: ["verdict"],
      registers,
    });
    this.attestationCache = new Counter({
      name: "ccr_relay_node_attestation_cache_total",
      help: "Attestation document cache lookups: hit (verified before) or miss (full verification).",
      labelNames: ["result"],
      registers,
    });
    const self = this;
    new Gauge({
      name: "ccr_relay_node_attestation_cache_hit_ratio",
      help: "Share of attestation checks answered from the document cache since start.",
      registers,
      collect() {
        const total = self.cacheHits + self.cacheMisses;
        this.set(total === 0 ? 0 : self.cacheHits / total);
      },
    });
    this.devMode = new Gauge({
      name: "ccr_relay_node_attestation_dev_mode",
      help: "1 when the node accepts dev attestation roots and debug PCRs (never in production).",
      registers,
    });
    this.gatewayConnected = new Gauge({
      name: "ccr_relay_node_gateway_connected",
      help: "1 while the node's stream to the gateway is past the handshake.",
      labelNames: ["gateway_id"],
      registers,
    });
    this.inFlight = new Gauge({
      name: "ccr_relay_node_in_flight_requests",
      help: "Relay requests being worked on, per gateway stream.",
      labelNames: ["gateway_id"],
      registers,
    });
  }

  /** `code` null means OK (Connect has no OK code). */
  request(method: RelayMethodName, outcome: RequestOutcome, code: Code | null, seconds: number): void {
    const codeName = code === null ? "OK" : Code[code];
    this.child(this.requests, `${method}|${outcome}|${codeName}`, [method, outcome, codeName]).inc();
    this.child(this.duration, `${method}|${outcome}`, [method, outcome]).observe(seconds);
  }

  attestation(verdict: string, cache: "hit" | "miss"): void {
    this.child(this.attestationVerdicts, verdict, [verdict]).inc();
    this.child(this.attestationCache, cache, [cache]).inc();
    if (cache === "hit") this.cacheHits++;
    else this.cacheMisses++;
  }

  /**
   * Labelled children, looked up once per label set: prom-client hashes the labels on every
   * `labels()` call, and this runs on every request. The label sets are closed, so this stays small.
   */
  private readonly children = new Map<object, Map<string, unknown>>();

  private child<C>(metric: { labels(...values: string[]): C }, key: string, values: string[]): C {
    let perMetric = this.children.get(metric);
    if (perMetric === undefined) {
      perMetric = new Map();
      this.children.set(metric, perMetric);
    }
    let c = perMetric.get(key) as C | undefined;
    if (c === undefined) {
      c = metric.labels(...values);
      perMetric.set(key, c);
    }
    return c;
  }

  setDevMode(on: boolean): void {
    this.devMode.set(on ? 1 : 0);
  }

  setGatewayConnected(gatewayId: string, connected: boolean): void {
    this.gatewayConnected.labels(gatewayId).set(connected ? 1 : 0);
  }

  /** Called twice per request (taken, answered): through the cached child, like `request`. */
  setInFlight(gatewayId: string, count: number): void {
    this.child(this.inFlight, gatewayId, [gatewayId]).set(count);
  }
}
