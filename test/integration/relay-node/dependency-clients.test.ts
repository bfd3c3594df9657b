/**
 * The relay node's Vault and Capability clients (src/services/relay-node/dependency-clients.ts,
 * grpc-js) over real sockets, against a ccr server on both of its unary paths (connect-node and the
 * lean path the Vault and Capability use): the request's deadline and its cancellation reach the
 * server, failures come back as ConnectErrors with the server's code and message, a large payload
 * round-trips, and close() leaves the server nothing to cut.
 */
import { afterEach, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { createServer as createHttp2Server, type Http2Server, type IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Capability,
  CapabilityExecuteResponseSchema,
  Vault,
  VaultGetSecretsResponseSchema,
  type CapabilityExecuteRequest,
  type CapabilityExecuteResponse,
  type VaultGetSecretsRequest,
} from "../../../src/contract/index.js";
import {
  createCapabilityClient,
  createVaultClient,
  RELAY_NODE_CHANNEL_OPTIONS,
  type ClosablePort,
} from "../../../src/services/relay-node/dependency-clients.js";
import type { CapabilityPort } from "../../../src/services/relay-node/ports.js";
import { implement } from "../../../src/transport/index.js";
import { leanUnary } from "../../../src/transport/lean-unary.js";
import { startTestServer, type TestServer } from "../../support/server.js";

/** What the server saw of one call. */
interface Seen {
  request: CapabilityExecuteRequest;
  /** The client's deadline as the server read it (`grpc-timeout`), ms. */
  timeoutMs: number | undefined;
  /** Resolves with the abort reason when the server's signal for the call fires. */
  aborted: Promise<unknown>;
}

type Behaviour = (seen: Seen, signal: { readonly aborted: boolean }) => Promise<CapabilityExecuteResponse>;

const closers: (() => unknown)[] = [];
afterEach(async () => {
  // Clients first: the test server's close() throws if it had to cut a connection or a call.
  for (const close of closers.splice(0)) await close();
});

function onAbort(signal: { readonly aborted: boolean; readonly reason: unknown; addEventListener(t: "abort", l: () => void): void }): Promise<unknown> {
  return new Promise((resolve) => (signal.aborted ? resolve(signal.reason) : signal.addEventListener("abort", () => resolve(signal.reason))));
}

const PATHS = ["connect-node", "lean"] as const;

async function capabilityServer(path: (typeof PATHS)[number], behaviour: Behaviour): Promise<{ server: TestServer; seen: Seen[] }> {
  const seen: Seen[] = [];
  const record = (request: CapabilityExecuteRequest, timeoutMs: number | undefined, signal: Parameters<typeof onAbort>[0]) => {
    const s: Seen = { request, timeoutMs, aborted: onAbort(signal) };
    seen.push(s);
    return behaviour(s, signal);
  };
  const server = await startTestServer([implement(Capability, { execute: (req, ctx) => record(req, ctx.timeoutMs(), ctx.signal) })], {
    logLevel: "silent",
    ...(path === "lean" ? { leanUnary: [leanUnary(Capability.method.execute, (req, call) => record(req, call.timeoutMs(), call.signal))] } : {}),
  });
  closers.push(() => server.close());
  return { server, seen };
}

function capabilityClient(url: string): ClosablePort<CapabilityPort> {
  const c = createCapabilityClient(url);
  closers.unshift(() => c.close());
  return c;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }
  throw new Error("expected the call to fail");
}

const echo: Behaviour = async (seen) => create(CapabilityExecuteResponseSchema, { payload: seen.request.payload });
const hold: Behaviour = async (seen) => {
  await seen.aborted;
  throw new ConnectError("gone", Code.Canceled);
};

describe.each(PATHS)("relay node capability client (grpc-js) against a ccr server, %s path", (path) => {
  it("sends the call's timeoutMs as its deadline; the server's signal fires when it passes", async () => {
    const { server, seen } = await capabilityServer(path, hold);
    const c = capabilityClient(server.url);
    const err = await rejection(c.client.execute({ capabilityId: "echo@1.0.0" }, { timeoutMs: 300 }));
    expect(Code[err.code]).toBe("DeadlineExceeded");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.timeoutMs).toBeGreaterThan(0);
    expect(seen[0]!.timeoutMs).toBeLessThanOrEqual(300);
    await seen[0]!.aborted; // the server stopped working on it
  });

  it("sends no deadline when the call has none", async () => {
    const { server, seen } = await capabilityServer(path, echo);
    const c = capabilityClient(server.url);
    await c.client.execute({ capabilityId: "echo@1.0.0" });
    expect(seen[0]!.timeoutMs).toBeUndefined();
  });

  it("aborting the signal cancels the call on the server and rejects with Canceled", async () => {
    const { server, seen } = await capabilityServer(path, hold);
    const c = capabilityClient(server.url);
    const controller = new AbortController();
    const call = rejection(c.client.execute({ capabilityId: "echo@1.0.0" }, { signal: controller.signal, timeoutMs: 60_000 }));
    await until(() => seen.length === 1);
    controller.abort(new Error("relay cancelled"));
    expect(Code[(await call).code]).toBe("Canceled");
    await seen[0]!.aborted; // resolves only if the server's signal fired (RST_STREAM reached it)
  });

  it("a signal aborted before the call sends nothing", async () => {
    const { server, seen } = await capabilityServer(path, echo);
    const c = capabilityClient(server.url);
    const err = await rejection(c.client.execute({ capabilityId: "echo@1.0.0" }, { signal: AbortSignal.abort() }));
    expect(Code[err.code]).toBe("Canceled");
    await c.client.execute({ capabilityId: "echo@1.0.0" }); // the channel still works
    expect(seen).toHaveLength(1);
  });

  it.each([Code.NotFound, Code.InvalidArgument, Code.PermissionDenied, Code.ResourceExhausted, Code.Unavailable, Code.Internal, Code.Aborted])(
    "a server error keeps its code (%s) and message",
    async (code) => {
      // Every character decodeURI leaves encoded, a literal "%", and non-ASCII.
      const message = `capability says: ${Code[code]} "quoted" a/b?c=d&e+f,g;h@i#j$k [l] 50% ünïcode`;
      const { server } = await capabilityServer(path, async () => {
        throw new ConnectError(message, code);
      });
      const c = capabilityClient(server.url);
      const err = await rejection(c.client.execute({ capabilityId: "x@1.0.0" }));
      expect(Code[err.code]).toBe(Code[code]);
      expect(err.rawMessage).toBe(message);
    },
  );

  it("a 2 MiB payload round-trips byte for byte", async () => {
    const { server } = await capabilityServer(path, echo);
    const c = capabilityClient(server.url);
    const payload = new Uint8Array(randomBytes(2 * 1024 * 1024));
    const response = await c.client.execute({ capabilityId: "echo@1.0.0", method: "m", payload }, { timeoutMs: 30_000 });
    expect(response.payload.length).toBe(payload.length);
    expect(Buffer.from(response.payload).equals(Buffer.from(payload))).toBe(true);
  });

  it("many concurrent calls each get their own answer", async () => {
    const { server } = await capabilityServer(path, echo);
    const c = capabilityClient(server.url);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => c.client.execute({ capabilityId: "echo@1.0.0", payload: new TextEncoder().encode(`call-${i}`) })),
    );
    expect(answers.map((a) => new TextDecoder().decode(a.payload))).toEqual(Array.from({ length: 200 }, (_, i) => `call-${i}`));
  });
});

describe("relay node vault client (grpc-js)", () => {
  it("calls Vault.GetSecrets with the request as sent and returns the answer", async () => {
    const seen: VaultGetSecretsRequest[] = [];
    const server = await startTestServer(
      [
        implement(Vault, {
          getSecrets: (req) => {
            seen.push(req);
            return create(VaultGetSecretsResponseSchema, {});
          },
        }),
      ],
      { logLevel: "silent" },
    );
    closers.push(() => server.close());
    const c = createVaultClient(server.url);
    closers.unshift(() => c.close());
    const enclavePublicKey = new Uint8Array(32).fill(7);
    await c.client.getSecrets({ enclavePublicKey, owner: "0xabc" }, { timeoutMs: 5_000 });
    expect(seen).toHaveLength(1);
    expect(Buffer.from(seen[0]!.enclavePublicKey)).toEqual(Buffer.from(enclavePublicKey));
    expect(seen[0]!.owner).toBe("0xabc");
  });
});

describe("relay node dependency clients, connection level", () => {
  let bare: Http2Server | undefined;
  afterEach(async () => {
    // This hook runs before the file's: close the clients first, or the server waits on them.
    for (const close of closers.splice(0)) await close();
    await new Promise<void>((resolve) => (bare === undefined ? resolve() : bare.close(() => resolve())));
    bare = undefined;
  });

  it("an unreachable service is Unavailable", async () => {
    // A port that was just free: nothing listens there.
    const probe = createHttp2Server();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const c = capabilityClient(`http://127.0.0.1:${port}`);
    const err = await rejection(c.client.execute({ capabilityId: "echo@1.0.0" }, { timeoutMs: 10_000 }));
    expect(Code[err.code]).toBe("Unavailable");
  });

  it("requests are plaintext h2c gRPC, uncompressed; keepalive and limits are the node's", async () => {
    const headers: IncomingHttpHeaders[] = [];
    const frames: Buffer[] = [];
    bare = createHttp2Server();
    bare.on("stream", (stream, h) => {
      headers.push(h);
      stream.on("data", (chunk: Buffer) => frames.push(chunk));
      stream.on("error", () => undefined);
      stream.on("end", () => stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "nope" }, { endStream: true }));
    });
    await new Promise<void>((resolve) => bare!.listen(0, "127.0.0.1", resolve));
    const c = capabilityClient(`http://127.0.0.1:${(bare.address() as AddressInfo).port}`);
    const payload = new Uint8Array(4096).fill(1); // compressible: a compressing client would gzip it
    const err = await rejection(c.client.execute({ capabilityId: "echo@1.0.0", payload }));
    expect(Code[err.code]).toBe("Unimplemented");
    expect(err.rawMessage).toBe("nope");
    expect(headers).toHaveLength(1);
    expect(headers[0]![":scheme"]).toBe("http");
    expect(headers[0]![":path"]).toBe("/ccr.v1.Capability/Execute");
    expect(headers[0]!["content-type"]).toBe("application/grpc");
    expect(headers[0]!["grpc-encoding"]).toBeUndefined();
    // The first byte of the gRPC frame is its compressed flag.
    expect(Buffer.concat(frames)[0]).toBe(0);
    // grpc-js always advertises these (its compression filter, below any interceptor). The Vault's
    // and Capability's lean path never compresses an answer whatever it says; connect-node would
    // gzip answers over 1 KiB to it (dependency-clients.ts).
    expect(headers[0]!["grpc-accept-encoding"]).toBe("identity,deflate,gzip");
    expect(RELAY_NODE_CHANNEL_OPTIONS).toMatchObject({
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 0,
    });
    expect(RELAY_NODE_CHANNEL_OPTIONS["grpc.default_compression_algorithm"]).toBeUndefined();
  });

  it("https:// targets are refused (the node's peers are h2c)", () => {
    expect(() => createCapabilityClient("https://127.0.0.1:1")).toThrow(/only cleartext http/);
  });
});
