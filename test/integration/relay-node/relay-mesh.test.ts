/**
 * The relay end to end on real sockets: the real gateway, four real relay nodes (F=1) dialing it with
 * their default gRPC clients, the real Vault (memory store) and the real Capability service. The
 * enclave's side verifies the F+1 certificate itself and opens the sealed secret. Attestation is a
 * fake here (the attestation tests cover the verifier); everything else is the production path.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import pino from "pino";
import { Registry } from "prom-client";
import { Capability, Gateway, RelayErrorDetailSchema, RelayNode, Vault, sdk, type RelayResult } from "../../../src/contract/index.js";
import { capabilityBindingHash, relayResultHash, secretsBindingHash } from "../../../src/contract/relay-hash.js";
import { systemClock } from "../../../src/domain/clock.js";
import { openSecret, x25519PublicKey } from "../../../src/domain/crypto/secret-box.js";
import { addressOfPrivateKey } from "../../../src/domain/ethereum/eip191.js";
import { verifyQuorumCertificate } from "../../../src/domain/quorum/certificate.js";
import { signOwnerRequest } from "../../../src/domain/vault/owner-request.js";
import { createCapabilityService, resolveCapabilityOptions } from "../../../src/services/capability/index.js";
import { createGateway, resolveGatewayOptions, type GatewayHandle } from "../../../src/services/gateway/index.js";
import { createRelayNode, resolveRelayNodeOptions, type RelayNodeInstance } from "../../../src/services/relay-node/index.js";
import { createVaultService, resolveVaultOptions } from "../../../src/services/vault/index.js";
import { createMemoryVaultStore } from "../../../src/store/vault-memory-store.js";
import { createServiceClient, Http2SessionPool, implement } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import {
  authorize,
  capabilityRequest,
  DON_F,
  DON_ID,
  DON_SIGNERS,
  EXECUTION_ID,
  FakeAttestation,
  nodeOptions,
  secretsRequest,
  WORKFLOW_ID,
} from "../../service/relay-node/fixtures.js";

const GATEWAY_ID = "gw-mesh";
const OWNER_KEY = Buffer.alloc(32, 0x5c);
const OWNER = addressOfPrivateKey(OWNER_KEY);
const ENCLAVE_SK = new Uint8Array(32).fill(0x21);
const ENCLAVE_PK = x25519PublicKey(ENCLAVE_SK);
const SECRET = "mesh-s3cret-value";

describe("relay mesh: gateway + 4 relay nodes + vault + capability", () => {
  const servers: TestServer[] = [];
  const nodes: RelayNodeInstance[] = [];
  const sessions = new Http2SessionPool();
  let gateway: GatewayHandle;
  let gatewayUrl = "";
  let nodeUrl = "";

  beforeAll(async () => {
    const vault = createVaultService({
      options: resolveVaultOptions({ keyring: { activeKeyId: "k1", keys: { k1: Buffer.alloc(32, 0xaa).toString("base64") } }, donMembers: DON_SIGNERS }),
      store: createMemoryVaultStore(),
      logger: pino({ level: "silent" }),
    });
    const vaultServer = await startTestServer([implement(Vault, vault.implementation)], { logLevel: "warn" });
    servers.push(vaultServer);
    const capability = createCapabilityService({ options: resolveCapabilityOptions(), logger: pino({ level: "silent" }) });
    const capabilityServer = await startTestServer([implement(Capability, capability.implementation)], { logLevel: "warn" });
    servers.push(capabilityServer);

    gateway = createGateway({
      config: resolveGatewayOptions({ gatewayId: GATEWAY_ID, donId: DON_ID, members: DON_SIGNERS, f: DON_F }),
      registry: new Registry(),
    });
    const gatewayServer = await startTestServer([implement(Gateway, gateway.service)], { logLevel: "warn", allowForcedClose: true, closeGraceMs: 200 });
    servers.push(gatewayServer);
    gatewayUrl = gatewayServer.url;

    // Store the secret as its owner would.
    const writer = createServiceClient(Vault, { baseUrl: vaultServer.url, protocol: "grpc", sessions });
    const value = Buffer.from(SECRET);
    await writer.putSecret({
      owner: OWNER,
      id: { key: "API_KEY" },
      value,
      signature: signOwnerRequest(OWNER_KEY, { method: "PutSecret", owner: OWNER, key: "API_KEY", value }, { nonce: "n-1", expiresAtMs: Date.now() + 60_000 }),
    });

    for (let i = 0; i < 4; i++) {
      const node = createRelayNode({
        config: resolveRelayNodeOptions(
          nodeOptions(i, {
            gateways: [{ url: gatewayUrl, gatewayId: GATEWAY_ID }],
            vaultUrl: vaultServer.url,
            capabilityUrl: capabilityServer.url,
          }),
        ),
        attestation: new FakeAttestation(),
        clock: systemClock,
        logger: pino({ level: "silent" }),
      });
      nodes.push(node);
      node.start();
    }
    await Promise.all(nodes.map((n) => n.links[0]!.whenReady()));
    const nodeServer = await startTestServer([implement(RelayNode, nodes[0]!.serviceImpl)], { logLevel: "warn" });
    servers.push(nodeServer);
    nodeUrl = nodeServer.url;
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    gateway?.close();
    sessions.closeAll();
    for (const s of servers.reverse()) await s.close();
  });

  const subject = () => ({ owner: OWNER, workflowId: WORKFLOW_ID, executionId: EXECUTION_ID });
  const enclave = () => createServiceClient(Gateway, { baseUrl: gatewayUrl, protocol: "grpc", sessions });

  function expectValidCertificate(binding: Uint8Array, result: RelayResult, certificate: Parameters<typeof verifyQuorumCertificate>[0]): void {
    const verdict = verifyQuorumCertificate(certificate, relayResultHash(binding, result), { signers: DON_SIGNERS, f: DON_F });
    expect(verdict.kind).toBe("valid");
  }

  it("GetSecrets: F+1 nodes agree, the enclave verifies the certificate and opens its secret", async () => {
    const req = secretsRequest({
      requestId: "mesh-secrets-1",
      owner: OWNER.toLowerCase(),
      secrets: [{ key: "API_KEY" }, { key: "NOPE" }],
      enclavePublicKey: ENCLAVE_PK,
      timestampMs: BigInt(Date.now()),
      authorization: authorize(subject()),
    });
    const res = await enclave().getSecrets(req);
    expectValidCertificate(secretsBindingHash(req), { case: "secrets", value: res.result! }, res.certificate);
    const [found, missing] = res.result!.secrets;
    if (found?.outcome.case !== "encrypted") throw new Error("expected a sealed secret");
    const opened = openSecret(ENCLAVE_SK, found.outcome.value, { owner: OWNER, namespace: "main", key: "API_KEY" });
    expect(opened.kind === "ok" && Buffer.from(opened.plaintext).toString()).toBe(SECRET);
    expect(missing?.outcome).toMatchObject({ case: "error", value: { message: "secret not found: main/NOPE" } });
  });

  it("ExecuteCapability: echo@1.0.0 through the DON, payload wrapped deterministically", async () => {
    const payload = create(sdk.CapabilityRequestSchema, { id: "echo@1.0.0", payload: Buffer.from('{"hello":"mesh"}'), method: "Execute" });
    const req = capabilityRequest({
      requestId: "mesh-cap-1",
      owner: OWNER,
      capabilityId: "echo@1.0.0",
      payload: toBinary(sdk.CapabilityRequestSchema, payload),
      timestampMs: BigInt(Date.now()),
      authorization: authorize(subject()),
    });
    const res = await enclave().executeCapability(req);
    expectValidCertificate(capabilityBindingHash(req), { case: "capability", value: res.result! }, res.certificate);
    const decoded = fromBinary(sdk.CapabilityResponseSchema, res.result!.payload);
    expect(decoded.response.case).toBe("payload");
    expect(Buffer.from(decoded.response.value as Uint8Array).toString()).toBe('{"hello":"mesh"}');
  });

  it("a request the nodes refuse comes back as the agreed error, with F+1 signatures in the detail", async () => {
    const req = secretsRequest({
      requestId: "mesh-denied-1",
      owner: OWNER,
      enclavePublicKey: ENCLAVE_PK,
      timestampMs: BigInt(Date.now()),
      enclaveConfig: { signers: DON_SIGNERS, f: 0 },
      authorization: authorize(subject()),
    });
    const err = ConnectError.from(await enclave().getSecrets(req).catch((e: unknown) => e));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(err.rawMessage).toContain("enclave config F 0 is below this DON's F 1");
    const [detail] = err.findDetails(RelayErrorDetailSchema);
    expect(detail?.error?.message).toBe("enclave config F 0 is below this DON's F 1");
    expectValidCertificate(secretsBindingHash(req), { case: "error", value: detail!.error! }, detail!.certificate);
  });

  it("a node's unary RelayNode API answers alone, over Connect on HTTP/1.1, with its one signature", async () => {
    const req = secretsRequest({
      requestId: "mesh-unary-1",
      owner: OWNER,
      secrets: [{ key: "API_KEY" }],
      enclavePublicKey: ENCLAVE_PK,
      timestampMs: BigInt(Date.now()),
      authorization: authorize(subject()),
    });
    const client = createServiceClient(RelayNode, { baseUrl: nodeUrl, protocol: "connect", httpVersion: "1.1" });
    const res = await client.getSecrets(req);
    expect(res.certificate?.signatures.map((s) => Buffer.from(s.signer).toString("hex"))).toEqual([Buffer.from(nodes[0]!.publicKey).toString("hex")]);
    const verdict = verifyQuorumCertificate(res.certificate, relayResultHash(secretsBindingHash(req), { case: "secrets", value: res.result! }), {
      signers: DON_SIGNERS,
      f: 0,
    });
    expect(verdict.kind).toBe("valid");
  });
});
