import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { createServiceTransport, grpcTarget, Http2SessionPool } from "../../../src/transport/index.js";

describe("createServiceTransport", () => {
  it("refuses gRPC over HTTP/1.1, which gRPC does not support", () => {
    expect(() => createServiceTransport({ baseUrl: "http://127.0.0.1:1", protocol: "grpc", httpVersion: "1.1" })).toThrow(
      /protocol "grpc" needs httpVersion "2"/,
    );
  });

  it("refuses a base URL that is not an absolute http(s) URL", () => {
    for (const baseUrl of ["127.0.0.1:7400", "ftp://x"]) {
      try {
        createServiceTransport({ baseUrl });
        throw new Error("expected a failure");
      } catch (error) {
        expect(error).toBeInstanceOf(ConnectError);
        expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      }
    }
  });
});

describe("Http2SessionPool", () => {
  it("keeps one session manager per origin", () => {
    const pool = new Http2SessionPool();
    expect(pool.get("http://127.0.0.1:7400")).toBe(pool.get("http://127.0.0.1:7400/some/prefix"));
    expect(pool.get("http://127.0.0.1:7401")).not.toBe(pool.get("http://127.0.0.1:7400"));
    expect(pool.size).toBe(2);
    pool.closeAll();
    expect(pool.size).toBe(0);
  });
});

describe("grpcTarget", () => {
  it("turns a base URL into grpc-js's host:port and leaves host:port alone", () => {
    expect(grpcTarget("http://127.0.0.1:7400")).toBe("127.0.0.1:7400");
    expect(grpcTarget("http://[::1]:7400/")).toBe("[::1]:7400");
    expect(grpcTarget("localhost:7400")).toBe("localhost:7400");
    expect(() => grpcTarget("https://example.com")).toThrow(/cleartext/);
  });
});
