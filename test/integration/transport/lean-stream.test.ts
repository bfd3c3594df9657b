/**
 * The lean bidi-stream path over real sockets: plain gRPC streams take it, other protocols reach
 * the connect implementation; messages both ways, errors in the trailers, client cancels, metrics
 * and shutdown behave as for other calls.
 */
import * as http2 from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ConnectNodeRequestSchema, Gateway, type ConnectNodeRequest, type ConnectNodeResponse } from "../../../src/contract/index.js";
import { createServiceTransport, Http2SessionPool, implement, leanBidi, type CallSignal, type ClientProtocol } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";

/** Echoes every heartbeat back with the timestamp + an offset that says which path served it. */
const LEAN = 1_000_000n;
const CONNECT = 2_000_000n;

interface Harness {
  readonly server: TestServer;
  /** Why each stream's signal aborted, in order. */
  readonly aborted: Promise<unknown>[];
  /** Settles when each stream's handler is done with its requests. */
  readonly requestsEnded: Promise<void>[];
  open(protocol?: ClientProtocol): {
    send(ts: bigint): void;
    end(): void;
    responses: AsyncIterator<ConnectNodeResponse>;
    abort: AbortController;
  };
  close(): Promise<void>;
}

async function* echo(
  requests: AsyncIterable<ConnectNodeRequest>,
  offset: bigint,
  signal: CallSignal,
  aborted: Promise<unknown>[],
  requestsEnded: Promise<void>[],
): AsyncGenerator<ConnectNodeResponse> {
  aborted.push(new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason))));
  let ended!: () => void;
  requestsEnded.push(new Promise<void>((resolve) => (ended = resolve)));
  try {
    yield* echoEach(requests, offset);
  } finally {
    ended();
  }
}

async function* echoEach(requests: AsyncIterable<ConnectNodeRequest>, offset: bigint): AsyncGenerator<ConnectNodeResponse> {
  for await (const r of requests) {
    if (r.message.case !== "heartbeat") continue;
    const ts = r.message.value.timestampMs;
    if (ts === 13n) throw new ConnectError("unlucky heartbeat", Code.FailedPrecondition);
    yield { $typeName: "ccr.v1.ConnectNodeResponse", message: { case: "heartbeat", value: { $typeName: "ccr.v1.Heartbeat", timestampMs: ts + offset } } };
  }
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(options: { allowForcedClose?: boolean } = {}): Promise<Harness> {
  const aborted: Promise<unknown>[] = [];
  const requestsEnded: Promise<void>[] = [];
  const server = await startTestServer([implement(Gateway, { connectNode: (reqs, ctx) => echo(reqs, CONNECT, ctx.signal, aborted, requestsEnded) })], {
    logLevel: "debug",
    leanBidi: [leanBidi(Gateway.method.connectNode, (reqs, call) => echo(reqs, LEAN, call.signal, aborted, requestsEnded))],
    ...(options.allowForcedClose === true ? { allowForcedClose: true, closeGraceMs: 100 } : {}),
  });
  const pool = new Http2SessionPool();
  return {
    server,
    aborted,
    requestsEnded,
    open(protocol = "grpc") {
      const client = createClient(Gateway, createServiceTransport({ baseUrl: server.url, protocol, sessions: pool }));
      const queue: ConnectNodeRequest[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      async function* outbound(): AsyncGenerator<ConnectNodeRequest> {
        for (;;) {
          while (queue.length > 0) yield queue.shift()!;
          if (ended) return;
          await new Promise<void>((r) => (wake = r));
        }
      }
      const abort = new AbortController();
      const responses = client.connectNode(outbound(), { signal: abort.signal })[Symbol.asyncIterator]();
      return {
        send(ts) {
          queue.push(create(ConnectNodeRequestSchema, { message: { case: "heartbeat", value: { timestampMs: ts } } }));
          wake?.();
        },
        end() {
          ended = true;
          wake?.();
        },
        responses,
        abort,
      };
    },
    async close() {
      pool.closeAll();
      await server.close();
    },
  };
}

async function nextTs(it: AsyncIterator<ConnectNodeResponse>): Promise<bigint> {
  const r = await it.next();
  if (r.done === true || r.value.message.case !== "heartbeat") throw new Error("expected a heartbeat");
  return r.value.message.value.timestampMs;
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected a failure");
}

describe("lean bidi path", () => {
  it("carries messages both ways on plain gRPC and ends with OK when the client ends", async () => {
    h = await start();
    const s = h.open("grpc");
    for (const ts of [1n, 2n, 3n]) {
      s.send(ts);
      expect(await nextTs(s.responses)).toBe(ts + LEAN);
    }
    s.end();
    expect((await s.responses.next()).done).toBe(true);
  });

  it("leaves the Connect protocol to connect-node", async () => {
    h = await start();
    const s = h.open("connect");
    s.send(5n);
    expect(await nextTs(s.responses)).toBe(5n + CONNECT);
    s.end();
    expect((await s.responses.next()).done).toBe(true);
  });

  it("ends the stream with the handler's error in the trailers, after the messages before it", async () => {
    h = await start();
    const s = h.open("grpc");
    s.send(1n);
    expect(await nextTs(s.responses)).toBe(1n + LEAN);
    s.send(13n);
    const err = await failure(s.responses.next());
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe("unlucky heartbeat");
    const line = h.server.logs().find((l) => l["rpc"] === "ccr.v1.Gateway/ConnectNode" && l["code"] === "FailedPrecondition");
    expect(line).toMatchObject({ level: 30, msg: "rpc failed" });
  });

  it("aborts the handler's signal when the client's connection goes away", async () => {
    h = await start();
    const session = http2.connect(h.server.url);
    const stream = session.request({ ":method": "POST", ":path": "/ccr.v1.Gateway/ConnectNode", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => undefined);
    const message = toBinary(ConnectNodeRequestSchema, create(ConnectNodeRequestSchema, { message: { case: "heartbeat", value: { timestampMs: 1n } } }));
    const framed = Buffer.alloc(5 + message.length);
    framed.writeUInt32BE(message.length, 1);
    framed.set(message, 5);
    stream.write(framed);
    await new Promise<void>((resolve) => stream.once("data", () => resolve()));
    session.destroy();
    expect(ConnectError.from(await h.aborted[0]).code).toBe(Code.Canceled);
  });

  it("ends the handler's request stream when a client cancels (Node clients half-close, then reset)", async () => {
    h = await start();
    const s = h.open("grpc");
    s.send(1n);
    expect(await nextTs(s.responses)).toBe(1n + LEAN);
    const pending = failure(s.responses.next());
    s.abort.abort();
    expect((await pending).code).toBe(Code.Canceled);
    await h.requestsEnded[0];
  });

  it("counts messages and the end in the grpc_server_* metrics", async () => {
    h = await start();
    const s = h.open("grpc");
    for (const ts of [1n, 2n]) {
      s.send(ts);
      await nextTs(s.responses);
    }
    s.end();
    await s.responses.next();
    const labels = 'grpc_type="bidi_stream",grpc_service="ccr.v1.Gateway",grpc_method="ConnectNode"';
    for (let i = 0; i < 100; i++) {
      if ((await h.server.server.metrics.registry.metrics()).includes(`grpc_server_handled_total{${labels},grpc_code="OK"} 1`)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const text = await h.server.server.metrics.registry.metrics();
    expect(text).toContain(`grpc_server_started_total{${labels}} 1`);
    expect(text).toContain(`grpc_server_msg_received_total{${labels}} 2`);
    expect(text).toContain(`grpc_server_msg_sent_total{${labels}} 2`);
    expect(text).toContain(`grpc_server_handled_total{${labels},grpc_code="OK"} 1`);
  });

  it("ends a stream still open at the end of the shutdown grace with Unavailable", async () => {
    h = await start({ allowForcedClose: true });
    const s = h.open("grpc");
    s.send(1n);
    expect(await nextTs(s.responses)).toBe(1n + LEAN);
    const summary = await h.server.server.close({ graceMs: 100 });
    expect(summary.abortedCalls).toBe(1);
    const err = await failure(s.responses.next());
    expect(err.code).toBe(Code.Unavailable);
    expect(ConnectError.from(await h.aborted[0]).code).toBe(Code.Unavailable);
  });
});
