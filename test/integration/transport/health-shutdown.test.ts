/**
 * grpc.health.v1 (Check, Watch, List) and graceful shutdown: the flip to NOT_SERVING, idle
 * connections closed, in-flight calls finishing within the grace, the rest aborted Unavailable.
 */
import * as net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { Capability, health } from "../../../src/contract/index.js";
import { createGrpcJsClient, createServiceClient, Http2SessionPool, ServingStatus } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { fakeCapability, type FakeCapability } from "./fake-capability.js";

const decoder = new TextDecoder();

let t: TestServer;
let fake: FakeCapability;
let sessions: Http2SessionPool;

beforeEach(async () => {
  fake = fakeCapability();
  sessions = new Http2SessionPool();
  t = await startTestServer([fake.registration]);
});

afterEach(async () => {
  fake.releaseSlow.resolve();
  sessions.closeAll();
  await t.close();
});

const healthClient = () => createServiceClient(health.Health, { baseUrl: t.url, protocol: "grpc", sessions });

describe("health", () => {
  it("checks the overall status and each registered service", async () => {
    const client = healthClient();
    expect((await client.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await client.check({ service: "ccr.v1.Capability" })).status).toBe(ServingStatus.SERVING);
    const error = await client.check({ service: "ccr.v1.Nope" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("lists every status", async () => {
    const { statuses } = await healthClient().list({});
    expect(Object.fromEntries(Object.entries(statuses).map(([k, v]) => [k, v.status]))).toEqual({
      "": ServingStatus.SERVING,
      "ccr.v1.Capability": ServingStatus.SERVING,
    });
  });

  it("watches a service's status as the service changes it", async () => {
    const stream = healthClient().watch({ service: "ccr.v1.Capability" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    t.server.health.set("ccr.v1.Capability", ServingStatus.NOT_SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    t.server.health.set("ccr.v1.Capability", ServingStatus.SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    await stream.return?.();
  });

  it("watches an unknown service as SERVICE_UNKNOWN until it is known", async () => {
    const stream = healthClient().watch({ service: "later" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
    t.server.health.set("later", ServingStatus.SERVING);
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    await stream.return?.();
  });

  it("tells watchers NOT_SERVING on shutdown, then ends their streams", async () => {
    const stream = healthClient().watch({ service: "" })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.status).toBe(ServingStatus.SERVING);
    const closing = t.server.close({ graceMs: 20_000 });
    expect((await stream.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    expect((await stream.next()).done).toBe(true);
    // The watch ended by itself, so nothing had to be cut.
    expect(await closing).toEqual({ abortedCalls: 0, destroyedConnections: 0 });
    expect(t.server.health.get("ccr.v1.Capability")).toBe(ServingStatus.NOT_SERVING);
  });
});

describe("graceful shutdown", () => {
  it("closes idle HTTP/2 and HTTP/1.1 client connections instead of waiting out the grace", async () => {
    await createServiceClient(Capability, { baseUrl: t.url, protocol: "grpc", sessions }).execute({ capabilityId: "echo@1" });
    await createServiceClient(Capability, { baseUrl: t.url, protocol: "connect", sessions }).execute({ capabilityId: "echo@1" });
    await createServiceClient(Capability, { baseUrl: t.url, protocol: "connect", httpVersion: "1.1" }).execute({
      capabilityId: "echo@1",
    });
    const grpcJs = createGrpcJsClient(Capability, t.url);
    await grpcJs.unary.execute({ capabilityId: "echo@1" });
    try {
      // A grace far beyond the test timeout: this only passes if idle connections are closed.
      expect(await t.server.close({ graceMs: 600_000 })).toEqual({ abortedCalls: 0, destroyedConnections: 0 });
    } finally {
      grpcJs.close();
    }
  });

  it("lets an in-flight call finish, refuses new connections meanwhile", async () => {
    const h2Call = createServiceClient(Capability, { baseUrl: t.url, protocol: "grpc", sessions }).execute({ capabilityId: "slow@1" });
    await fake.slowStarted.promise;
    const closing = t.server.close({ graceMs: 600_000 });
    expect(t.server.health.get("")).toBe(ServingStatus.NOT_SERVING);
    await expect(
      new Promise((resolve, reject) => {
        const socket = net.connect(t.port, "127.0.0.1", () => resolve(socket.destroy()));
        socket.on("error", reject);
      }),
    ).rejects.toMatchObject({ code: "ECONNREFUSED" });
    fake.releaseSlow.resolve();
    expect(decoder.decode((await h2Call).payload)).toBe("slow done");
    expect(await closing).toEqual({ abortedCalls: 0, destroyedConnections: 0 });
  });

  it("lets an in-flight HTTP/1.1 call finish and then closes its connection", async () => {
    const call = fetch(`${t.url}/ccr.v1.Capability/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ capabilityId: "slow@1" }),
    });
    await fake.slowStarted.promise;
    const closing = t.server.close({ graceMs: 600_000 });
    fake.releaseSlow.resolve();
    const response = await call;
    expect(response.status).toBe(200);
    expect(response.headers.get("connection")).toBe("close");
    expect(await closing).toEqual({ abortedCalls: 0, destroyedConnections: 0 });
  });

  it("aborts calls still running at the end of the grace with Unavailable \"server shutting down\"", async () => {
    const stuck = fakeCapability();
    const s = await startTestServer([stuck.registration], { allowForcedClose: true });
    try {
      const call = createServiceClient(Capability, { baseUrl: s.url, protocol: "grpc", sessions })
        .execute({ capabilityId: "slow@1" })
        .catch((e: unknown) => ConnectError.from(e));
      await stuck.slowStarted.promise;
      const summary = await s.server.close({ graceMs: 50 });
      const error = await call;
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.Unavailable);
      expect((error as ConnectError).rawMessage).toBe("server shutting down");
      expect(summary.abortedCalls).toBe(1);
      expect(s.logs().find((l) => l.msg === "rpc failed")).toMatchObject({ code: "Unavailable", error: "server shutting down" });
    } finally {
      stuck.releaseSlow.resolve();
      await s.close();
    }
  });
});
