import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  capabilityRequest,
  metricValue,
  secretsRequest,
  startGatewayFixture,
  textSenderEdge,
  attestationDoc,
  waitUntil,
  type GatewayFixture,
} from "./fixtures.js";

let fx: GatewayFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error("expected the call to fail");
}

describe("request ids (upstream RequestIDTooLong, EmptyRequestID, DuplicateRequestID)", () => {
  it("refuses an empty id", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const err = await failure(fx.client.getSecrets(secretsRequest("")));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("request ID cannot be empty");
    expect(fx.don.nodes.every((n) => n.requests.length === 0)).toBe(true);
  });

  it("refuses an id longer than 200 characters, and accepts exactly 200", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const err = await failure(fx.client.getSecrets(secretsRequest("x".repeat(201))));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("request ID is too long: 201. max is 200 characters");
    await expect(fx.client.getSecrets(secretsRequest("x".repeat(200)))).resolves.toBeDefined();
  });

  it("refuses an id already in flight for the same sender; the first request is unaffected", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent", "silent", "silent"], f: 1 });
    const first = fx.client.getSecrets(secretsRequest("req-dup"));
    await waitUntil(() => fx!.gateway.core.inFlightCount === 1);
    const err = await failure(fx.client.getSecrets(secretsRequest("req-dup")));
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.rawMessage).toBe("request ID already exists: req-dup");
    expect(fx.gateway.core.inFlightCount).toBe(1);
    expect(fx.don.nodes[0]!.requests.length).toBeLessThanOrEqual(1);
    fx.gateway.close();
    await expect(first).rejects.toThrow("gateway is shutting down");
  });

  it("scopes ids per sender: another enclave may use the same id at the same time", async () => {
    fx = await startGatewayFixture({ behaviors: ["silent", "silent", "silent", "silent"], f: 1, edge: textSenderEdge });
    const a = fx.client.getSecrets(secretsRequest("shared-id", { attestation: { document: attestationDoc("enclave-a") } }));
    const b = fx.client.getSecrets(secretsRequest("shared-id", { attestation: { document: attestationDoc("enclave-b") } }));
    await waitUntil(() => fx!.gateway.core.inFlightCount === 2);
    const again = await failure(fx.client.getSecrets(secretsRequest("shared-id", { attestation: { document: attestationDoc("enclave-b") } })));
    expect(again.code).toBe(Code.AlreadyExists);
    fx.gateway.close();
    await expect(a).rejects.toThrow();
    await expect(b).rejects.toThrow();
  });

  it("frees the id once the request completed", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    await fx.client.executeCapability(capabilityRequest("reuse"));
    // Same id, new request (a new timestamp makes it a different request).
    await fx.client.executeCapability(capabilityRequest("reuse", { timestampMs: 1_700_000_000_001n }));
    expect(await metricValue(fx.registry, "ccr_gateway_requests_total", { outcome: "ok" })).toBe(2);
  });
});

describe("edge check before fan-out", () => {
  it("refuses a request without an attestation document once, at the edge, with no node asked", async () => {
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const err = await failure(fx.client.getSecrets(secretsRequest("no-att", { attestation: undefined })));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("attestation.document is required");
    expect(fx.don.nodes.every((n) => n.requests.length === 0)).toBe(true);
    expect(await metricValue(fx.registry, "ccr_gateway_requests_total", { outcome: "edge_rejected" })).toBe(1);
  });

  it("passes the edge check's refusal code and reason through, and the binding hash it checked", async () => {
    const seen: Uint8Array[] = [];
    fx = await startGatewayFixture({
      behaviors: ["honest", "honest", "honest", "honest"],
      f: 1,
      edge: {
        check(_params, bindingHash) {
          seen.push(bindingHash);
          return { kind: "rejected", code: Code.PermissionDenied, reason: "attestation: document_too_old" };
        },
      },
    });
    const err = await failure(fx.client.getSecrets(secretsRequest("stale")));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toBe("attestation: document_too_old");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toHaveLength(32);
    expect(fx.don.nodes.every((n) => n.requests.length === 0)).toBe(true);
  });
});

describe("deadlines handed to the nodes", () => {
  it("sends whole ms even when the caller's remaining deadline is fractional, and the node streams survive it", async () => {
    // RelayRequest.timeout_ms is a uint32: a fractional value would fail serialization on every
    // node stream at once (the lean gRPC path once handed one through).
    fx = await startGatewayFixture({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const answer = await fx.gateway.core.relay({ case: "executeCapability", value: capabilityRequest("frac-1") }, { clientTimeoutMs: 20_000.75 });
    expect(answer.result.case).toBe("capability");
    for (const node of fx.don.nodes) {
      const timeoutMs = node.requests[0]?.timeoutMs as number;
      expect(Number.isInteger(timeoutMs)).toBe(true);
      expect(timeoutMs).toBeGreaterThan(0);
      expect(timeoutMs).toBeLessThanOrEqual(20_000);
    }
    expect(fx.gateway.core.connectedMembers).toEqual([0, 1, 2, 3]);
  });
});
