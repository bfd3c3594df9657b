/**
 * Capability.Execute on the transport's lean gRPC path (`capability.leanRoutes` given to
 * `createServer({ leanUnary })`): plain gRPC calls — the relay nodes' — skip the connect handler,
 * and get the same answers, errors and memo as calls on every other protocol.
 */
import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capability, CapabilityExecuteResponseSchema, type CapabilityExecuteRequest } from "../../../src/contract/index.js";
import { createCapabilityService, resolveCapabilityOptions } from "../../../src/services/capability/index.js";
import { Http2SessionPool, createServiceClient, implement } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";

const OWNER = "0x14791697260E4c9A71f18484C9f997B308e59325";

describe("Capability on the lean gRPC path", () => {
  let server: TestServer;
  const sessions = new Http2SessionPool();
  let connectHandlerCalls = 0;

  beforeAll(async () => {
    const capability = createCapabilityService({ options: resolveCapabilityOptions({}), logger: pino({ level: "silent" }) });
    const viaConnect = capability.implementation.execute;
    server = await startTestServer([
      implement(Capability, {
        ...capability.implementation,
        // Counts the calls that reach the connect handler, to see which path served each call.
        execute: (req: CapabilityExecuteRequest, ctx: HandlerContext) => {
          connectHandlerCalls++;
          return viaConnect(req, ctx);
        },
      }),
    ], { leanUnary: capability.leanRoutes });
    capability.registerMetricsOn(server.server.metrics.registry);
  });

  afterAll(async () => {
    sessions.closeAll();
    await server.close();
  });

  const request = (referenceId: string, capabilityId = "echo@1.0.0") => ({
    capabilityId,
    payload: Buffer.from(JSON.stringify({ hello: "lean" })),
    metadata: { workflowId: "wf-lean", owner: OWNER, executionId: "exec-lean", referenceId },
  });

  it("serves gRPC calls without the connect handler, with the bytes Connect callers get, from one memo", async () => {
    const grpc = createServiceClient(Capability, { baseUrl: server.url, protocol: "grpc", sessions });
    const connect = createServiceClient(Capability, { baseUrl: server.url, protocol: "connect", httpVersion: "1.1" });
    const before = connectHandlerCalls;
    const lean = await grpc.execute(request("ref-1"));
    expect(connectHandlerCalls).toBe(before);
    const viaConnect = await connect.execute(request("ref-1"));
    expect(connectHandlerCalls).toBe(before + 1);
    expect(Buffer.from(toBinary(CapabilityExecuteResponseSchema, lean))).toEqual(Buffer.from(toBinary(CapabilityExecuteResponseSchema, viaConnect)));
    expect(Buffer.from(lean.payload).toString()).toBe('{"hello":"lean"}');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('ccr_capability_memo_lookups_total{result="computed"} 1');
    expect(metrics).toContain('ccr_capability_memo_lookups_total{result="hit"} 1');
  });

  it("answers the same errors with the same codes", async () => {
    const grpc = createServiceClient(Capability, { baseUrl: server.url, protocol: "grpc", sessions });
    const missing = await grpc.execute(request("ref-2", "nope@1.0.0")).catch((e: unknown) => ConnectError.from(e));
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    expect((missing as ConnectError).rawMessage).toBe("capability nope@1.0.0 is not registered; List shows the registered capabilities");
    const invalid = await grpc.execute({ ...request("ref-3"), metadata: { ...request("ref-3").metadata, owner: "0x12" } }).catch((e: unknown) => ConnectError.from(e));
    expect((invalid as ConnectError).code).toBe(Code.InvalidArgument);
    expect((invalid as ConnectError).rawMessage).toMatch(/^metadata\.owner: /);
  });
});
