/**
 * `GET /metrics` with the go-grpc-prometheus series, services' own metrics, and the plain-HTTP
 * routes served through the adapter's fallback on the same port.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Counter } from "prom-client";
import { Code, ConnectError } from "@connectrpc/connect";
import { Capability, health, reflectionV1 } from "../../../src/contract/index.js";
import {
  createServiceClient,
  Http2SessionPool,
  readRequestBody,
  type HttpRoute,
} from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { fakeCapability } from "./fake-capability.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const jsonRpcRoute: HttpRoute = {
  method: "POST",
  path: "/",
  async handler(req, res, ctx) {
    const body = JSON.parse((await readRequestBody(req, ctx.readMaxBytes)).toString("utf8")) as { id: number; method: string };
    if (body.method === "explode") throw new Error("route bug with details nobody should see");
    if (body.method === "forbidden") throw new ConnectError("not allowed", Code.PermissionDenied);
    const answer = JSON.stringify({ jsonrpc: "2.0", id: body.id, result: body.method });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(answer);
  },
};

let t: TestServer;
let sessions: Http2SessionPool;

beforeEach(async () => {
  sessions = new Http2SessionPool();
  t = await startTestServer([fakeCapability().registration], { httpRoutes: [jsonRpcRoute], readMaxBytes: 2048 });
});

afterEach(async () => {
  sessions.closeAll();
  await t.close();
});

describe("/metrics", () => {
  it("shows the grpc_server_* series after calls", async () => {
    const capability = createServiceClient(Capability, { baseUrl: t.url, protocol: "grpc", sessions });
    await capability.execute({ capabilityId: "echo@1" });
    await capability.execute({ capabilityId: "missing@1" }).catch(() => undefined);
    await capability.execute({ capabilityId: "boom@1" }).catch(() => undefined);
    // A bidi stream with two messages each way, and a server stream.
    const reflection = createServiceClient(reflectionV1.ServerReflection, { baseUrl: t.url, protocol: "grpc", sessions });
    async function* two() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    }
    for await (const _ of reflection.serverReflectionInfo(two())) void _;
    const watch = createServiceClient(health.Health, { baseUrl: t.url, protocol: "grpc", sessions }).watch({ service: "" });
    for await (const _ of watch) break;

    const response = await fetch(`${t.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const samples = parseExposition(await response.text());
    const execute = { grpc_type: "unary", grpc_service: "ccr.v1.Capability", grpc_method: "Execute" };
    expect(valueOf(samples, "grpc_server_started_total", execute)).toBe(3);
    expect(valueOf(samples, "grpc_server_handled_total", { ...execute, grpc_code: "OK" })).toBe(1);
    expect(valueOf(samples, "grpc_server_handled_total", { ...execute, grpc_code: "NotFound" })).toBe(1);
    expect(valueOf(samples, "grpc_server_handled_total", { ...execute, grpc_code: "Internal" })).toBe(1);
    expect(valueOf(samples, "grpc_server_msg_received_total", execute)).toBe(3);
    expect(valueOf(samples, "grpc_server_msg_sent_total", execute)).toBe(1);
    expect(valueOf(samples, "grpc_server_handling_seconds_count", execute)).toBe(3);
    expect(valueOf(samples, "grpc_server_handling_seconds_bucket", { ...execute, le: "+Inf" })).toBe(3);

    const bidi = { grpc_type: "bidi_stream", grpc_service: "grpc.reflection.v1.ServerReflection", grpc_method: "ServerReflectionInfo" };
    expect(valueOf(samples, "grpc_server_msg_received_total", bidi)).toBe(2);
    expect(valueOf(samples, "grpc_server_msg_sent_total", bidi)).toBe(2);
    expect(valueOf(samples, "grpc_server_handled_total", { ...bidi, grpc_code: "OK" })).toBe(1);
    const serverStream = { grpc_type: "server_stream", grpc_service: "grpc.health.v1.Health", grpc_method: "Watch" };
    expect(valueOf(samples, "grpc_server_started_total", serverStream)).toBe(1);

    // prom-client's default process metrics are there too.
    expect(samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
    expect(samples.some((s) => s.name === "nodejs_eventloop_lag_seconds")).toBe(true);
  });

  it("includes metrics that services register on server.metrics.registry", async () => {
    new Counter({ name: "ccr_test_widgets_total", help: "Widgets.", registers: [t.server.metrics.registry] }).inc(3);
    const samples = parseExposition(await (await fetch(`${t.url}/metrics`)).text());
    expect(valueOf(samples, "ccr_test_widgets_total", {})).toBe(3);
  });

  it("answers only GET", async () => {
    expect((await fetch(`${t.url}/metrics`, { method: "POST" })).status).toBe(405);
  });
});

describe("plain-HTTP routes", () => {
  const post = (body: string) =>
    fetch(`${t.url}/`, { method: "POST", headers: { "content-type": "application/json" }, body });

  it("serves a registered route on the same port as the RPCs", async () => {
    const response = await post(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "confidential.secrets.get" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ jsonrpc: "2.0", id: 7, result: "confidential.secrets.get" });
    expect(t.logs().find((l) => l.msg === "http ok")).toMatchObject({ route: "POST /", status: 200 });
  });

  it("answers 405 for a known path with another method, 404 for an unknown path", async () => {
    const wrongMethod = await fetch(`${t.url}/`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
    expect((await fetch(`${t.url}/nope`)).status).toBe(404);
  });

  it("answers a route's thrown Error as a 500 internal error, logging the cause", async () => {
    const response = await post(JSON.stringify({ id: 1, method: "explode" }));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ code: "internal", message: "internal error" });
    expect(t.rawLogs()).toContain("route bug with details nobody should see");
  });

  it("answers a route's ConnectError with its HTTP status", async () => {
    const response = await post(JSON.stringify({ id: 1, method: "forbidden" }));
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ code: "permission_denied", message: "not allowed" });
  });

  it("refuses a body larger than readMaxBytes", async () => {
    const response = await post(JSON.stringify({ id: 1, method: "x".repeat(4096) }));
    expect(response.status).toBe(429);
    expect(await response.json()).toMatchObject({ code: "resource_exhausted" });
  });
});
