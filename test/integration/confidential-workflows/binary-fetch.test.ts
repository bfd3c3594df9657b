/**
 * Fetching workflow binaries over real HTTP (issue 6, "Binary"): the size cap whether or not the
 * server declares a length, the fetch timeout, HTTP failures, credentials in the URL, and one fetch
 * for concurrent executions of one binary.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import { executeRequest, resultOf, sha256, startHarness, triggerRequest, type Harness } from "../../service/confidential-workflows/harness.js";

let probe: Uint8Array;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  probe = await conformanceGuestWasm();
}, 240_000);

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Served {
  readonly origin: string;
  readonly requests: Array<{ url: string; authorization: string | undefined }>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Served> {
  const requests: Served["requests"] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  cleanups.push(() => h.close());
  return h;
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

describe("binary over HTTP", () => {
  it("fetches, checks and runs the binary, and fetches it once for concurrent executions", async () => {
    const server = await serve((_, res) => res.writeHead(200, { "content-type": "application/wasm" }).end(Buffer.from(probe)));
    const h = await harness();
    const bin = { url: `${server.origin}/artifacts/probe.wasm`, hash: sha256(probe) };
    const results = await Promise.all([1, 2, 3].map((n) => h.client.execute(executeRequest(bin, triggerRequest({ mode: "config", n })))));
    for (const r of results) expect(resultOf(r.executionResult).result.case).toBe("value");
    expect(server.requests).toHaveLength(1);
    await h.client.execute(executeRequest(bin, triggerRequest({ mode: "config" })));
    expect(server.requests).toHaveLength(1);
  });

  it("refuses a declared Content-Length over the cap without reading the body", async () => {
    const server = await serve((_, res) => {
      res.writeHead(200, { "content-length": String(probe.length) });
      res.end(Buffer.from(probe));
    });
    const h = await harness({ binary: { maxBytes: 1000 } });
    const error = await rejection(h.client.execute(executeRequest({ url: `${server.origin}/b.wasm`, hash: sha256(probe) }, triggerRequest({}))));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe("binary exceeds the enclave's size limit of 1000 bytes");
  });

  it("stops reading an undeclared (chunked) body once it passes the cap", async () => {
    const server = await serve((_, res) => {
      res.writeHead(200, { "transfer-encoding": "chunked" });
      // An endless body: only the cap can end it.
      const chunk = Buffer.alloc(16 * 1024, 1);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    });
    const h = await harness({ binary: { maxBytes: 64 * 1024 } });
    const error = await rejection(h.client.execute(executeRequest({ url: `${server.origin}/endless.wasm`, hash: sha256("x") }, triggerRequest({}))));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe("binary exceeds the enclave's size limit of 65536 bytes");
  });

  it("gives up after the fetch timeout with Unavailable", async () => {
    const server = await serve(() => undefined); // never answers
    const h = await harness({ binary: { fetchTimeoutMs: 200 } });
    const error = await rejection(h.client.execute(executeRequest({ url: `${server.origin}/slow.wasm`, hash: sha256("x") }, triggerRequest({}))));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe(`binary unreachable at ${server.origin}: no answer within 200 ms`);
  });

  it("answers Unavailable for an HTTP error status", async () => {
    const server = await serve((_, res) => res.writeHead(404).end("no"));
    const h = await harness();
    const error = await rejection(h.client.execute(executeRequest({ url: `${server.origin}/gone.wasm?sig=abc123`, hash: sha256("x") }, triggerRequest({}))));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe(`binary unreachable at ${server.origin}: HTTP 404`);
  });

  it("sends URL credentials as Basic auth and never repeats them in an error", async () => {
    const server = await serve((_, res) => res.writeHead(403).end());
    const h = await harness();
    const url = `${server.origin.replace("http://", "http://fetcher:p%40ss@")}/private.wasm`;
    const error = await rejection(h.client.execute(executeRequest({ url, hash: sha256("x") }, triggerRequest({}))));
    expect(server.requests[0]!.authorization).toBe(`Basic ${Buffer.from("fetcher:p@ss").toString("base64")}`);
    expect(error.rawMessage).toBe(`binary unreachable at ${server.origin}: HTTP 403`);
  });
});
