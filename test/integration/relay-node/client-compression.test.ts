/**
 * The relay node's connect clients (src/services/relay-node/transport.ts: its gateway streams, and
 * any Vault/Capability client made with it) ask their peers for uncompressed answers: on the wire, their requests carry no `grpc-accept-encoding`, so a ccr server (which
 * gzips any answer over 1 KiB for a client that accepts it) answers plainly. Gzip on these
 * loopback/LAN hops cost CPU on both ends, and a gunzipped message pinned a 16 KiB zlib chunk per
 * request in flight on the node.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createServer, type Http2Server, type IncomingHttpHeaders } from "node:http2";
import type { AddressInfo } from "node:net";
import { Capability, Gateway } from "../../../src/contract/index.js";
import { createGrpcClient, type ClosableClient } from "../../../src/services/relay-node/transport.js";

let server: Http2Server | undefined;
const clients: ClosableClient<typeof Capability | typeof Gateway>[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** A bare HTTP/2 server that records each request's headers and answers gRPC Unimplemented. */
async function recordingServer(): Promise<{ url: string; headers: IncomingHttpHeaders[] }> {
  const headers: IncomingHttpHeaders[] = [];
  server = createServer();
  server.on("stream", (stream, h) => {
    headers.push(h);
    stream.on("error", () => undefined);
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, headers };
}

describe("relay node clients", () => {
  // The node's own Vault/Capability clients are grpc-js (dependency-clients.test.ts covers them).
  it("send no grpc-accept-encoding on unary calls", async () => {
    const { url, headers } = await recordingServer();
    const c = createGrpcClient(Capability, url);
    clients.push(c);
    await expect(c.client.execute({ capabilityId: "echo@1.0.0" })).rejects.toThrow(/unimplemented/i);
    expect(headers).toHaveLength(1);
    expect(headers[0]![":path"]).toBe("/ccr.v1.Capability/Execute");
    expect(headers[0]!["content-type"]).toBe("application/grpc+proto");
    expect(headers[0]!["grpc-accept-encoding"]).toBeUndefined();
  });

  it("send no grpc-accept-encoding on the gateway stream", async () => {
    const { url, headers } = await recordingServer();
    const c = createGrpcClient(Gateway, url);
    clients.push(c);
    const stream = c.client.connectNode((async function* () {})());
    await expect((async () => {
      for await (const _ of stream) void _;
    })()).rejects.toThrow(/unimplemented/i);
    expect(headers).toHaveLength(1);
    expect(headers[0]![":path"]).toBe("/ccr.v1.Gateway/ConnectNode");
    expect(headers[0]!["grpc-accept-encoding"]).toBeUndefined();
  });
});
