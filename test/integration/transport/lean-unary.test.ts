/**
 * The lean unary path over real sockets: plain gRPC from the connect client, grpc-js and raw HTTP/2
 * takes it; every other protocol and anything unusual reaches the connect implementation; errors,
 * deadlines, cancels, limits, metrics, logs, request ids and shutdown behave as for other calls.
 */
import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { create, toBinary, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  ExecuteCapabilityRequestSchema,
  ExecuteCapabilityResponseSchema,
  Gateway,
  GetSecretsRequestSchema,
  RelayErrorDetailSchema,
} from "../../../src/contract/index.js";
import {
  createGrpcJsClient,
  createServiceTransport,
  Http2SessionPool,
  implement,
  leanUnary,
  leanUnaryReplying,
  type ClientProtocol,
  type LeanReplyCall,
  type LeanUnaryCall,
} from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Who answered: the lean handler says "lean:", the connect implementation "connect:". */
interface Harness {
  readonly server: TestServer;
  readonly leanCalls: LeanUnaryCall[];
  /** GetSecrets calls on the "reply" style route, by request id, as their handler saw them. */
  readonly replyCalls: Map<string, LeanReplyCall>;
  /** Resolves when a `hold` call's signal aborts, with the reason. */
  readonly aborted: Promise<unknown>[];
  client(protocol: ClientProtocol, httpVersion?: "1.1" | "2"): ReturnType<typeof createClient<typeof Gateway>>;
  close(): Promise<void>;
}

function request(payload: string) {
  return create(ExecuteCapabilityRequestSchema, { requestId: "r", payload: encoder.encode(payload) });
}

async function answer(kind: "lean" | "connect", payload: string, signal: { addEventListener(t: "abort", l: () => void): void; readonly reason: unknown }, aborted: Promise<unknown>[]) {
  switch (payload) {
    case "not-found":
      throw new ConnectError("secret not found: main/x", Code.NotFound, { "retry-after-ms": "7" }, [
        { desc: RelayErrorDetailSchema, value: create(RelayErrorDetailSchema, { error: { code: Code.NotFound, message: "agreed" } }) },
      ]);
    case "bug":
      throw new Error("a bug with a secret: hunter2");
    case "hold":
      // Never answers on its own; records when (and why) its signal aborts.
      await new Promise<never>(() => {
        aborted.push(new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason))));
      });
      throw new Error("unreachable");
    default:
      return { result: { payload: encoder.encode(`${kind}:${payload}`) } };
  }
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(options: { readMaxBytes?: number; maxTimeoutMs?: number; allowForcedClose?: boolean } = {}): Promise<Harness> {
  const leanCalls: LeanUnaryCall[] = [];
  const replyCalls = new Map<string, LeanReplyCall>();
  const aborted: Promise<unknown>[] = [];
  const server = await startTestServer([implement(Gateway, { executeCapability: (req, ctx) => answer("connect", decoder.decode(req.payload), ctx.signal, aborted) })], {
    logLevel: "debug",
    leanUnary: [
      leanUnary(Gateway.method.executeCapability, (req, call) => {
        leanCalls.push(call);
        return answer("lean", decoder.decode(req.payload), call.signal, aborted);
      }),
      // GetSecrets answers through the call (the gateway's style): the request id says how.
      leanUnaryReplying(Gateway.method.getSecrets, (req, call) => {
        replyCalls.set(req.requestId, call as LeanReplyCall);
        const done = { certificate: { resultHash: encoder.encode(`reply:${req.requestId}`) } };
        switch (req.requestId) {
          case "reply":
            call.reply(done);
            return;
          case "twice":
            call.reply(done);
            call.reply({ certificate: { resultHash: encoder.encode("second") } });
            call.fail(new ConnectError("too late", Code.Aborted));
            return;
          case "fail":
            call.fail(new ConnectError("secret not found: main/x", Code.NotFound));
            return;
          case "bug":
            call.fail(new Error("a bug with a secret: hunter2"));
            return;
          case "throw":
            throw new Error("thrown by the handler");
          case "later":
            setTimeout(() => call.reply(done), 20);
            return;
          default:
            return; // "hold": answered by the test, if at all
        }
      }),
    ],
    ...(options.readMaxBytes === undefined ? {} : { readMaxBytes: options.readMaxBytes }),
    ...(options.maxTimeoutMs === undefined ? {} : { maxTimeoutMs: options.maxTimeoutMs }),
    ...(options.allowForcedClose === true ? { allowForcedClose: true, closeGraceMs: 100 } : {}),
  });
  const pool = new Http2SessionPool();
  return {
    server,
    leanCalls,
    replyCalls,
    aborted,
    client: (protocol, httpVersion = "2") => createClient(Gateway, createServiceTransport({ baseUrl: server.url, protocol, httpVersion, sessions: pool })),
    async close() {
      pool.closeAll();
      await server.close();
    },
  };
}

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

/** A raw HTTP/2 gRPC call: the status, headers, trailers and body bytes. */
function rawCall(url: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": "/ccr.v1.Gateway/ExecuteCapability", te: "trailers", ...headers });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (responseHeaders = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve({ headers: responseHeaders, trailers, body: Buffer.concat(chunks) });
    });
    stream.end(body);
  });
}

function frame(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

describe("lean unary path", () => {
  it("serves plain gRPC from the connect client and grpc-js; every other protocol reaches the connect implementation", async () => {
    h = await start();
    const via = async (protocol: ClientProtocol, httpVersion: "1.1" | "2" = "2") =>
      decoder.decode((await h!.client(protocol, httpVersion).executeCapability(request("hi"))).result?.payload);
    expect(await via("grpc")).toBe("lean:hi");
    expect(await via("connect")).toBe("connect:hi");
    expect(await via("connect", "1.1")).toBe("connect:hi");
    expect(await via("grpc-web")).toBe("connect:hi");
    const grpcJs = createGrpcJsClient(Gateway, h.server.url);
    try {
      const res = (await grpcJs.unary.executeCapability!(request("js"))) as { result?: { payload: Uint8Array } };
      expect(decoder.decode(res.result?.payload)).toBe("lean:js");
    } finally {
      grpcJs.raw.close();
    }
    expect(h.leanCalls).toHaveLength(2);
  });

  it("leaves a compressed request to connect-node, which decompresses it", async () => {
    h = await start();
    const message = toBinary(ExecuteCapabilityRequestSchema, request("zipped"));
    const res = await rawCall(h.server.url, { "content-type": "application/grpc", "grpc-encoding": "gzip" }, frame(gzipSync(message), true));
    expect(res.trailers["grpc-status"] ?? res.headers["grpc-status"]).toBe("0");
    const out = fromBinary(ExecuteCapabilityResponseSchema, res.body.subarray(5));
    expect(decoder.decode(out.result?.payload)).toBe("connect:zipped");
  });

  it("answers with the response headers, the request id and grpc-status 0 in the trailers", async () => {
    h = await start();
    const message = toBinary(ExecuteCapabilityRequestSchema, request("raw"));
    const res = await rawCall(h.server.url, { "content-type": "application/grpc+proto", "x-request-id": "req-lean-1" }, frame(message));
    expect(res.headers[":status"]).toBe(200);
    expect(res.headers["content-type"]).toBe("application/grpc+proto");
    expect(res.headers["x-request-id"]).toBe("req-lean-1");
    expect(res.trailers["grpc-status"]).toBe("0");
    expect(decoder.decode(fromBinary(ExecuteCapabilityResponseSchema, res.body.subarray(5)).result?.payload)).toBe("lean:raw");
    expect(h.leanCalls[0]?.requestId).toBe("req-lean-1");
  });

  it("sends errors with their code, message, metadata and details, and hides a bug's message", async () => {
    h = await start();
    const err = await failure(h.client("grpc").executeCapability(request("not-found")));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("secret not found: main/x");
    expect(err.metadata.get("retry-after-ms")).toBe("7");
    expect(err.findDetails(RelayErrorDetailSchema)[0]?.error?.message).toBe("agreed");
    const bug = await failure(h.client("grpc").executeCapability(request("bug")));
    expect(bug.code).toBe(Code.Internal);
    expect(bug.rawMessage).toBe("internal error");
    const logs = h.server.logs().filter((l) => l["rpc"] === "ccr.v1.Gateway/ExecuteCapability");
    expect(logs.find((l) => l["code"] === "NotFound")).toMatchObject({ level: 30, msg: "rpc failed" });
    expect(logs.find((l) => l["code"] === "Internal")).toMatchObject({ level: 50, msg: "rpc failed" });
    expect(h.server.rawLogs()).toContain("hunter2"); // the cause is logged for a server fault…
    expect(bug.message).not.toContain("hunter2"); // …but never sent
  });

  it("refuses malformed and oversized requests as connect does", async () => {
    h = await start({ readMaxBytes: 64 });
    const two = Buffer.concat([frame(new Uint8Array(0)), frame(new Uint8Array(0))]);
    const extra = await rawCall(h.server.url, { "content-type": "application/grpc" }, two);
    expect(extra.headers["grpc-status"]).toBe(String(Code.Unimplemented));
    const garbage = await rawCall(h.server.url, { "content-type": "application/grpc" }, frame(new Uint8Array([0xff, 0xff, 0xff])));
    expect(garbage.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const big = await failure(h.client("grpc").executeCapability(request("x".repeat(200))));
    expect(big.code).toBe(Code.ResourceExhausted);
    expect(h.leanCalls).toHaveLength(0);
  });

  it("answers DeadlineExceeded at the client's deadline even when the handler ignores it, and aborts the handler", async () => {
    h = await start();
    // Raw HTTP/2, so no client-side timer races the server's: the answer is the server's own.
    const message = toBinary(ExecuteCapabilityRequestSchema, request("hold"));
    const res = await rawCall(h.server.url, { "content-type": "application/grpc", "grpc-timeout": "200m" }, frame(message));
    expect(res.headers["grpc-status"]).toBe(String(Code.DeadlineExceeded));
    expect(h.leanCalls[0]?.timeoutMs()).toBeLessThanOrEqual(0);
    expect(ConnectError.from(await h.aborted[0]).code).toBe(Code.DeadlineExceeded);
    expect(h.leanCalls[0]?.signal.aborted).toBe(true);
  });

  it("hands the client's remaining deadline to the handler in whole ms", async () => {
    h = await start();
    await h.client("grpc").executeCapability(request("hi"), { timeoutMs: 5_000 });
    const left = h.leanCalls[0]?.timeoutMs() as number;
    expect(Number.isInteger(left)).toBe(true);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(5_000);
  });

  it("aborts the handler's signal when the client cancels", async () => {
    h = await start();
    const abort = new AbortController();
    const call = failure(h.client("grpc").executeCapability(request("hold"), { signal: abort.signal }));
    for (let i = 0; i < 500 && h.aborted.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    abort.abort();
    expect((await call).code).toBe(Code.Canceled);
    expect(ConnectError.from(await h.aborted[0]).code).toBe(Code.Canceled);
  });

  it("counts the grpc_server_* metrics as for every other call", async () => {
    h = await start();
    await h.client("grpc").executeCapability(request("hi"));
    await failure(h.client("grpc").executeCapability(request("not-found")));
    const text = await h.server.server.metrics.registry.metrics();
    const labels = 'grpc_type="unary",grpc_service="ccr.v1.Gateway",grpc_method="ExecuteCapability"';
    expect(text).toContain(`grpc_server_started_total{${labels}} 2`);
    expect(text).toContain(`grpc_server_msg_received_total{${labels}} 2`);
    expect(text).toContain(`grpc_server_msg_sent_total{${labels}} 1`);
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="OK"} 1`);
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="NotFound"} 1`);
    expect(text).toContain(`grpc_server_handling_seconds_count{${labels}} 2`);
  });

  it("ends lean calls still running at the end of the shutdown grace with Unavailable", async () => {
    h = await start({ allowForcedClose: true });
    const call = failure(h.client("grpc").executeCapability(request("hold")));
    for (let i = 0; i < 500 && h.aborted.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const summary = await h.server.server.close({ graceMs: 100 });
    expect(summary.abortedCalls).toBe(1);
    const err = await call;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("server shutting down");
    expect(ConnectError.from(await h.aborted[0]).code).toBe(Code.Unavailable);
  });

  it("is not used when the server has extra interceptors (they must see every call)", async () => {
    const seen: string[] = [];
    const server = await startTestServer([implement(Gateway, { executeCapability: (req) => ({ result: { payload: req.payload } }) })], {
      interceptors: [(next) => (req) => (seen.push(req.method.name), next(req))],
      leanUnary: [leanUnary(Gateway.method.executeCapability, () => Promise.reject(new Error("lean path used")))],
    });
    const pool = new Http2SessionPool();
    try {
      const client = createClient(Gateway, createServiceTransport({ baseUrl: server.url, protocol: "grpc", sessions: pool }));
      const res = await client.executeCapability(request("i"));
      expect(decoder.decode(res.result?.payload)).toBe("i");
      expect(seen).toEqual(["ExecuteCapability"]);
    } finally {
      pool.closeAll();
      await server.close();
    }
  });
});

describe("lean unary path, handlers that answer through the call", () => {
  const secrets = (requestId: string) => create(GetSecretsRequestSchema, { requestId });
  const hashOf = (res: { certificate?: { resultHash: Uint8Array } }) => decoder.decode(res.certificate?.resultHash);

  it("answers with the first reply or fail; later ones change nothing", async () => {
    h = await start();
    const client = h.client("grpc");
    expect(hashOf(await client.getSecrets(secrets("reply")))).toBe("reply:reply");
    expect(hashOf(await client.getSecrets(secrets("twice")))).toBe("reply:twice");
    expect(hashOf(await client.getSecrets(secrets("later")))).toBe("reply:later");
    const refused = await failure(client.getSecrets(secrets("fail")));
    expect([refused.code, refused.rawMessage]).toEqual([Code.NotFound, "secret not found: main/x"]);
    const text = await h.server.server.metrics.registry.metrics();
    const labels = 'grpc_type="unary",grpc_service="ccr.v1.Gateway",grpc_method="GetSecrets"';
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="OK"} 3`);
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="NotFound"} 1`);
  });

  it("maps a failure that is not a ConnectError, or a handler that throws, to Internal without its message", async () => {
    h = await start();
    for (const id of ["bug", "throw"]) {
      const err = await failure(h.client("grpc").getSecrets(secrets(id)));
      expect([err.code, err.rawMessage]).toEqual([Code.Internal, "internal error"]);
    }
    expect(h.server.rawLogs()).toContain("hunter2");
  });

  it("ignores a reply after the client canceled, and the call's signal told the handler", async () => {
    h = await start();
    const abort = new AbortController();
    const call = failure(h.client("grpc").getSecrets(secrets("hold"), { signal: abort.signal }));
    for (let i = 0; i < 500 && !h.replyCalls.has("hold"); i++) await new Promise((r) => setTimeout(r, 5));
    const held = h.replyCalls.get("hold") as LeanReplyCall;
    let told = 0;
    held.signal.addEventListener("abort", { handleEvent: () => told++ });
    abort.abort();
    expect((await call).code).toBe(Code.Canceled);
    for (let i = 0; i < 500 && !held.signal.aborted; i++) await new Promise((r) => setTimeout(r, 5));
    expect(told).toBe(1);
    expect(ConnectError.from(held.signal.reason).code).toBe(Code.Canceled);
    held.reply({ certificate: { resultHash: encoder.encode("too late") } });
    held.fail(new Error("too late"));
    const text = await h.server.server.metrics.registry.metrics();
    expect(text).toContain('grpc_server_handled_total{grpc_type="unary",grpc_service="ccr.v1.Gateway",grpc_method="GetSecrets",grpc_code="Canceled"} 1');
    expect(text).not.toContain('grpc_method="GetSecrets",grpc_code="OK"');
  });

  it("assigns a request id when the client sent none, and keeps a valid one it sent", async () => {
    h = await start();
    const message = toBinary(GetSecretsRequestSchema, secrets("reply"));
    const path = { ":path": "/ccr.v1.Gateway/GetSecrets", "content-type": "application/grpc" };
    const assigned = await rawCall(h.server.url, path, frame(message));
    expect(assigned.trailers["grpc-status"]).toBe("0");
    expect(assigned.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.replyCalls.get("reply")?.requestId).toBe(assigned.headers["x-request-id"]);
    const kept = await rawCall(h.server.url, { ...path, "x-request-id": "mine-1" }, frame(message));
    expect(kept.headers["x-request-id"]).toBe("mine-1");
  });
});
