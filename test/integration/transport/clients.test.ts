/**
 * The clients other services use: connect clients over a shared HTTP/2 session per target, and the
 * grpc-js client driven by protobuf-es schemas (deadlines, cancellation, metadata).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { Capability, health } from "../../../src/contract/index.js";
import { createGrpcJsClient, createServiceClient, Http2SessionPool } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { fakeCapability, type FakeCapability } from "./fake-capability.js";

let t: TestServer;
let fake: FakeCapability;
const sessions = new Http2SessionPool();

beforeAll(async () => {
  fake = fakeCapability();
  t = await startTestServer([fake.registration]);
});

afterAll(async () => {
  fake.releaseSlow.resolve();
  sessions.closeAll();
  await t.close();
});

describe("connect clients", () => {
  it("reach different services of one server over one pooled HTTP/2 session", async () => {
    const capability = createServiceClient(Capability, { baseUrl: t.url, protocol: "grpc", sessions });
    const healthClient = createServiceClient(health.Health, { baseUrl: t.url, protocol: "connect", sessions });
    await capability.execute({ capabilityId: "echo@1" });
    await healthClient.check({ service: "" });
    expect(sessions.size).toBe(1);
    expect(sessions.get(t.url).state()).toMatch(/^(open|idle)$/);
  });
});

describe("grpc-js client", () => {
  it("sends metadata and gets typed responses", async () => {
    const client = createGrpcJsClient(Capability, t.url);
    try {
      const answer = await client.unary.execute(
        { capabilityId: "echo@1", payload: new Uint8Array([7]) },
        { headers: { "x-caller": "interop" } },
      );
      expect(answer.$typeName).toBe("ccr.v1.CapabilityExecuteResponse");
      expect([...answer.payload]).toEqual([7]);
      expect(fake.lastHeaders?.get("x-caller")).toBe("interop");
    } finally {
      client.close();
    }
  });

  it("maps a deadline to DeadlineExceeded and an abort to Canceled", async () => {
    const client = createGrpcJsClient(Capability, t.url);
    try {
      const late = await client.unary.execute({ capabilityId: "slow@1" }, { timeoutMs: 100 }).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(ConnectError);
      expect((late as ConnectError).code).toBe(Code.DeadlineExceeded);

      const controller = new AbortController();
      const call = client.unary.execute({ capabilityId: "slow@1" }, { signal: controller.signal }).catch((e: unknown) => e);
      controller.abort();
      const canceled = await call;
      expect((canceled as ConnectError).code).toBe(Code.Canceled);
    } finally {
      client.close();
    }
  });
});
