/**
 * Prometheus metrics of one server, under the go-grpc-prometheus names so existing gRPC dashboards
 * work unchanged (recipe §7.2):
 *
 *   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
 *   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
 *   grpc_server_msg_received_total{grpc_type,grpc_service,grpc_method}
 *   grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
 *   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}   (histogram)
 *
 * `grpc_type` is unary | client_stream | server_stream | bidi_stream and `grpc_code` the title-case
 * code name (OK, NotFound, …). Each server has its own Registry (so several servers in one process
 * do not collide) that services extend with their own metrics via `server.metrics.registry`.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

export function grpcType(method: DescMethod): GrpcType {
  switch (method.methodKind) {
    case "unary":
      return "unary";
    case "client_streaming":
      return "client_stream";
    case "server_streaming":
      return "server_stream";
    case "bidi_streaming":
      return "bidi_stream";
  }
}

/** gRPC's title-case code name: Code.OK is not in Connect's enum, so 0 is "OK". */
export function grpcCodeName(code: Code | 0): string {
  return code === 0 ? "OK" : (Code[code] ?? "Unknown");
}

/** prometheus.DefBuckets, as go-grpc-prometheus uses. */
export const handlingSecondsBuckets: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

type MethodLabels = "grpc_type" | "grpc_service" | "grpc_method";

/** Label values of one method, computed once per call. */
export interface MethodLabelValues {
  readonly grpc_type: GrpcType;
  readonly grpc_service: string;
  readonly grpc_method: string;
}

export function methodLabels(method: DescMethod): MethodLabelValues {
  return { grpc_type: grpcType(method), grpc_service: method.parent.typeName, grpc_method: method.name };
}

export interface ServerMetricsOptions {
  /** Also collect prom-client's default process metrics (CPU, memory, event loop, GC). Default true. */
  readonly defaultMetrics?: boolean;
}

export class ServerMetrics {
  /** This server's registry: add service metrics with `registers: [server.metrics.registry]`. */
  readonly registry: Registry;
  private readonly started: Counter<MethodLabels>;
  private readonly handled: Counter<MethodLabels | "grpc_code">;
  private readonly received: Counter<MethodLabels>;
  private readonly sent: Counter<MethodLabels>;
  private readonly handling: Histogram<MethodLabels>;

  constructor(options: ServerMetricsOptions = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    const labelNames: MethodLabels[] = ["grpc_type", "grpc_service", "grpc_method"];
    this.started = new Counter({
      name: "grpc_server_started_total",
      help: "Total number of RPCs started on the server.",
      labelNames,
      registers,
    });
    this.handled = new Counter({
      name: "grpc_server_handled_total",
      help: "Total number of RPCs completed on the server, regardless of success or failure.",
      labelNames: [...labelNames, "grpc_code"],
      registers,
    });
    this.received = new Counter({
      name: "grpc_server_msg_received_total",
      help: "Total number of RPC stream messages received on the server.",
      labelNames,
      registers,
    });
    this.sent = new Counter({
      name: "grpc_server_msg_sent_total",
      help: "Total number of gRPC stream messages sent by the server.",
      labelNames,
      registers,
    });
    this.handling = new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
      labelNames,
      buckets: [...handlingSecondsBuckets],
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  callStarted(labels: MethodLabelValues): void {
    this.started.inc(labels);
  }

  messageReceived(labels: MethodLabelValues): void {
    this.received.inc(labels);
  }

  messageSent(labels: MethodLabelValues): void {
    this.sent.inc(labels);
  }

  callHandled(labels: MethodLabelValues, code: Code | 0, seconds: number): void {
    this.handled.inc({ ...labels, grpc_code: grpcCodeName(code) });
    this.handling.observe(labels, seconds);
  }

  /** The text exposition format, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
