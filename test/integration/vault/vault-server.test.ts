/**
 * The Vault behind the real ccr server runtime (real sockets, gRPC and Connect JSON), as relay nodes
 * and the CLI reach it: wire behaviour, per-call logs without secret material, and its metrics on the
 * server's /metrics.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Vault } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { openSecret } from "../../../src/domain/crypto/secret-box.js";
import { createVaultService, resolveVaultOptions } from "../../../src/services/vault/index.js";
import { createMemoryVaultStore } from "../../../src/store/vault-memory-store.js";
import { Http2SessionPool, createServiceClient, implement } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { ENCLAVE_SK, KEY_K1, NODES, OUTSIDER, OWNER, T0, counterRandom, nodeRequest, ownerSignature } from "../../service/vault/harness.js";

const SECRET = "wire-s3cret-Value-3141";

describe("Vault over real sockets", () => {
  let server: TestServer;
  const sessions = new Http2SessionPool();
  const clock = new ManualClock(T0);

  beforeAll(async () => {
    const vault = createVaultService({
      options: resolveVaultOptions({ keyring: { activeKeyId: "k1", keys: { k1: KEY_K1 } }, donMembers: NODES.map((n) => n.publicKey) }),
      store: createMemoryVaultStore(),
      logger: pino({ level: "silent" }),
      clock,
      randomBytes: counterRandom(),
    });
    server = await startTestServer([implement(Vault, vault.implementation)]);
    vault.registerMetricsOn(server.server.metrics.registry);
  });

  afterAll(async () => {
    sessions.closeAll();
    await server.close();
  });

  it("stores over Connect JSON on HTTP/1.1 and serves sealed secrets over gRPC", async () => {
    const writer = createServiceClient(Vault, { baseUrl: server.url, protocol: "connect", httpVersion: "1.1", useBinaryFormat: false });
    const value = Buffer.from(SECRET);
    const put = { method: "PutSecret" as const, owner: OWNER, key: "API_KEY", value };
    const stored = await writer.putSecret({ owner: OWNER, id: { key: "API_KEY" }, value, signature: ownerSignature(put, clock.nowMs()) });
    expect(stored.version).toBe(1n);

    const node = createServiceClient(Vault, { baseUrl: server.url, protocol: "grpc", sessions });
    const h = { clock };
    const res = await node.getSecrets(nodeRequest(h, [{ key: "API_KEY" }, { key: "MISSING" }]));
    const first = res.results[0]!;
    if (first.outcome.case !== "encrypted") throw new Error("expected a sealed secret");
    const box = openSecret(ENCLAVE_SK, first.outcome.value, { owner: OWNER, namespace: "main", key: "API_KEY" });
    expect(box.kind === "ok" && Buffer.from(box.plaintext).toString()).toBe(SECRET);
    expect(res.results[1]!.outcome.case).toBe("error");

    const denied = await node.getSecrets(nodeRequest(h, [{ key: "API_KEY" }], OUTSIDER)).catch((e: unknown) => ConnectError.from(e));
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
  });

  it("keeps secret values out of every log line the server wrote", () => {
    const raw = server.rawLogs();
    expect(raw).toContain("ccr.v1.Vault/GetSecrets");
    // The service logs through the call's logger (rpc and request id bound), into the server's log.
    const stored = server.logs().find((line) => line.msg === "secret stored");
    expect(stored).toMatchObject({ secretId: "main/API_KEY", rpc: "ccr.v1.Vault/PutSecret" });
    for (const spelling of [SECRET, Buffer.from(SECRET).toString("base64"), Buffer.from(SECRET).toString("hex")]) {
      expect(raw).not.toContain(spelling);
    }
  });

  it("publishes its metrics on the server's /metrics", async () => {
    const res = await fetch(`${server.url}/metrics`);
    const text = await res.text();
    expect(text).toContain('ccr_vault_calls_total{method="PutSecret",code="OK"} 1');
    expect(text).toContain('ccr_vault_calls_total{method="GetSecrets",code="PermissionDenied"} 1');
    expect(text).toContain('ccr_vault_memo_lookups_total{result="computed"} 1');
  });
});
