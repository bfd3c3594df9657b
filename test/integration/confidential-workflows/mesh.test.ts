/**
 * The enclave host in a real mesh over real sockets (issue 6, "Tests"): a REAL gateway, four REAL
 * relay nodes (F = 1) that verify the enclave's dev attestation against its measurements, a REAL
 * Vault holding the owner's secret and a REAL Capability service (echo, http-fetch) behind them.
 * The enclave host fetches the workflow binaries over HTTP from a local artifact server.
 *
 * Covered end to end: a capability call and a secret fetch through the relay (quorum certificates
 * checked by the enclave, and returned as relay receipts naming the relay nodes that signed), the
 * examples `secret-digest` and `http-price`, the workflow node's ConfidentialModule driving the
 * enclave and reporting those signers, and relay refusals reaching the guest.
 */
import { createHash } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authorizationPayload,
  Capability,
  ConfidentialWorkflowRequestSchema,
  ConfidentialWorkflows,
  Gateway,
  sdk,
  Vault,
  WorkflowAuthorizationSchema,
  type ConfidentialWorkflowRequest,
} from "../../../src/contract/index.js";
import { createAttestationPolicy, createAttestationVerifier } from "../../../src/domain/attestation/index.js";
import { systemClock } from "../../../src/domain/clock.js";
import { ed25519SignerFromSeed } from "../../../src/domain/crypto/ed25519.js";
import { createCapabilityService, resolveCapabilityOptions } from "../../../src/services/capability/index.js";
import { createEnclaveHost, resolveConfidentialWorkflowsOptions, type EnclaveHost } from "../../../src/services/confidential-workflows/index.js";
import { createGateway, resolveGatewayOptions, type GatewayHandle } from "../../../src/services/gateway/index.js";
import { createRelayNode, resolveRelayNodeOptions, type RelayNodeInstance } from "../../../src/services/relay-node/index.js";
import { createVaultService, resolveVaultOptions } from "../../../src/services/vault/index.js";
import { ConfidentialModule } from "../../../src/services/workflow-node/confidential-module.js";
import { createMemoryVaultStore } from "../../../src/store/vault-memory-store.js";
import { createServiceClient, Http2SessionPool, implement } from "../../../src/transport/index.js";
import { exampleWasm } from "../../../src/wasm/examples.js";
import { KEY_K1, OWNER, ownerSignature } from "../../service/vault/harness.js";
import { startTestServer, type TestServer } from "../../support/server.js";

const GATEWAY_ID = "gw-enclave-it";
const DON_ID = "don-enclave-it";
const F = 1;
const NODE_SEEDS = [0, 1, 2, 3].map((i) => new Uint8Array(32).fill(0x61 + i));
const NODE_KEYS = NODE_SEEDS.map((s) => ed25519SignerFromSeed(s).publicKey);
const WORKFLOW_NODE = ed25519SignerFromSeed(new Uint8Array(32).fill(0x77));
const WORKFLOW_ID = "c0".repeat(32);
const SECRET_VALUE = "mesh-s3cr3t-value-271828";

function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

interface Artifact {
  readonly url: string;
  readonly hash: Uint8Array;
}

let enclaveServer: TestServer;
let gatewayServer: TestServer;
let vaultServer: TestServer;
let capabilityServer: TestServer;
let gateway: GatewayHandle;
let host: EnclaveHost;
let nodes: RelayNodeInstance[] = [];
let artifacts: http.Server;
let artifactOrigin: string;
const artifactFiles = new Map<string, Uint8Array>();
const enclaveLogs: string[] = [];
const sessions = new Http2SessionPool();
let enclave: Client<typeof ConfidentialWorkflows>;
let secretDigest: Artifact;
let httpPrice: Artifact;

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function publish(name: string, bytes: Uint8Array): Artifact {
  artifactFiles.set(`/artifacts/${name}`, bytes);
  return { url: `${artifactOrigin}/artifacts/${name}`, hash: new Uint8Array(createHash("sha256").update(bytes).digest()) };
}

function authorization(executionId: string) {
  return create(WorkflowAuthorizationSchema, {
    signatures: [{ signer: WORKFLOW_NODE.publicKey, signature: WORKFLOW_NODE.sign(authorizationPayload({ owner: OWNER, workflowId: WORKFLOW_ID, executionId })) }],
  });
}

function request(artifact: Artifact, config: unknown, executionId: string, secrets: string[] = []): ConfidentialWorkflowRequest {
  return create(ConfidentialWorkflowRequestSchema, {
    vaultDonSecrets: secrets.map((key) => ({ key, namespace: "main" })),
    execution: {
      workflowId: WORKFLOW_ID,
      binaryUrl: artifact.url,
      binaryHash: artifact.hash,
      executeRequest: toBinary(
        sdk.ExecuteRequestSchema,
        create(sdk.ExecuteRequestSchema, { config: Buffer.from(JSON.stringify(config)), request: { case: "trigger", value: { id: 0n, payload: Buffer.from("{}") } } }),
      ),
      owner: OWNER,
      executionId,
      orgId: "",
    },
    authorization: authorization(executionId),
  });
}

function valueOf(bytes: Uint8Array): unknown {
  const result = fromBinary(sdk.ExecutionResultSchema, bytes);
  if (result.result.case === "error") return { workflowError: result.result.value };
  if (result.result.case !== "value") throw new Error(`unexpected ${result.result.case}`);
  return toJson(ValueSchema, result.result.value);
}

let executionCounter = 0;
const nextExecutionId = () => sha256Hex(`execution-${++executionCounter}-${Date.now()}`);

beforeAll(async () => {
  // Artifacts, and a price feed for http-price.
  artifacts = http.createServer((req, res) => {
    if (req.url === "/price.json") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: { price: "3120.55" } }));
      return;
    }
    const body = artifactFiles.get(req.url ?? "");
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { "content-type": "application/wasm" }).end(Buffer.from(body));
  });
  artifactOrigin = await listen(artifacts);
  secretDigest = publish("secret-digest.wasm", await exampleWasm("secret-digest"));
  httpPrice = publish("http-price.wasm", await exampleWasm("http-price"));

  // The Vault, with the owner's secret.
  const vault = createVaultService({
    options: resolveVaultOptions({ keyring: { activeKeyId: "k1", keys: { k1: KEY_K1 } }, donMembers: NODE_KEYS }),
    store: createMemoryVaultStore(),
    logger: pino({ level: "silent" }),
  });
  vaultServer = await startTestServer([implement(Vault, vault.implementation)], { logLevel: "warn" });
  const writer = createServiceClient(Vault, { baseUrl: vaultServer.url, protocol: "grpc", sessions });
  const put = { method: "PutSecret" as const, owner: OWNER, key: "API_KEY", value: Buffer.from(SECRET_VALUE) };
  await writer.putSecret({ owner: OWNER, id: { key: "API_KEY" }, value: put.value, signature: ownerSignature(put, Date.now()) });

  // The Capability service: echo, and http-fetch allowed to reach the local price feed.
  const capability = createCapabilityService({
    options: resolveCapabilityOptions({ httpFetch: { allowedHosts: ["127.0.0.1"], allowInsecureHttp: true } }),
    logger: pino({ level: "silent" }),
  });
  capabilityServer = await startTestServer([implement(Capability, capability.implementation)], { logLevel: "warn" });

  // The gateway.
  gateway = createGateway({ config: resolveGatewayOptions({ gatewayId: GATEWAY_ID, donId: DON_ID, members: NODE_KEYS, f: F }) });
  gatewayServer = await startTestServer([implement(Gateway, gateway.service)], { logLevel: "warn", allowForcedClose: true, closeGraceMs: 200 });

  // The enclave host: started first, because the nodes pin its measurements and dev root.
  host = createEnclaveHost({
    options: resolveConfidentialWorkflowsOptions({
      gateway: { url: gatewayServer.url },
      don: { signers: NODE_KEYS, f: F },
      runtime: { maxWorkers: 1 },
    }),
    logger: pino({ level: "debug" }, { write: (line: string) => void enclaveLogs.push(line) }),
  });
  const identity = await host.start();
  enclaveServer = await startTestServer([implement(host.service, host.implementation)], { logLevel: "debug" });
  enclave = createServiceClient(ConfidentialWorkflows, { baseUrl: enclaveServer.url, protocol: "grpc", sessions });

  // Four relay nodes dialing the gateway, verifying the enclave's dev attestation for real.
  const m = identity.measurements;
  nodes = NODE_SEEDS.map((seed) =>
    createRelayNode({
      config: resolveRelayNodeOptions({
        nodeKeySeed: seed,
        don: { donId: DON_ID, signers: NODE_KEYS, f: F },
        gateways: [{ url: gatewayServer.url, gatewayId: GATEWAY_ID }],
        workflowNodeKeys: [WORKFLOW_NODE.publicKey],
        vaultUrl: vaultServer.url,
        capabilityUrl: capabilityServer.url,
        attestation: {
          allowedPcrSets: [{ pcr0: m.pcr0, pcr1: m.pcr1, pcr2: m.pcr2 }],
          devMode: true,
          acceptDebugPcrs: false,
          devRoots: [identity.devRootCertificateDer!],
        },
      }),
      clock: systemClock,
    }),
  );
  for (const node of nodes) node.start();
  for (let i = 0; i < 5_000 && gateway.core.connectedMembers.length < nodes.length; i++) await new Promise((r) => setTimeout(r, 2));
  expect(gateway.core.connectedMembers).toHaveLength(nodes.length);
}, 240_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  gateway?.close();
  sessions.closeAll();
  await host?.close();
  for (const s of [enclaveServer, gatewayServer, vaultServer, capabilityServer]) await s?.close();
  await new Promise<void>((resolve) => (artifacts ? artifacts.close(() => resolve()) : resolve()));
});

describe("the enclave host in a real mesh", () => {
  it("secret-digest: fetches the secret through the gateway and relay nodes, returns its SHA-256 and never the secret", async () => {
    const executionId = nextExecutionId();
    const res = await enclave.execute(request(secretDigest, { secret: "API_KEY" }, executionId, ["API_KEY"]));
    expect(valueOf(res.executionResult)).toBe(sha256Hex(SECRET_VALUE));
    // The guest's log line, on the serving call's logger, with the workflow and execution ids.
    const guestLines = enclaveServer.logs().filter((l) => l["source"] === "guest");
    expect(guestLines).toContainEqual(expect.objectContaining({ msg: "secret-digest: hashing secret main/API_KEY", workflowId: WORKFLOW_ID, executionId }));
    expect(enclaveServer.rawLogs()).not.toContain(SECRET_VALUE);
    expect(enclaveLogs.join("")).not.toContain(SECRET_VALUE);
    expect(Buffer.from(res.executionResult).toString("latin1")).not.toContain(SECRET_VALUE);
  });

  it("http-price: a capability call (http-fetch) through the gateway and relay nodes", async () => {
    const res = await enclave.execute(request(httpPrice, { url: `${artifactOrigin}/price.json`, field: "data.price" }, nextExecutionId()));
    expect(valueOf(res.executionResult)).toBe(3120.55);
    // One receipt, for the capability call, signed by at least F+1 distinct DON members.
    expect(res.relayReceipts.map((r) => r.method)).toEqual(["confidential.capability.execute"]);
    const signers = res.relayReceipts[0]!.certificate!.signatures.map((s) => Buffer.from(s.signer).toString("hex"));
    expect(new Set(signers).size).toBe(signers.length);
    expect(signers.length).toBeGreaterThanOrEqual(F + 1);
    for (const signer of signers) expect(NODE_KEYS.map((k) => Buffer.from(k).toString("hex"))).toContain(signer);
  });

  it("a secret the owner does not have reaches the guest as a per-secret error", async () => {
    const res = await enclave.execute(request(secretDigest, { secret: "NOPE" }, nextExecutionId(), ["NOPE"]));
    expect(valueOf(res.executionResult)).toEqual({ workflowError: expect.stringMatching(/^secret-digest: secret main\/NOPE: .*not found/) });
  });

  it("an execution the workflow node did not authorize is refused by the relay nodes, and the guest sees why", async () => {
    const req = request(secretDigest, { secret: "API_KEY" }, nextExecutionId(), ["API_KEY"]);
    req.authorization = authorization("ff".repeat(32)); // signed for another execution
    const res = await enclave.execute(req);
    expect(valueOf(res.executionResult)).toEqual({ workflowError: expect.stringMatching(/^secret-digest: secret main\/API_KEY: relay refused the request \(PermissionDenied\): /) });
  });

  it("the workflow node's ConfidentialModule drives the enclave end to end", async () => {
    const module = new ConfidentialModule({
      client: enclave,
      binaryUrl: secretDigest.url,
      binaryHash: secretDigest.hash,
      workflowId: WORKFLOW_ID,
      workflowOwner: OWNER,
      workflowName: "digest",
      workflowTag: "v1",
      vaultDonSecrets: [{ key: "API_KEY", namespace: "" }],
      signer: WORKFLOW_NODE,
    });
    const executionId = nextExecutionId();
    const reported: string[][] = [];
    const result = await module.execute(
      create(sdk.ExecuteRequestSchema, { config: Buffer.from(JSON.stringify({ secret: "API_KEY" })), request: { case: "trigger", value: { id: 0n, payload: Buffer.from("{}") } } }),
      {
        getWorkflowExecutionId: () => executionId,
        callCapability: async () => create(sdk.CapabilityResponseSchema),
        getSecrets: async () => [],
        getNodeTimeMs: () => Date.now(),
        emitUserLog: () => undefined,
        recordRelaySigners: (signers) => void reported.push([...signers]),
      },
    );
    expect(result.result.case === "value" && toJson(ValueSchema, result.result.value)).toBe(sha256Hex(SECRET_VALUE));
    // The relay nodes that signed the secret fetch's certificate: F+1 or more real DON members.
    expect(reported).toHaveLength(1);
    const members = NODE_KEYS.map((k) => Buffer.from(k).toString("hex"));
    expect(reported[0]!.length).toBeGreaterThanOrEqual(F + 1);
    expect(reported[0]).toEqual([...reported[0]!].sort());
    for (const signer of reported[0]!) expect(members).toContain(signer);
  });

  it("Info over gRPC: keys, measurements and a document relay nodes accept", async () => {
    const info = await enclave.info({ nonce: Buffer.from("caller-nonce") });
    const identity = host.identity()!;
    expect(Buffer.from(info.encryptionPublicKey).equals(Buffer.from(identity.encryptionPublicKey))).toBe(true);
    const m = identity.measurements;
    expect(info.pcrs.map((p) => Buffer.from(p).toString("hex"))).toEqual([m.pcr0, m.pcr1, m.pcr2].map((p) => Buffer.from(p).toString("hex")));
    // The policy the relay nodes run.
    const verifier = createAttestationVerifier({
      policy: createAttestationPolicy({ allowedPcrSets: [m], devMode: true, acceptDebugPcrs: false, devRoots: [identity.devRootCertificateDer!] }),
      clock: systemClock,
    });
    const verdict = verifier.verifyDocument(info.attestationDocument);
    expect(verdict.kind).toBe("ok");
    if (verdict.kind === "ok") expect(Buffer.from(verdict.document.nonce!).toString()).toBe("caller-nonce");
  });
});
