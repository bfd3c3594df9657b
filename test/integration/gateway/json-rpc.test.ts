import * as http from "node:http";
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { relayBindingHash, relayResultHash, RelayMethod } from "../../../src/contract/index.js";
import { verifyQuorumCertificate } from "../../../src/domain/quorum/certificate.js";
import { paramsFromJsonRpc } from "../../../src/services/gateway/json-rpc-params.js";
import { honestResult, relayErrorResult, testSigner } from "../../support/fake-nodes.js";
import { postJsonRpc, startRealGateway, type RealGateway } from "./fixtures.js";

let gw: RealGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString("base64");
const fromB64 = (s: unknown): Uint8Array => new Uint8Array(Buffer.from(String(s), "base64"));

const secretsParams = {
  workflow_id: "ab".repeat(32),
  owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  execution_id: "cd".repeat(32),
  org_id: "org-1",
  secrets: [{ key: "API_KEY", namespace: "main" }, { key: "missing_KEY" }],
  enclave_public_key: "07".repeat(32),
  enclave_config: { signers: [0, 1, 2, 3].map((i) => b64(testSigner(i).publicKey)), f: 1 },
  attestation: b64("attestation-document:enclave-a"),
  timestamp_ms: 1_700_000_000_000,
};

const capabilityParams = {
  workflow_id: "ab".repeat(32),
  owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  execution_id: "cd".repeat(32),
  reference_id: "17",
  capability_id: "echo@1.0.0",
  payload: b64("hello"),
  attestation: b64("attestation-document:enclave-a"),
  timestamp_ms: 1_700_000_000_000,
};

function call(id: unknown, method: string, params: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", id, method, params };
}

type JsonError = { code: number; message: string; data: Record<string, unknown> | null };

describe("JSON-RPC 2.0 compatibility endpoint (POST /)", () => {
  it("answers confidential.secrets.get with the result and a certificate the enclave verifies", async () => {
    gw = await startRealGateway({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const r = await postJsonRpc(gw.server.url, call("req-1", RelayMethod.getSecrets, secretsParams));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.json).toMatchObject({ jsonrpc: "2.0", id: "req-1", method: "confidential.secrets.get" });
    const result = r.json["result"] as { result: { secrets: Record<string, unknown>[] }; certificate: Record<string, unknown> };
    expect(result.result.secrets[0]).toMatchObject({ id: { key: "API_KEY", namespace: "main" }, encrypted: {} });
    expect(result.result.secrets[1]).toMatchObject({
      id: { key: "missing_KEY", namespace: "main" },
      error: { kind: "SECRET_ERROR_KIND_NOT_FOUND", message: "secret not found: main/missing_KEY" },
    });
    // The enclave's own check: recompute the hashes from its request and the JSON result.
    const mapped = paramsFromJsonRpc(RelayMethod.getSecrets, "req-1", secretsParams);
    if (mapped.kind !== "ok") throw new Error(mapped.reason);
    const hash = relayResultHash(relayBindingHash(mapped.params), honestResult(mapped.params));
    expect(fromB64(result.certificate["result_hash"])).toEqual(new Uint8Array(hash));
    const certificate = {
      $typeName: "ccr.v1.QuorumCertificate" as const,
      resultHash: fromB64(result.certificate["result_hash"]),
      signatures: (result.certificate["signatures"] as { signer: string; signature: string }[]).map((s) => ({
        $typeName: "ccr.v1.NodeSignature" as const,
        signer: fromB64(s.signer),
        signature: fromB64(s.signature),
      })),
    };
    expect(verifyQuorumCertificate(certificate, hash, { signers: [0, 1, 2, 3].map((i) => testSigner(i).publicKey), f: 1 }).kind).toBe("valid");
  });

  it("answers confidential.capability.execute and accepts application/jsonrpc (echoed back)", async () => {
    gw = await startRealGateway({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const r = await postJsonRpc(gw.server.url, call("cap-1", RelayMethod.executeCapability, capabilityParams), "application/jsonrpc; charset=utf-8");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/jsonrpc");
    expect(r.json["result"]).toMatchObject({ result: { payload: b64("hello") } });
  });

  it.each<[string, unknown, number, string, number]>([
    ["not JSON", "{nope", -32700, "parse error: the body is not valid JSON", 400],
    ["a batch", [call("a", RelayMethod.getSecrets, {})], -32600, "batch requests are not supported", 400],
    ["a wrong version", { jsonrpc: "1.0", id: "a", method: RelayMethod.getSecrets, params: {} }, -32600, "incorrect jsonrpc version", 400],
    ["a numeric id", call(7, RelayMethod.getSecrets, {}), -32600, "id must be a string (it is the request ID)", 400],
    ["an empty method", call("a", "", {}), -32600, "empty method field", 400],
    ["an unknown method", call("a", "confidential.nope", {}), -32601, "method not found: confidential.nope", 404],
    ["missing params", { jsonrpc: "2.0", id: "a", method: RelayMethod.getSecrets }, -32602, "invalid params: params are required", 400],
    ["bad params", call("a", RelayMethod.getSecrets, { enclave_public_key: "xyz" }), -32602, "invalid params: enclave_public_key must be hex-encoded", 400],
    ["an empty id", call("", RelayMethod.getSecrets, secretsParams), -32600, "request ID cannot be empty", 400],
    ["a too-long id", call("x".repeat(201), RelayMethod.getSecrets, secretsParams), -32600, "request ID is too long: 201. max is 200 characters", 400],
  ])("refuses %s with the upstream code", async (_name, body, code, message, status) => {
    gw = await startRealGateway({ behaviors: ["honest", "honest", "honest", "honest"], f: 1 });
    const r = await postJsonRpc(gw.server.url, body);
    expect(r.status).toBe(status);
    expect((r.json["error"] as JsonError).code).toBe(code);
    expect((r.json["error"] as JsonError).message).toBe(message);
    expect(gw.don.nodes.every((n) => n.requests.length === 0)).toBe(true);
  });

  it("refuses other content types with 415", async () => {
    gw = await startRealGateway({ behaviors: ["honest"], members: 4, f: 1 });
    const r = await postJsonRpc(gw.server.url, call("a", RelayMethod.getSecrets, secretsParams), "text/plain");
    expect(r.status).toBe(415);
    expect((r.json["error"] as JsonError).code).toBe(-32600);
  });

  it("maps an error F+1 nodes agreed on to its JSON-RPC code, with the signed detail in data", async () => {
    const agreed = relayErrorResult(Code.NotFound, "secret not found: main/API_KEY");
    gw = await startRealGateway({ behaviors: [{ result: agreed }, { result: agreed }, "fail", "fail"], f: 1 });
    const r = await postJsonRpc(gw.server.url, call("req-nf", RelayMethod.getSecrets, secretsParams));
    expect(r.status).toBe(400);
    const error = r.json["error"] as JsonError;
    expect(error.code).toBe(-32602);
    expect(error.message).toBe("secret not found: main/API_KEY");
    expect(error.data?.["code"]).toBe("not_found");
    expect(error.data?.["relay_error"]).toMatchObject({ error: { code: 5, message: "secret not found: main/API_KEY" } });
  });

  it("answers -32603 when the quorum is unobtainable", async () => {
    gw = await startRealGateway({ behaviors: ["fail", "fail", "fail", "fail"], f: 1 });
    const r = await postJsonRpc(gw.server.url, call("req-u", RelayMethod.getSecrets, secretsParams));
    expect(r.status).toBe(500);
    expect((r.json["error"] as JsonError).code).toBe(-32603);
    // Three failures already make 2 matching answers impossible: the gateway does not wait for the fourth.
    expect((r.json["error"] as JsonError).message).toBe("quorum unobtainable: requiredQuorum=2, maxBucket=0, remaining=1");
  });

  it("answers -32000 at the deadline", async () => {
    gw = await startRealGateway({ behaviors: ["silent", "silent", "silent", "silent"], f: 1, options: { requestTimeoutMs: 300 } });
    const r = await postJsonRpc(gw.server.url, call("req-t", RelayMethod.getSecrets, secretsParams));
    expect(r.status).toBe(504);
    expect(r.json["error"]).toMatchObject({ code: -32000, message: "request expired: got 0/2 matching responses" });
  });

  it("answers -32002 with retry-after-ms when rate limited, and -32600 for an id in flight", async () => {
    gw = await startRealGateway({
      behaviors: ["silent", "silent", "silent", "silent"],
      f: 1,
      options: { ingress: { global: { ratePerSec: 0.01, burst: 2 } }, requestTimeoutMs: 5_000 },
    });
    const first = postJsonRpc(gw.server.url, call("req-dup", RelayMethod.getSecrets, secretsParams));
    await Promise.all(gw.don.nodes.map((n) => n.waitFor(() => n.requests.length === 1)));
    const dup = await postJsonRpc(gw.server.url, call("req-dup", RelayMethod.getSecrets, secretsParams));
    expect(dup.status).toBe(400);
    expect(dup.json["error"]).toMatchObject({ code: -32600, message: "request ID already exists: req-dup", data: { code: "already_exists" } });
    const limited = await postJsonRpc(gw.server.url, call("req-rl", RelayMethod.getSecrets, secretsParams));
    expect(limited.status).toBe(429);
    expect((limited.json["error"] as JsonError).code).toBe(-32002);
    const retry = limited.headers.get("retry-after-ms");
    expect(Number(retry)).toBeGreaterThan(0);
    expect((limited.json["error"] as JsonError).data?.["retry_after_ms"]).toBe(Number(retry));
    gw.gateway.close();
    expect((await first).json["error"]).toMatchObject({ code: -32603, message: "gateway is shutting down" });
  });

  it("a client that disconnects cancels the relay at the nodes", async () => {
    gw = await startRealGateway({ behaviors: ["silent", "silent", "silent", "silent"], f: 1 });
    const url = new URL(gw.server.url);
    const req = http.request({ host: url.hostname, port: url.port, path: "/", method: "POST", headers: { "content-type": "application/json" } });
    req.on("error", () => {});
    req.end(JSON.stringify(call("req-gone", RelayMethod.getSecrets, secretsParams)));
    await Promise.all(gw.don.nodes.map((n) => n.waitFor(() => n.requests.length === 1)));
    req.destroy();
    await Promise.all(gw.don.nodes.map((n) => n.waitFor(() => n.cancels.size === 1)));
    for (const n of gw.don.nodes) expect([...n.cancels.values()]).toEqual(["client canceled"]);
    expect(gw.gateway.core.inFlightCount).toBe(0);
  });
});
