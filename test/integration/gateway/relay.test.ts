import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { relayBindingHash, relayResultHash, RelayErrorDetailSchema } from "../../../src/contract/index.js";
import { verifyQuorumCertificate } from "../../../src/domain/quorum/certificate.js";
import type { ClientProtocol } from "../../../src/transport/index.js";
import { honestResult, relayErrorResult, testSigner } from "../../support/fake-nodes.js";
import { capabilityRequest, secretsRequest } from "../../service/gateway/fixtures.js";
import { startRealGateway, type RealGateway } from "./fixtures.js";

let gw: RealGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

const DON4 = { signers: [0, 1, 2, 3].map((i) => testSigner(i).publicKey), f: 1 };

describe("gateway over real sockets", () => {
  it.each<[ClientProtocol, "1.1" | "2"]>([
    ["grpc", "2"],
    ["connect", "2"],
    ["connect", "1.1"],
    ["grpc-web", "1.1"],
  ])("relays GetSecrets over %s (HTTP/%s) with a certificate the enclave verifies", async (protocol, httpVersion) => {
    gw = await startRealGateway({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const req = secretsRequest(`req-${protocol}-${httpVersion}`);
    const res = await gw.client(protocol, httpVersion).getSecrets(req);
    const params = { case: "getSecrets" as const, value: req };
    expect(res.result).toEqual(honestResult(params).value);
    const hash = relayResultHash(relayBindingHash(params), honestResult(params));
    expect(verifyQuorumCertificate(res.certificate, hash, DON4).kind).toBe("valid");
  });

  it("exposes the gateway's metrics on the server's /metrics", async () => {
    gw = await startRealGateway({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    await gw.client("grpc").executeCapability(capabilityRequest("m-1"));
    const text = await (await fetch(gw.server.url + "/metrics")).text();
    expect(text).toContain('ccr_gateway_requests_total{method="confidential.capability.execute",outcome="ok"} 1');
    expect(text).toContain("ccr_gateway_nodes_connected 4");
  });

  it("carries an agreed RelayError's code, message and detail over gRPC and Connect", async () => {
    const agreed = relayErrorResult(Code.InvalidArgument, "secrets[0].key is required");
    gw = await startRealGateway({ behaviors: [{ result: agreed }, { result: agreed }, { result: agreed }, "honest"], f: 1 });
    for (const protocol of ["grpc", "connect"] as const) {
      const err = await failure(gw.client(protocol).executeCapability(capabilityRequest(`err-${protocol}`)));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("secrets[0].key is required");
      expect(err.findDetails(RelayErrorDetailSchema)[0]?.certificate?.signatures).toHaveLength(2);
    }
  });

  it("sends the retry-after-ms hint as response metadata", async () => {
    gw = await startRealGateway({
      behaviors: ["honest", "honest", "honest", "honest"],
      f: 1,
      options: { ingress: { global: { ratePerSec: 0.01, burst: 1 } } },
    });
    await gw.client("grpc").executeCapability(capabilityRequest("rl-1"));
    for (const [protocol, version] of [["grpc", "2"], ["connect", "1.1"]] as const) {
      const err = await failure(gw.client(protocol, version).executeCapability(capabilityRequest(`rl-${protocol}`)));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(Number(err.metadata.get("retry-after-ms"))).toBeGreaterThan(0);
    }
  });

  it("answers before the client's own deadline with the gateway's expiry message", async () => {
    // A generous margin: on a loaded 2-core machine a 50 ms margin can lose the race to the client's
    // own timer, and this test is about who answers, not how tight the margin can be.
    gw = await startRealGateway({ behaviors: ["silent", "silent", "silent", "silent"], f: 1, options: { deadlineMarginMs: 500 } });
    const err = await failure(gw.client("grpc").getSecrets(secretsRequest("req-deadline"), { timeoutMs: 1_500 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.rawMessage).toBe("request expired: got 0/2 matching responses");
    expect(gw.gateway.core.inFlightCount).toBe(0);
  });

  it("a client cancel reaches the nodes", async () => {
    gw = await startRealGateway({ behaviors: ["silent", "silent", "silent", "silent"], f: 1 });
    const abort = new AbortController();
    const call = failure(gw.client("grpc").getSecrets(secretsRequest("req-cancel"), { signal: abort.signal }));
    await Promise.all(gw.don.nodes.map((n) => n.waitFor(() => n.requests.length === 1)));
    abort.abort();
    expect((await call).code).toBe(Code.Canceled);
    await Promise.all(gw.don.nodes.map((n) => n.waitFor(() => n.cancels.size === 1)));
    for (const n of gw.don.nodes) expect([...n.cancels.values()]).toEqual(["client canceled"]);
  });

  it("a node whose connection accepts no writes fails its sends after nodeSendTimeoutMs, without stalling the others", async () => {
    // Member 3 dials through a proxy that, once the handshake is done, stops passing the gateway's
    // bytes on: the gateway's HTTP/2 flow-control window to that node fills and its writes stall.
    const proxy = await startProxy();
    proxies.push(proxy);
    gw = await startRealGateway({
      behaviors: ["honest", "fail", "fail", "honest"],
      f: 1,
      options: { nodeSendTimeoutMs: 2_000, requestTimeoutMs: 25_000 },
      allowForcedClose: true,
      nodeUrl: (i, url) => (i === 3 ? proxy.via(url) : url),
    });
    proxy.blockDownstream();
    // Random bytes: the transport compresses messages, and a run of equal bytes would shrink to nothing.
    const payload = new Uint8Array(randomBytes(256 * 1024));
    const errors = await Promise.all(
      [0, 1].map((i) => failure(gw!.client("grpc").executeCapability(capabilityRequest(`blk-${i}`, { payload })))),
    );
    for (const err of errors) {
      // Failed fast once node 3's send timed out (not at the 25 s request deadline), whether or not
      // the honest node 0 had answered by then.
      expect(err.code).toBe(Code.Unavailable);
      const m = /^quorum unobtainable: requiredQuorum=2, maxBucket=(\d), remaining=(\d)$/.exec(err.rawMessage);
      expect(m, err.rawMessage).not.toBeNull();
      expect(Number(m?.[1]) + Number(m?.[2])).toBe(1);
    }
    // The others got every request.
    for (const n of gw.don.nodes.slice(0, 3)) expect(n.requests).toHaveLength(2);
    expect(gw.don.nodes[3]!.requests).toHaveLength(0);
  });
});

interface Proxy {
  via(serverUrl: string): Promise<string>;
  blockDownstream(): void;
  close(): Promise<void>;
}

const proxies: Proxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

/** A TCP proxy whose server→client direction can be stopped (the client's socket then receives nothing). */
async function startProxy(): Promise<Proxy> {
  const pairs: { client: net.Socket; upstream: net.Socket }[] = [];
  let target = 0;
  let blocked = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    pairs.push({ client, upstream });
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d) => {
      if (!blocked) client.write(d);
      else upstream.pause();
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    async via(serverUrl) {
      target = Number(new URL(serverUrl).port);
      return `http://127.0.0.1:${port}`;
    },
    blockDownstream() {
      blocked = true;
      for (const p of pairs) p.upstream.pause();
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
