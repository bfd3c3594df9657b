/**
 * A real gateway server (the one-port runtime on 127.0.0.1:0) with fake signing nodes dialing it over
 * HTTP/2, each on its own connection as separate node processes would be.
 */
import { createClient, type Client } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import { Gateway } from "../../../src/contract/index.js";
import { createServiceTransport, Http2SessionPool, implement, type ClientProtocol } from "../../../src/transport/index.js";
import { createGateway, deferredGateway, resolveGatewayOptions, type EdgeCheck, type GatewayHandle, type GatewayOptions } from "../../../src/services/gateway/index.js";
import { startFakeDon, testSigner, type FakeDon, type FakeNodeBehavior } from "../../support/fake-nodes.js";
import { startTestServer, type TestServer } from "../../support/server.js";

export const GATEWAY_ID = "gw-1";
export const DON_ID = "don-1";

export interface RealGateway {
  readonly gateway: GatewayHandle;
  readonly server: TestServer;
  readonly registry: Registry;
  readonly don: FakeDon;
  client(protocol: ClientProtocol, httpVersion?: "1.1" | "2"): Client<typeof Gateway>;
  close(): Promise<void>;
}

export async function startRealGateway(o: {
  readonly behaviors: readonly FakeNodeBehavior[];
  readonly f: number;
  readonly members?: number;
  readonly blocked?: readonly number[];
  readonly edge?: EdgeCheck;
  readonly options?: Partial<GatewayOptions>;
  /** The test leaves a stream the server must cut at close (a blocked node). */
  readonly allowForcedClose?: boolean;
  /** Where member i dials (default: the server itself), e.g. through a test proxy. */
  readonly nodeUrl?: (member: number, serverUrl: string) => string | Promise<string>;
}): Promise<RealGateway> {
  const n = o.members ?? o.behaviors.length;
  const config = resolveGatewayOptions({
    gatewayId: GATEWAY_ID,
    donId: DON_ID,
    members: Array.from({ length: n }, (_, i) => testSigner(i).publicKey),
    f: o.f,
    ...o.options,
  });
  // As a composition root wires it: the server first, then the gateway on the server's registry.
  const late = deferredGateway();
  const server = await startTestServer([implement(Gateway, late.service)], {
    logLevel: "warn",
    httpRoutes: [{ method: "POST", path: "/", handler: late.jsonRpcHandler }],
    // As deployed (src/cli/processes/gateway.ts): plain gRPC calls and node streams take the lean paths.
    leanUnary: late.leanUnary,
    leanBidi: late.leanBidi,
    ...(o.allowForcedClose === true ? { allowForcedClose: true, closeGraceMs: 200 } : {}),
  });
  const registry = server.server.metrics.registry;
  const gateway = createGateway({ config, registry, ...(o.edge === undefined ? {} : { edge: o.edge }) });
  late.bind(gateway);
  const nodePools = o.behaviors.map(() => new Http2SessionPool());
  const clientPool = new Http2SessionPool();
  const urls = await Promise.all(o.behaviors.map((_, i) => o.nodeUrl?.(i, server.url) ?? server.url));
  const don = startFakeDon({
    transport: (i) => createServiceTransport({ baseUrl: urls[i] as string, protocol: "grpc", sessions: nodePools[i] }),
    gatewayId: GATEWAY_ID,
    donId: DON_ID,
    behaviors: o.behaviors,
    ...(o.blocked === undefined ? {} : { blocked: o.blocked }),
  });
  await don.ready();
  for (let i = 0; i < 2_000 && gateway.core.connectedMembers.length < o.behaviors.length; i++) {
    await new Promise((r) => setTimeout(r, 2));
  }
  return {
    gateway,
    server,
    registry,
    don,
    client: (protocol, httpVersion = "2") =>
      createClient(Gateway, createServiceTransport({ baseUrl: server.url, protocol, httpVersion, sessions: clientPool })),
    async close() {
      gateway.close();
      await don.stop();
      for (const p of nodePools) p.closeAll();
      clientPool.closeAll();
      await server.close();
    },
  };
}

/** POSTs a JSON-RPC body to the gateway's `/`. */
export async function postJsonRpc(
  url: string,
  body: unknown,
  contentType = "application/json",
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(url + "/", {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}
