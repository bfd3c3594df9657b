/**
 * Gateway metrics, registered on the server's prom-client registry. Label children on the hot path
 * (per node, per method) are resolved once, so recording costs no label hashing per answer.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RelayMethodName } from "../../contract/index.js";
import { RelayMethod } from "../../contract/index.js";

/** Request outcomes (label `outcome`). */
export type RequestOutcome =
  | "ok"
  | "relay_error"
  | "invalid"
  | "duplicate_id"
  | "edge_rejected"
  | "rate_limited"
  | "capacity"
  | "forward_failed"
  | "unobtainable"
  | "expired"
  | "canceled"
  | "shutdown";

/** Per-node answer outcomes (label `outcome`). */
export const ANSWER_OUTCOMES = [
  "ok",
  "divergent",
  "bad_signature",
  "hash_mismatch",
  "late",
  "duplicate",
  "rate_limited",
  "failure",
] as const;
export type AnswerOutcome = (typeof ANSWER_OUTCOMES)[number];

/** Quorum failure reasons (label `reason`). */
export type QuorumFailureReason = "forward_failed" | "unobtainable" | "expired";

type CounterChild = { inc(value?: number): void };
type HistogramChild = { observe(value: number): void };

export class GatewayMetrics {
  private readonly requests: Counter<"method" | "outcome">;
  private readonly latency: Histogram<"method">;
  private readonly inFlight: Gauge;
  private readonly nodeAnswers: Counter<"node" | "outcome">;
  private readonly nodeLatency: Histogram<"node">;
  private readonly quorumFailures: Counter<"reason">;
  private readonly connected: Gauge;
  private readonly handshakes: Counter<"outcome">;
  private readonly latencyByMethod: Record<RelayMethodName, HistogramChild>;
  private readonly answerChildren: Record<AnswerOutcome, CounterChild>[];
  private readonly nodeLatencyChildren: HistogramChild[];
  private readonly requestChildren = new Map<string, CounterChild>();

  constructor(registry: Registry, nodeNames: readonly string[]) {
    const registers = [registry];
    this.requests = new Counter({
      name: "ccr_gateway_requests_total",
      help: "Relay requests by method and outcome.",
      labelNames: ["method", "outcome"],
      registers,
    });
    this.latency = new Histogram({
      name: "ccr_gateway_request_duration_seconds",
      help: "Relay request latency at the gateway, from arrival to answer.",
      labelNames: ["method"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.inFlight = new Gauge({
      name: "ccr_gateway_requests_in_flight",
      help: "Relay requests waiting for a quorum.",
      registers,
    });
    this.nodeAnswers = new Counter({
      name: "ccr_gateway_node_answers_total",
      help: "Node answers by node and outcome (ok, divergent, bad_signature, hash_mismatch, late, duplicate, rate_limited, failure).",
      labelNames: ["node", "outcome"],
      registers,
    });
    this.nodeLatency = new Histogram({
      name: "ccr_gateway_node_answer_duration_seconds",
      help: "Time from fan-out to a node's counted answer.",
      labelNames: ["node"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.quorumFailures = new Counter({
      name: "ccr_gateway_quorum_failures_total",
      help: "Requests that ended without a quorum, by reason (forward_failed, unobtainable, expired).",
      labelNames: ["reason"],
      registers,
    });
    this.connected = new Gauge({
      name: "ccr_gateway_nodes_connected",
      help: "DON members with a live authenticated stream.",
      registers,
    });
    this.handshakes = new Counter({
      name: "ccr_gateway_node_handshakes_total",
      help: "Node stream handshakes by outcome (accepted, refused).",
      labelNames: ["outcome"],
      registers,
    });
    this.latencyByMethod = {
      [RelayMethod.getSecrets]: this.latency.labels(RelayMethod.getSecrets),
      [RelayMethod.executeCapability]: this.latency.labels(RelayMethod.executeCapability),
    };
    this.answerChildren = nodeNames.map((node) => {
      const children = {} as Record<AnswerOutcome, CounterChild>;
      for (const outcome of ANSWER_OUTCOMES) children[outcome] = this.nodeAnswers.labels(node, outcome);
      return children;
    });
    this.nodeLatencyChildren = nodeNames.map((node) => this.nodeLatency.labels(node));
    this.inFlight.set(0);
    this.connected.set(0);
  }

  request(method: RelayMethodName, outcome: RequestOutcome, seconds?: number): void {
    const key = `${method} ${outcome}`;
    let child = this.requestChildren.get(key);
    if (child === undefined) {
      child = this.requests.labels(method, outcome);
      this.requestChildren.set(key, child);
    }
    child.inc();
    if (seconds !== undefined) this.latencyByMethod[method].observe(seconds);
  }

  setInFlight(n: number): void {
    this.inFlight.set(n);
  }

  answer(member: number, outcome: AnswerOutcome, count = 1): void {
    this.answerChildren[member]?.[outcome].inc(count);
  }

  answerLatency(member: number, seconds: number): void {
    this.nodeLatencyChildren[member]?.observe(seconds);
  }

  quorumFailure(reason: QuorumFailureReason): void {
    this.quorumFailures.labels(reason).inc();
  }

  setConnected(n: number): void {
    this.connected.set(n);
  }

  handshake(outcome: "accepted" | "refused"): void {
    this.handshakes.labels(outcome).inc();
  }
}
