/**
 * Real sockets: the node dials a gateway over h2c gRPC (its default transport), completes the
 * handshake, answers; the gateway goes away and comes back on the same port; the node redials by
 * itself (capped backoff) and answers again.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Registry } from "prom-client";
import { Gateway } from "../../../src/contract/index.js";
import { capabilityBindingHash, relayResultHash } from "../../../src/contract/relay-hash.js";
import { systemClock } from "../../../src/domain/clock.js";
import { verifyQuorumCertificate } from "../../../src/domain/quorum/certificate.js";
import { createGateway, resolveGatewayOptions } from "../../../src/services/gateway/index.js";
import type { RelayNodeInstance } from "../../../src/services/relay-node/index.js";
import { createServer, createServiceClient, Http2SessionPool, implement } from "../../../src/transport/index.js";
import { FakeGateway } from "../../service/relay-node/fake-gateway.js";
import { capabilityRequest, DON_F, DON_ID, DON_SIGNERS, makeNode, secretsRequest } from "../../service/relay-node/fixtures.js";

const GATEWAY_ID = "gw-int";

interface Running {
  readonly port: number;
  stop(): Promise<void>;
}

/** A fake gateway on a real h2c server; `stop` drops every connection like a crashed process. */
async function serve(gateway: FakeGateway, port = 0): Promise<Running> {
  const server = http2.createServer(connectNodeAdapter({ routes: gateway.routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function fakeGateway(): FakeGateway {
  return new FakeGateway({ gatewayId: GATEWAY_ID, donId: DON_ID, members: DON_SIGNERS, nowMs: () => Date.now() });
}

describe("gateway link over a real socket", () => {
  it("reconnects after the gateway restarts, and serves requests on the new stream", async () => {
    const first = fakeGateway();
    const running = await serve(first);
    let current: Running = running;
    cleanup.push(() => current.stop());

    const { node } = makeNode({
      clock: systemClock,
      options: {
        gateways: [{ url: `http://127.0.0.1:${running.port}`, gatewayId: GATEWAY_ID }],
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      },
    });
    cleanup.push(() => node.close());
    node.start();

    const s1 = await first.acceptedSession(0);
    s1.request(1n, { case: "getSecrets", value: secretsRequest() });
    await s1.until(() => s1.answers.length === 1);
    expect(s1.answers[0]!.outcome.case).toBe("signed");

    await running.stop();
    const second = fakeGateway();
    current = await serve(second, running.port);

    const s2 = await second.acceptedSession(0);
    await node.links[0]!.whenReady(1);
    expect(node.links[0]!.completedHandshakes).toBe(2);
    s2.request(7n, { case: "executeCapability", value: capabilityRequest() });
    await s2.until(() => s2.answers.length === 1);
    expect(s2.answers[0]!.relayId).toBe(7n);
    expect(s2.answers[0]!.outcome.case).toBe("signed");
  });

  it("keeps redialing a gateway that is not up yet, then connects once it is", async () => {
    // Reserve a port, free it, and point the node at it before anything listens there.
    const probe = await serve(fakeGateway());
    const port = probe.port;
    await probe.stop();

    const { node } = makeNode({
      clock: systemClock,
      options: {
        gateways: [{ url: `http://127.0.0.1:${port}`, gatewayId: GATEWAY_ID }],
        reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
      },
    });
    cleanup.push(() => node.close());
    node.start();
    await expect.poll(() => node.links[0]!.state, { timeout: 10_000, interval: 5 }).toBe("backoff");

    const gateway = fakeGateway();
    const running = await serve(gateway, port);
    cleanup.push(() => running.stop());
    await gateway.acceptedSession(0);
    await node.links[0]!.whenReady();
    expect(node.links[0]!.state).toBe("ready");
  });

  it("with the real gateway: four nodes reconnect after it restarts and reach quorum again", async () => {
    /** The real gateway on the ccr server runtime; a restart is a new gateway on the same port. */
    async function startGateway(port: number) {
      const gateway = createGateway({
        config: resolveGatewayOptions({ gatewayId: GATEWAY_ID, donId: DON_ID, members: DON_SIGNERS, f: DON_F }),
        registry: new Registry(),
      });
      const server = createServer({ name: "gateway", services: [implement(Gateway, gateway.service)], host: "127.0.0.1", port, defaultMetrics: false });
      const { url, port: bound } = await server.listen();
      return {
        url,
        port: bound,
        stop: async () => {
          gateway.close();
          await server.close({ graceMs: 100 });
        },
      };
    }

    let gw = await startGateway(0);
    cleanup.push(() => gw.stop());
    const nodes: RelayNodeInstance[] = [0, 1, 2, 3].map(
      (i) =>
        makeNode({
          index: i,
          clock: systemClock,
          options: { gateways: [{ url: gw.url, gatewayId: GATEWAY_ID }], reconnect: { initialDelayMs: 20, maxDelayMs: 200 } },
        }).node,
    );
    for (const n of nodes) {
      cleanup.push(() => n.close());
      n.start();
    }
    const sessions = new Http2SessionPool();
    cleanup.push(async () => sessions.closeAll());

    async function relayOnce(requestId: string): Promise<void> {
      const req = capabilityRequest({ requestId, timestampMs: BigInt(Date.now()) });
      const enclave = createServiceClient(Gateway, { baseUrl: gw.url, protocol: "grpc", sessions });
      const res = await enclave.executeCapability(req);
      const expected = relayResultHash(capabilityBindingHash(req), { case: "capability", value: res.result! });
      expect(verifyQuorumCertificate(res.certificate, expected, { signers: DON_SIGNERS, f: DON_F }).kind).toBe("valid");
    }

    await Promise.all(nodes.map((n) => n.links[0]!.whenReady()));
    await relayOnce("before-restart");

    await gw.stop();
    sessions.closeAll();
    gw = await startGateway(gw.port);
    await Promise.all(nodes.map((n) => n.links[0]!.whenReady(1)));
    expect(nodes.map((n) => n.links[0]!.completedHandshakes)).toEqual([2, 2, 2, 2]);
    await relayOnce("after-restart");
  });
});
