import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { call, json, startCapability, startHttpServer, type LocalHttpServer } from "./harness.js";

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}

const servers: LocalHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(handler: Parameters<typeof startHttpServer>[0]): Promise<LocalHttpServer> {
  const s = await startHttpServer(handler);
  servers.push(s);
  return s;
}

const local = { allowedHosts: ["127.0.0.1"], allowInsecureHttp: true };

describe("http-fetch@1.0.0 against a local server", () => {
  it("GETs with headers passed through and returns status, sorted lowercase headers and body", async () => {
    const s = await server((req, res) => {
      res.setHeader("X-Echo", String(req.headers["x-api-key"]));
      res.setHeader("Content-Type", "text/plain");
      res.end("hello ✓");
    });
    const h = startCapability({ httpFetch: local });
    const res = await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/path?q=1`, headers: { "X-Api-Key": "key-123" } }));
    expect(res.error).toBe("");
    const out = json(res.payload) as { status: number; headers: Record<string, string>; body: string };
    expect(out.status).toBe(200);
    expect(out.body).toBe("hello ✓");
    expect(out.headers["x-echo"]).toBe("key-123");
    expect(out.headers["content-type"]).toBe("text/plain");
    expect(Object.keys(out.headers)).toEqual([...Object.keys(out.headers)].sort());
    expect(Object.keys(out)).toEqual(["status", "headers", "body"]);
    expect(s.requests[0]).toMatchObject({ method: "GET", url: "/path?q=1" });
  });

  it("POSTs a text or base64 body, and returns a binary response as bodyBase64", async () => {
    const s = await server((req, res, body) => {
      res.statusCode = 201;
      res.end(Buffer.concat([Buffer.from([0xff, 0xfe]), body]));
    });
    const h = startCapability({ httpFetch: local });
    const text = await h.client.execute(call("http-fetch@1.0.0", { url: s.origin, method: "POST", body: "a=1", headers: { "content-type": "application/x-www-form-urlencoded" } }));
    const out = json(text.payload) as { status: number; bodyBase64: string; body?: string };
    expect(out.status).toBe(201);
    expect(out.body).toBeUndefined();
    expect(Buffer.from(out.bodyBase64, "base64")).toEqual(Buffer.from([0xff, 0xfe, ...Buffer.from("a=1")]));
    expect(s.requests[0]).toMatchObject({ method: "POST", body: "a=1" });
    expect(s.requests[0]!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    await h.client.execute(call("http-fetch@1.0.0", { url: s.origin, method: "POST", bodyBase64: Buffer.from([1, 2, 3]).toString("base64") }, "ref-2"));
    expect(Buffer.from(s.requests[1]!.body, "utf8")).toEqual(Buffer.from([1, 2, 3]));
  });

  it("returns an HTTP error status as an answer, and does not follow redirects", async () => {
    const s = await server((req, res) => {
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "http://example.invalid/elsewhere" });
        res.end();
      } else {
        res.statusCode = 404;
        res.end("no such thing");
      }
    });
    const h = startCapability({ httpFetch: local });
    const missing = await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/missing` }));
    expect(missing.error).toBe("");
    expect(json(missing.payload)).toMatchObject({ status: 404, body: "no such thing" });
    const redirect = await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/redirect` }, "ref-2"));
    expect(json(redirect.payload)).toMatchObject({ status: 302, headers: { location: "http://example.invalid/elsewhere" } });
    expect(s.requests).toHaveLength(2);
  });

  it("refuses a host not on the allowlist as a memoized answer, without calling it", async () => {
    const s = await server((_req, res) => res.end("should not be reached"));
    const h = startCapability({ httpFetch: { allowedHosts: ["api.example.com", "127.0.0.1:1"], allowInsecureHttp: true } });
    const res = await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/` }));
    expect(res.error).toBe(`http-fetch: host 127.0.0.1:${s.port} is not on the allowlist`);
    expect(res.payload).toHaveLength(0);
    expect(s.requests).toHaveLength(0);
    expect(await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/` }))).toEqual(res);
    expect(await h.registry.metrics()).toContain('ccr_capability_executions_total{capability="http-fetch@1.0.0",outcome="capability_error"} 1');
  });

  it("refuses plain http unless allowed", async () => {
    const s = await server((_req, res) => res.end("x"));
    const h = startCapability({ httpFetch: { allowedHosts: ["127.0.0.1"] } });
    const res = await h.client.execute(call("http-fetch@1.0.0", { url: s.origin }));
    expect(res.error).toBe("http-fetch: plain http is not allowed by this capability's configuration; use https");
    expect(s.requests).toHaveLength(0);
  });

  it("gives up after timeoutMs with a capability error", async () => {
    const s = await server(() => {
      /* never answers */
    });
    const h = startCapability({ httpFetch: { ...local, timeoutMs: 150 } });
    const res = await h.client.execute(call("http-fetch@1.0.0", { url: s.origin }));
    expect(res.error).toBe("http-fetch: timed out after 150 ms");
  });

  it("caps the response size, whether declared or streamed", async () => {
    const s = await server((req, res) => {
      if (req.url === "/declared") {
        res.setHeader("content-length", "2000");
        res.end("y".repeat(2000));
      } else if (req.url === "/exact") {
        res.end("e".repeat(1000));
      } else {
        res.write("z".repeat(600));
        setTimeout(() => res.end("z".repeat(600)), 10);
      }
    });
    const h = startCapability({ httpFetch: { ...local, maxResponseBytes: 1000 } });
    const declared = await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/declared` }));
    expect(declared.error).toBe("http-fetch: response body exceeds the limit of 1000 bytes");
    const streamed = await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/chunked` }, "ref-2"));
    expect(streamed.error).toBe("http-fetch: response body exceeds the limit of 1000 bytes");
    const exact = await h.client.execute(call("http-fetch@1.0.0", { url: `${s.origin}/exact` }, "ref-3"));
    expect(exact.error).toBe("");
    expect((json(exact.payload) as { body: string }).body).toHaveLength(1000);
  });

  it("reports a refused connection by its error code", async () => {
    const s = await server((_req, res) => res.end());
    const port = s.port;
    await s.close();
    servers.length = 0;
    const h = startCapability({ httpFetch: local });
    const res = await h.client.execute(call("http-fetch@1.0.0", { url: `http://127.0.0.1:${port}/` }));
    expect(res.error).toBe("http-fetch: request failed (ECONNREFUSED)");
  });

  it("refuses malformed input with InvalidArgument", async () => {
    const h = startCapability({ httpFetch: local });
    const cases: Array<[unknown, string]> = [
      [[], "http-fetch input: must be a JSON object"],
      [{}, "http-fetch input: url is required and must be a string"],
      [{ url: "not a url" }, "http-fetch input: url is not a valid absolute URL"],
      [{ url: "ftp://127.0.0.1/" }, "http-fetch input: url scheme must be http or https, got ftp"],
      [{ url: "http://user:pw@127.0.0.1/" }, "http-fetch input: url must not contain credentials"],
      [{ url: "http://127.0.0.1/", method: "PUT" }, 'http-fetch input: method must be "GET" or "POST", got "PUT"'],
      [{ url: "http://127.0.0.1/", headers: { Host: "x" } }, 'http-fetch input: header "Host" is managed by the connection'],
      [{ url: "http://127.0.0.1/", headers: { "X-A": "a\r\nb" } }, 'http-fetch input: header "X-A" must be a string without control characters'],
      [{ url: "http://127.0.0.1/", body: "x" }, "http-fetch input: a GET request has no body; use POST"],
      [{ url: "http://127.0.0.1/", method: "POST", body: "x", bodyBase64: "eA==" }, "http-fetch input: give at most one of body and bodyBase64"],
      [{ url: "http://127.0.0.1/", extra: 1 }, 'http-fetch input: unknown field "extra"'],
    ];
    for (const [payload, message] of cases) {
      const error = await rejection(h.client.execute(call("http-fetch@1.0.0", payload)));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain(message);
    }
  });

  it("never logs payloads or outputs (an API key in a header stays out of the logs)", async () => {
    const s = await server((req, res) => res.end(`echo:${String(req.headers["authorization"])}`));
    const h = startCapability({ httpFetch: local });
    await h.client.execute(call("http-fetch@1.0.0", { url: s.origin, headers: { Authorization: "Bearer tok-SECRET-991" } }));
    const logs = h.logs();
    expect(logs).toContain('"msg":"capability executed"');
    expect(logs).not.toContain("tok-SECRET-991");
  });
});
