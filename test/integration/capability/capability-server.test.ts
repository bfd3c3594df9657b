/**
 * The Capability service behind the real ccr server runtime: relay-node style gRPC calls sharing one
 * execution, Connect JSON as curl/grpcurl users send it, http-fetch to a local server, and metrics.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { toBinary } from "@bufbuild/protobuf";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capability, CapabilityExecuteResponseSchema } from "../../../src/contract/index.js";
import { createCapabilityService, resolveCapabilityOptions } from "../../../src/services/capability/index.js";
import { Http2SessionPool, createServiceClient, implement } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";

const OWNER = "0x14791697260E4c9A71f18484C9f997B308e59325";

describe("Capability over real sockets", () => {
  let server: TestServer;
  let upstream: http.Server;
  let upstreamUrl: string;
  let upstreamHits = 0;
  const sessions = new Http2SessionPool();

  beforeAll(async () => {
    upstream = http.createServer((_req, res) => {
      upstreamHits++;
      // Answer a little later so the concurrent calls below overlap with the execution.
      setTimeout(() => res.end(JSON.stringify({ price: 42 })), 50);
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/price`;
    const capability = createCapabilityService({
      options: resolveCapabilityOptions({ httpFetch: { allowedHosts: ["127.0.0.1"], allowInsecureHttp: true } }),
      logger: pino({ level: "silent" }),
    });
    server = await startTestServer([implement(Capability, capability.implementation)]);
    capability.registerMetricsOn(server.server.metrics.registry);
  });

  afterAll(async () => {
    sessions.closeAll();
    await server.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  it("gives N relay nodes calling at once the same bytes from one upstream request", async () => {
    const nodes = Array.from({ length: 4 }, () => createServiceClient(Capability, { baseUrl: server.url, protocol: "grpc", sessions }));
    const request = {
      capabilityId: "http-fetch@1.0.0",
      payload: Buffer.from(JSON.stringify({ url: upstreamUrl, headers: { Authorization: "Bearer wire-TOKEN-2718" } })),
      metadata: { workflowId: "wf-1", owner: OWNER, executionId: "exec-1", referenceId: "ref-1" },
    };
    const answers = await Promise.all(nodes.map((c) => c.execute(request)));
    expect(upstreamHits).toBe(1);
    expect(new Set(answers.map((a) => Buffer.from(toBinary(CapabilityExecuteResponseSchema, a)).toString("hex"))).size).toBe(1);
    expect(JSON.parse(Buffer.from(answers[0]!.payload).toString())).toMatchObject({ status: 200, body: '{"price":42}' });
    expect(server.rawLogs()).not.toContain("wire-TOKEN-2718");
  });

  it("answers plain Connect JSON over HTTP/1.1, as curl sends it", async () => {
    const res = await fetch(`${server.url}/ccr.v1.Capability/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        capabilityId: "echo@1.0.0",
        payload: Buffer.from('{"hi":1}').toString("base64"),
        metadata: { workflowId: "wf", owner: OWNER, executionId: "e", referenceId: "r" },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { payload: string };
    expect(Buffer.from(body.payload, "base64").toString()).toBe('{"hi":1}');
    const unknown = await fetch(`${server.url}/ccr.v1.Capability/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ capabilityId: "nope@1.0.0", metadata: { workflowId: "wf", owner: OWNER, executionId: "e", referenceId: "r" } }),
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "not_found", message: "capability nope@1.0.0 is not registered; List shows the registered capabilities" });
  });

  it("lists capabilities over the Connect client and publishes metrics", async () => {
    const client = createServiceClient(Capability, { baseUrl: server.url, sessions });
    expect((await client.list({})).capabilities.map((c) => c.id)).toEqual(["echo@1.0.0", "http-fetch@1.0.0"]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('ccr_capability_executions_total{capability="http-fetch@1.0.0",outcome="ok"} 1');
    // The three later nodes joined the running execution or hit its memoized answer.
    const count = (result: string): number => Number(new RegExp(`ccr_capability_memo_lookups_total\\{result="${result}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count("joined") + count("hit")).toBe(3);
  });
});
