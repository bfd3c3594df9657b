/**
 * One port, every protocol: gRPC (grpc-js and connect clients), Connect over HTTP/1.1 (JSON) and
 * HTTP/2 (binary), gRPC-Web; the error mapping; limits; deadlines; the idle timeout.
 */
import * as net from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Capability, Vault } from "../../../src/contract/index.js";
import {
  createGrpcJsClient,
  createServiceClient,
  createServiceTransport,
  Http2SessionPool,
  type ServiceClientOptions,
} from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { fakeCapability, type FakeCapability } from "./fake-capability.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type ConnectVariant = { name: string; options: Omit<ServiceClientOptions, "baseUrl" | "sessions"> };
const connectVariants: ConnectVariant[] = [
  { name: "Connect, HTTP/1.1, JSON", options: { protocol: "connect", httpVersion: "1.1", useBinaryFormat: false } },
  { name: "Connect, HTTP/2, binary", options: { protocol: "connect", httpVersion: "2", useBinaryFormat: true } },
  { name: "gRPC (connect client), HTTP/2", options: { protocol: "grpc" } },
  { name: "gRPC-Web, HTTP/1.1, binary", options: { protocol: "grpc-web", httpVersion: "1.1" } },
  { name: "gRPC-Web, HTTP/2, binary", options: { protocol: "grpc-web", httpVersion: "2" } },
];

/** Runs `call` and returns the ConnectError it fails with. */
async function failure(call: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

describe("one port, every protocol", () => {
  let t: TestServer;
  let fake: FakeCapability;
  let sessions: Http2SessionPool;

  beforeEach(async () => {
    fake = fakeCapability();
    sessions = new Http2SessionPool();
    t = await startTestServer([fake.registration], { readMaxBytes: 1024 });
  });

  afterEach(async () => {
    fake.releaseSlow.resolve();
    sessions.closeAll();
    await t.close();
  });

  const client = (variant: ConnectVariant) =>
    createServiceClient(Capability, { baseUrl: t.url, sessions, ...variant.options });

  it.each(connectVariants)("answers a unary call over $name", async (variant) => {
    const answer = await client(variant).execute({ capabilityId: "echo@1", payload: encoder.encode("hello") });
    expect(decoder.decode(answer.payload)).toBe("hello");
  });

  it("answers a unary call from an @grpc/grpc-js client", async () => {
    const grpcJs = createGrpcJsClient(Capability, t.url);
    try {
      const answer = await grpcJs.unary.execute({ capabilityId: "echo@1", payload: encoder.encode("grpc-js") });
      expect(decoder.decode(answer.payload)).toBe("grpc-js");
    } finally {
      grpcJs.close();
    }
  });

  it("answers a plain HTTP/1.1 JSON POST (what curl sends) with Connect JSON", async () => {
    const response = await fetch(`${t.url}/ccr.v1.Capability/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ capabilityId: "echo@1", payload: "AQI=" }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ payload: "AQI=" });
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each(connectVariants)("passes an expected ConnectError through unchanged over $name", async (variant) => {
    const error = await failure(() => client(variant).execute({ capabilityId: "missing@1" }));
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe('capability "missing@1" is not registered');
  });

  it.each(connectVariants)("turns a thrown plain Error into Internal \"internal error\" over $name", async (variant) => {
    const error = await failure(() => client(variant).execute({ capabilityId: "boom@1" }));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error");
    const line = t.logs().find((l) => l.msg === "rpc failed" && l["code"] === "Internal");
    expect(line).toMatchObject({ rpc: "ccr.v1.Capability/Execute", error: "internal error" });
    expect(line?.["cause"]).toMatchObject({ type: "Error", message: "kaboom: the database is on fire" });
  });

  it("does not leak a thrown Error's message to a grpc-js client either", async () => {
    const grpcJs = createGrpcJsClient(Capability, t.url);
    try {
      const error = await failure(() => grpcJs.unary.execute({ capabilityId: "boom@1" }));
      expect(error.code).toBe(Code.Internal);
      expect(error.rawMessage).toBe("internal error");
    } finally {
      grpcJs.close();
    }
  });

  it.each(connectVariants)("answers a declared but unimplemented method with Unimplemented over $name", async (variant) => {
    const error = await failure(() => client(variant).list({}));
    expect(error.code).toBe(Code.Unimplemented);
  });

  it.each(connectVariants)("answers a method this server does not serve with Unimplemented over $name", async (variant) => {
    const vault = createClient(Vault, createServiceTransport({ baseUrl: t.url, sessions, ...variant.options }));
    const error = await failure(() => vault.listSecrets({ owner: "0x0" }));
    expect(error.code).toBe(Code.Unimplemented);
  });

  it("answers an unknown method with UNIMPLEMENTED to a grpc-js client", async () => {
    const raw = new grpc.Client(new URL(t.url).host, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.ServiceError | null>((resolve) => {
        raw.makeUnaryRequest(
          "/ccr.v1.Capability/DoesNotExist",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (error) => resolve(error),
        );
      });
      expect(status?.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      raw.close();
    }
  });

  it.each(connectVariants)("refuses a request larger than readMaxBytes with ResourceExhausted over $name", async (variant) => {
    const error = await failure(() => client(variant).execute({ capabilityId: "echo@1", payload: new Uint8Array(4096) }));
    expect(error.code).toBe(Code.ResourceExhausted);
  });

  it("refuses an oversized request from a grpc-js client with RESOURCE_EXHAUSTED and logs it", async () => {
    const grpcJs = createGrpcJsClient(Capability, t.url);
    try {
      const error = await failure(() => grpcJs.unary.execute({ capabilityId: "echo@1", payload: new Uint8Array(4096) }));
      expect(error.code).toBe(Code.ResourceExhausted);
    } finally {
      grpcJs.close();
    }
    // The handler never ran, yet the call has its log line.
    await expect.poll(() => t.logs().find((l) => l.msg === "rpc rejected before its handler")).toMatchObject({
      rpc: "ccr.v1.Capability/Execute",
      code: "ResourceExhausted",
    });
  });

  it("answers DeadlineExceeded at the client's deadline even when the handler ignores its signal", async () => {
    // No client-side timer: the server alone must end the call (connect-timeout-ms: 200).
    const response = await fetch(`${t.url}/ccr.v1.Capability/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-timeout-ms": "200" },
      body: JSON.stringify({ capabilityId: "slow@1" }),
    });
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ code: "deadline_exceeded" });
    expect(t.logs().find((l) => l.msg === "rpc failed")).toMatchObject({ code: "DeadlineExceeded" });
  });

  it("uses the caller's x-request-id in the call's log line and echoes it", async () => {
    const response = await fetch(`${t.url}/ccr.v1.Capability/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-42.abc" },
      body: JSON.stringify({ capabilityId: "echo@1" }),
    });
    expect(response.headers.get("x-request-id")).toBe("req-42.abc");
    expect(t.logs().find((l) => l.msg === "rpc ok")).toMatchObject({
      svc: "test",
      rpc: "ccr.v1.Capability/Execute",
      requestId: "req-42.abc",
      code: "OK",
    });
  });

  it("replaces an unusable x-request-id with a generated one", async () => {
    const response = await fetch(`${t.url}/ccr.v1.Capability/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "no spaces {allowed}" },
      body: JSON.stringify({ capabilityId: "echo@1" }),
    });
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("connections that send nothing", () => {
  it("are closed after idleTimeoutMs, also after a partial HTTP/2 preface", async () => {
    const t = await startTestServer([fakeCapability().registration], { idleTimeoutMs: 150 });
    try {
      const closed = (prefix: string) =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect(t.port, "127.0.0.1", () => {
            if (prefix !== "") socket.write(prefix);
          });
          socket.on("error", reject);
          socket.on("close", () => resolve());
        });
      await closed("");
      await closed("PRI * HTTP/2.0\r\n");
    } finally {
      await t.close();
    }
  });
});
