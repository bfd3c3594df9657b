/**
 * Vault.GetSecrets on the transport's lean gRPC path (`vault.leanRoutes` given to
 * `createServer({ leanUnary })`): the relay nodes' plain gRPC reads skip the connect handler and get
 * the same sealed answers, refusals and metrics as on every other protocol.
 */
import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Vault, VaultGetSecretsResponseSchema, type VaultGetSecretsRequest } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { openSecret } from "../../../src/domain/crypto/secret-box.js";
import { createVaultService, resolveVaultOptions } from "../../../src/services/vault/index.js";
import { createMemoryVaultStore } from "../../../src/store/vault-memory-store.js";
import { Http2SessionPool, createServiceClient, implement } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { ENCLAVE_SK, KEY_K1, NODES, OUTSIDER, OWNER, T0, counterRandom, nodeRequest, ownerSignature } from "../../service/vault/harness.js";

describe("Vault.GetSecrets on the lean gRPC path", () => {
  let server: TestServer;
  const sessions = new Http2SessionPool();
  const clock = new ManualClock(T0);
  let connectHandlerCalls = 0;

  beforeAll(async () => {
    const vault = createVaultService({
      options: resolveVaultOptions({ keyring: { activeKeyId: "k1", keys: { k1: KEY_K1 } }, donMembers: NODES.map((n) => n.publicKey) }),
      store: createMemoryVaultStore(),
      logger: pino({ level: "silent" }),
      clock,
      randomBytes: counterRandom(),
    });
    const viaConnect = vault.implementation.getSecrets;
    server = await startTestServer([
      implement(Vault, {
        ...vault.implementation,
        getSecrets: (req: VaultGetSecretsRequest, ctx: HandlerContext) => {
          connectHandlerCalls++;
          return viaConnect(req, ctx);
        },
      }),
    ], { leanUnary: vault.leanRoutes });
    vault.registerMetricsOn(server.server.metrics.registry);
    const writer = createServiceClient(Vault, { baseUrl: server.url, protocol: "connect", httpVersion: "1.1" });
    const value = Buffer.from("lean-secret");
    await writer.putSecret({ owner: OWNER, id: { key: "API_KEY" }, value, signature: ownerSignature({ method: "PutSecret", owner: OWNER, key: "API_KEY", value }, clock.nowMs()) });
  });

  afterAll(async () => {
    sessions.closeAll();
    await server.close();
  });

  it("seals secrets for gRPC callers without the connect handler, as Connect callers get them", async () => {
    const grpc = createServiceClient(Vault, { baseUrl: server.url, protocol: "grpc", sessions });
    const connect = createServiceClient(Vault, { baseUrl: server.url, protocol: "connect", httpVersion: "1.1" });
    const h = { clock };
    const request = nodeRequest(h, [{ key: "API_KEY" }, { key: "MISSING" }]);
    const lean = await grpc.getSecrets(request);
    expect(connectHandlerCalls).toBe(0);
    const viaConnect = await connect.getSecrets(request);
    expect(connectHandlerCalls).toBe(1);
    expect(Buffer.from(toBinary(VaultGetSecretsResponseSchema, lean))).toEqual(Buffer.from(toBinary(VaultGetSecretsResponseSchema, viaConnect)));
    const first = lean.results[0]!;
    if (first.outcome.case !== "encrypted") throw new Error("expected a sealed secret");
    const box = openSecret(ENCLAVE_SK, first.outcome.value, { owner: OWNER, namespace: "main", key: "API_KEY" });
    expect(box.kind === "ok" && Buffer.from(box.plaintext).toString()).toBe("lean-secret");
    expect(lean.results[1]!.outcome.case).toBe("error");
  });

  it("refuses a non-member with PermissionDenied and counts it", async () => {
    const grpc = createServiceClient(Vault, { baseUrl: server.url, protocol: "grpc", sessions });
    const denied = await grpc.getSecrets(nodeRequest({ clock }, [{ key: "API_KEY" }], OUTSIDER)).catch((e: unknown) => ConnectError.from(e));
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('ccr_vault_calls_total{method="GetSecrets",code="PermissionDenied"} 1');
    expect(metrics).toContain('ccr_vault_calls_total{method="GetSecrets",code="OK"} 2');
  });
});
