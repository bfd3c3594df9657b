/**
 * The lean paths' pure parts: which streams take them, the gRPC framing (one unary message, a bidi
 * stream's frames), the status fields, and the flat request ids.
 */
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Gateway, RelayErrorDetailSchema } from "../../../src/contract/index.js";
import { frameGrpcMessage, grpcStatusFields, leanDecision, leanUnary, unaryGrpcMessage, type LeanUnaryRoute } from "../../../src/transport/lean-unary.js";
import { splitGrpcFrames } from "../../../src/transport/lean-stream.js";
import { flatRandomUuid } from "../../../src/transport/server-options.js";

const route = leanUnary(Gateway.method.executeCapability, async () => ({}));
const routes = new Map<string, LeanUnaryRoute>([["/ccr.v1.Gateway/ExecuteCapability", route]]);
const plain = { ":method": "POST", ":path": "/ccr.v1.Gateway/ExecuteCapability", "content-type": "application/grpc" };

describe("leanDecision", () => {
  it("takes plain gRPC (with or without +proto) to a lean method, with its deadline", () => {
    expect(leanDecision(routes, plain, undefined)).toEqual({ lean: true, route, timeoutMs: undefined });
    expect(leanDecision(routes, { ...plain, "content-type": "application/grpc+proto" }, undefined).lean).toBe(true);
    expect(leanDecision(routes, { ...plain, "grpc-encoding": "identity", "grpc-timeout": "1500m" }, undefined)).toEqual({
      lean: true,
      route,
      timeoutMs: 1500,
    });
    expect(leanDecision(routes, { ...plain, "grpc-timeout": "2S" }, undefined)).toMatchObject({ lean: true, timeoutMs: 2000 });
  });

  it("leaves everything else to connect-node", () => {
    const cases = [
      { ...plain, ":method": "GET" },
      { ...plain, ":path": "/ccr.v1.Gateway/GetSecrets" }, // not a lean route here
      { ...plain, ":path": "/ccr.v1.Gateway/ExecuteCapability?x=1" },
      { ...plain, "content-type": "application/grpc+json" },
      { ...plain, "content-type": "application/grpc-web+proto" },
      { ...plain, "content-type": "application/proto" }, // Connect
      { ...plain, "content-type": undefined },
      { ...plain, "grpc-encoding": "gzip" },
      { ...plain, "grpc-timeout": "soon" }, // connect answers the bad header
      { ...plain, "grpc-timeout": "123456789S" },
    ];
    for (const headers of cases) expect(leanDecision(routes, headers, undefined), JSON.stringify(headers)).toEqual({ lean: false });
  });

  it("leaves a deadline above maxTimeoutMs to connect-node, which refuses it", () => {
    expect(leanDecision(routes, { ...plain, "grpc-timeout": "5S" }, 4_000)).toEqual({ lean: false });
    expect(leanDecision(routes, { ...plain, "grpc-timeout": "4S" }, 4_000)).toMatchObject({ lean: true, timeoutMs: 4000 });
  });
});

describe("gRPC framing", () => {
  it("round-trips one message", () => {
    const message = new Uint8Array([1, 2, 3, 250]);
    const frame = frameGrpcMessage(message);
    expect([...frame.subarray(0, 5)]).toEqual([0, 0, 0, 0, 4]);
    expect([...(unaryGrpcMessage(frame) as Uint8Array)]).toEqual([...message]);
    expect((unaryGrpcMessage(frameGrpcMessage(new Uint8Array(0))) as Uint8Array).length).toBe(0);
  });

  it("reads lengths above 2^31 without sign trouble", () => {
    const head = new Uint8Array([0, 0x80, 0, 0, 1]);
    const err = unaryGrpcMessage(head) as ConnectError;
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/premature end/);
  });

  it("refuses what a unary request must not be", () => {
    const one = frameGrpcMessage(new Uint8Array([7]));
    const expectCode = (body: Uint8Array, code: Code, pattern: RegExp): void => {
      const r = unaryGrpcMessage(body);
      expect(r).toBeInstanceOf(ConnectError);
      expect((r as ConnectError).code).toBe(code);
      expect((r as ConnectError).rawMessage).toMatch(pattern);
    };
    expectCode(new Uint8Array(0), Code.Unimplemented, /missing input message/);
    expectCode(one.subarray(0, 3), Code.Unimplemented, /missing input message/);
    expectCode(one.subarray(0, 5), Code.InvalidArgument, /premature end/);
    expectCode(Buffer.concat([one, one]), Code.Unimplemented, /extra input message/);
    const compressed = Buffer.from(one);
    compressed[0] = 1;
    expectCode(compressed, Code.Internal, /compressed message without grpc-encoding/);
  });
});

describe("grpcStatusFields", () => {
  it("is grpc-status 0 for success", () => {
    expect(grpcStatusFields(undefined)).toEqual({ "grpc-status": "0" });
  });

  it("carries code, percent-encoded message, metadata and details", () => {
    const detail = create(RelayErrorDetailSchema, { error: { code: Code.NotFound, message: "secret not found" } });
    const err = new ConnectError("nöt found: 100%", Code.NotFound, { "retry-after-ms": "25" }, [{ desc: RelayErrorDetailSchema, value: detail }]);
    const fields = grpcStatusFields(err);
    expect(fields["grpc-status"]).toBe(String(Code.NotFound));
    expect(decodeURIComponent(fields["grpc-message"] as string)).toBe("nöt found: 100%");
    expect(fields["retry-after-ms"]).toBe("25");
    expect(fields["grpc-status-details-bin"]).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });
});

describe("flatRandomUuid", () => {
  it("is a random v4 UUID", () => {
    const a = flatRandomUuid();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(flatRandomUuid()).not.toBe(a);
  });
});

describe("splitGrpcFrames (lean bidi streams)", () => {
  const f = (bytes: number[]): Buffer => frameGrpcMessage(new Uint8Array(bytes));

  it("splits whole frames and keeps a partial one for later", () => {
    const all = Buffer.concat([f([1]), f([2, 3]), f([4, 5, 6]).subarray(0, 6)]);
    const r = splitGrpcFrames(all, 1024) as { messages: Buffer[]; rest: Buffer };
    expect(r.messages.map((m) => [...m])).toEqual([[1], [2, 3]]);
    expect([...r.rest]).toEqual([...f([4, 5, 6]).subarray(0, 6)]);
    const r2 = splitGrpcFrames(Buffer.concat([r.rest, f([4, 5, 6]).subarray(6)]), 1024) as { messages: Buffer[]; rest: Buffer };
    expect(r2.messages.map((m) => [...m])).toEqual([[4, 5, 6]]);
    expect(r2.rest.length).toBe(0);
  });

  it("waits for a header split across chunks", () => {
    const r = splitGrpcFrames(f([9]).subarray(0, 3), 1024) as { messages: Buffer[]; rest: Buffer };
    expect(r.messages).toEqual([]);
    expect(r.rest.length).toBe(3);
  });

  it("refuses compressed frames and messages over the limit", () => {
    const compressed = f([1]);
    compressed[0] = 1;
    expect((splitGrpcFrames(compressed, 1024) as ConnectError).code).toBe(Code.Internal);
    expect((splitGrpcFrames(f([1, 2, 3]), 2) as ConnectError).code).toBe(Code.ResourceExhausted);
  });
});
