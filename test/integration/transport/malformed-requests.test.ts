/**
 * Malformed requests the issue 9 fuzzer found answered wrongly, over real sockets: each gets a
 * client error, promptly, in a form a standard client can read.
 */
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../support/server.js";
import { fakeCapability } from "./fake-capability.js";

interface RawAnswer {
  readonly status: number | undefined;
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  /** Set when the server reset the stream instead of answering. */
  readonly resetCode?: number;
}

/** One HTTP/2 request on its own connection; rejects if nothing comes back within `timeoutMs`. */
function rawCall(url: string, headers: http2.OutgoingHttpHeaders, body: Uint8Array, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", () => {});
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const stream = session.request({ ":method": "POST", ...headers });
    let answerHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (answerHeaders = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    const done = (resetCode?: number) => {
      clearTimeout(timer);
      session.close();
      const status = answerHeaders[":status"];
      resolve({ status: typeof status === "number" ? status : undefined, headers: answerHeaders, trailers, body: Buffer.concat(chunks), ...(resetCode === undefined ? {} : { resetCode }) });
    };
    stream.on("close", () => done(stream.rstCode));
    stream.on("error", () => {});
    stream.end(body);
  });
}

/** The fuzzer's case 41143: binary protobuf sent as gRPC+JSON, whose JSON parse error cuts a surrogate pair. */
const SURROGATE_CASE = Buffer.from(
  "800000018512dc01" + "f09d9498".repeat(55) + "220e7265712d31323535373933303235320912074150495f4b455932450a40" +
    "3032303232443938423837413938443436414446364539454437393335413430413330384642343342433031324243423242394442313734434644333044383312" +
    "01273a108acd7e3c6c841c7fc869873d00c355d142090a05ffffffffff10015a250a230a21a3c3c29289334399e874da8b7f58514221ec6f204d8bef55f25fd953de99761128",
  "hex",
);

describe("malformed requests", () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer([fakeCapability().registration], { allowForcedClose: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it("Connect binary: an undecodable body is invalid_argument (HTTP 400), as connect-go answers, not internal", async () => {
    const answer = await rawCall(t.url, { ":path": "/grpc.health.v1.Health/Check", "content-type": "application/proto" }, Buffer.from([0xff, 0xff, 0xff, 0x0f]));
    expect(answer.status).toBe(400);
    const error = JSON.parse(answer.body.toString("utf8")) as { code: string; message: string };
    expect(error.code).toBe("invalid_argument");
    expect(error.message).toMatch(/^parse binary: /);
  });

  it("Connect binary: a well-formed request still succeeds", async () => {
    const answer = await rawCall(t.url, { ":path": "/grpc.health.v1.Health/Check", "content-type": "application/proto" }, new Uint8Array(0));
    expect(answer.status).toBe(200);
  });

  it("gRPC+JSON: an error message that cannot be encoded in a trailer ends the stream at once instead of hanging", async () => {
    const answer = await rawCall(
      t.url,
      { ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc+json", te: "trailers" },
      SURROGATE_CASE,
      5_000,
    );
    // connect-es cannot write this error (its trailer encoding throws on the lone surrogate); the
    // stream is reset at once, which gRPC clients report as a failed call, instead of staying
    // open until the client's deadline (rawCall rejects after 5 s). Never a success.
    const status = answer.trailers["grpc-status"] ?? answer.headers["grpc-status"];
    expect(status).not.toBe("0");
    expect(t.rawLogs()).toContain("answer could not be written; stream ended");
  });

  it("a 64 KiB service name in a health check is quoted clipped, so the answer stays readable", async () => {
    const name = "s".repeat(64 * 1024);
    const answer = await rawCall(
      t.url,
      { ":path": "/grpc.health.v1.Health/Check", "content-type": "application/json" },
      Buffer.from(JSON.stringify({ service: name })),
    );
    expect(answer.status).toBe(404);
    const error = JSON.parse(answer.body.toString("utf8")) as { code: string; message: string };
    expect(error.code).toBe("not_found");
    expect(error.message).toBe(`unknown service "${"s".repeat(128)}… (65536 chars)"`);
  });
});
