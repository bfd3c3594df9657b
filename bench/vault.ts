/**
 * Vault and Capability benchmark (issue 5): `npx tsx bench/vault.ts [--runs N] [--batch N] [--pglite]`.
 *
 * Real sockets: the services run in the ccr server runtime (createServer: one port, interceptors,
 * metrics) on 127.0.0.1 and are called over gRPC on cleartext HTTP/2, as relay nodes call them. A
 * second server in the same process serves a bare echo (Capability.Execute returning its payload,
 * nothing else) — the baseline every figure is divided by, so results from a loaded or different
 * machine stay comparable.
 *
 * Cases, sequential calls, ms per call (median/min/max over runs; the cases take turns within each
 * run, so load that drifts during the benchmark hits them alike):
 *   bare_echo                the baseline RPC
 *   get_secrets_{1,10}_miss  a new logical request each call (new execution id): authorize (one
 *                            ed25519 verify), read the store, open at rest, seal to the enclave key
 *   get_secrets_{1,10}_hit   the same request again (what the other relay nodes of a fan-out see):
 *                            authorize + memo hit
 *   capability_echo_miss     Capability.Execute(echo@1.0.0) with a new reference id each call
 *   capability_echo_hit      the same call again (memo hit)
 * The store is in memory unless --pglite (the embedded default database, through the same SQL).
 * Requests are built and signed before timing, as a relay node would have them ready.
 *
 * Ends with one JSON line {"bench":"vault",...} for an aggregator.
 */
import { create } from "@bufbuild/protobuf";
import { loadavg } from "node:os";
import pino from "pino";
import { Capability, CapabilityExecuteRequestSchema, Vault, VaultGetSecretsRequestSchema, type CapabilityExecuteRequest, type VaultGetSecretsRequest } from "../src/contract/index.js";
import { ed25519SignerFromSeed } from "../src/domain/crypto/ed25519.js";
import { x25519PublicKey } from "../src/domain/crypto/secret-box.js";
import { addressOfPrivateKey } from "../src/domain/ethereum/eip191.js";
import { signVaultNodeRequest } from "../src/domain/vault/node-request.js";
import { signOwnerRequest } from "../src/domain/vault/owner-request.js";
import { createCapabilityService, resolveCapabilityOptions } from "../src/services/capability/index.js";
import { createVaultService, resolveVaultOptions } from "../src/services/vault/index.js";
import { openDatabase } from "../src/store/db.js";
import { migrate } from "../src/store/migrate.js";
import { createMemoryVaultStore } from "../src/store/vault-memory-store.js";
import { createPostgresVaultStore, type VaultStore } from "../src/store/vault-store.js";
import { createServer, createServiceClient, Http2SessionPool, implement } from "../src/transport/index.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const RUNS = arg("--runs", 7);
const BATCH = arg("--batch", 200);
const USE_PGLITE = process.argv.includes("--pglite");

interface Stats {
  median: number;
  min: number;
  max: number;
}

type Prepare = (run: number) => (i: number) => Promise<unknown>;

/**
 * Interleaved: every run times one batch of each case in turn (after one warm-up round), so a
 * machine whose load drifts during the benchmark slows every case alike and the ratios hold.
 * Returns ms per call, median/min/max over the runs.
 */
async function measureInterleaved(cases: ReadonlyArray<readonly [string, Prepare]>): Promise<Record<string, Stats>> {
  const perCall = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let run = -1; run < RUNS; run++) {
    for (const [name, prepare] of cases) {
      const call = prepare(run);
      const start = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) await call(i);
      const ms = Number(process.hrtime.bigint() - start) / 1e6 / BATCH;
      if (run >= 0) perCall.get(name)!.push(ms);
    }
  }
  const round = (x: number): number => Number(x.toFixed(4));
  const out: Record<string, Stats> = {};
  for (const [name, values] of perCall) {
    values.sort((a, b) => a - b);
    out[name] = { median: round(values[Math.floor(values.length / 2)]!), min: round(values[0]!), max: round(values[values.length - 1]!) };
  }
  return out;
}

// --- identities -------------------------------------------------------------------------------------
const ownerKey = Buffer.from("0123456789012345678901234567890123456789012345678901234567890123", "hex");
const owner = addressOfPrivateKey(ownerKey);
const node = ed25519SignerFromSeed(new Uint8Array(32).fill(1));
const enclavePublicKey = x25519PublicKey(new Uint8Array(32).fill(2));
const silent = pino({ level: "silent" });

// --- the services under test ------------------------------------------------------------------------
let closeDb: () => Promise<void> = async () => {};
let store: VaultStore;
if (USE_PGLITE) {
  const db = await openDatabase();
  await migrate(db);
  store = createPostgresVaultStore(db.sql);
  closeDb = () => db.close();
} else {
  store = createMemoryVaultStore();
}
const vault = createVaultService({
  options: resolveVaultOptions({
    keyring: { activeKeyId: "k1", keys: { k1: Buffer.alloc(32, 0xaa).toString("base64") } },
    donMembers: [node.publicKey],
    memo: { maxEntries: 100_000 },
  }),
  store,
  logger: silent,
});
const capability = createCapabilityService({ options: resolveCapabilityOptions({ memo: { maxEntries: 100_000 } }), logger: silent });
const server = createServer({
  name: "vault-bench",
  services: [implement(Vault, vault.implementation), implement(Capability, capability.implementation)],
  logger: silent,
  defaultMetrics: false,
});
const baseline = createServer({
  name: "echo-bench",
  services: [implement(Capability, { execute: async (req) => ({ payload: req.payload }) })],
  logger: silent,
  defaultMetrics: false,
});
const { url } = await server.listen();
const { url: baselineUrl } = await baseline.listen();
const sessions = new Http2SessionPool();
const vaultClient = createServiceClient(Vault, { baseUrl: url, protocol: "grpc", sessions });
const capabilityClient = createServiceClient(Capability, { baseUrl: url, protocol: "grpc", sessions });
const echoClient = createServiceClient(Capability, { baseUrl: baselineUrl, protocol: "grpc", sessions });

// --- data ----------------------------------------------------------------------------------------------
const secretKeys = Array.from({ length: 10 }, (_, i) => `SECRET_${i}`);
for (const key of secretKeys) {
  const value = Buffer.from(`value-of-${key}-`.padEnd(64, "x"));
  const signature = signOwnerRequest(ownerKey, { method: "PutSecret", owner, key, value }, { nonce: `bench-${key}`, expiresAtMs: Date.now() + 600_000 });
  await vaultClient.putSecret({ owner, id: { key }, value, signature });
}

function secretsRequest(count: number, executionId: string): VaultGetSecretsRequest {
  const req = create(VaultGetSecretsRequestSchema, {
    owner,
    workflowId: "wf-bench",
    executionId,
    secrets: secretKeys.slice(0, count).map((key) => ({ key })),
    enclavePublicKey,
    nodePublicKey: node.publicKey,
    timestampMs: BigInt(Date.now()),
  });
  req.nodeSignature = signVaultNodeRequest(node, req);
  return req;
}

const echoPayload = Buffer.from(JSON.stringify({ value: "x".repeat(100) }));
function echoRequest(referenceId: string): CapabilityExecuteRequest {
  return create(CapabilityExecuteRequestSchema, {
    capabilityId: "echo@1.0.0",
    payload: echoPayload,
    metadata: { workflowId: "wf-bench", owner, executionId: "exec-bench", referenceId },
  });
}

// --- cases ----------------------------------------------------------------------------------------------
let unique = 0;
const cases: Array<readonly [string, Prepare]> = [
  ["bare_echo", () => {
    const req = echoRequest("bare");
    return () => echoClient.execute(req);
  }],
];
for (const count of [1, 10]) {
  cases.push([`get_secrets_${count}_miss`, () => {
    const reqs = Array.from({ length: BATCH }, () => secretsRequest(count, `exec-${unique++}`));
    return (i) => vaultClient.getSecrets(reqs[i]!);
  }]);
  cases.push([`get_secrets_${count}_hit`, () => {
    const req = secretsRequest(count, `exec-hit-${count}-${unique++}`);
    return () => vaultClient.getSecrets(req);
  }]);
}
cases.push(["capability_echo_miss", () => {
  const reqs = Array.from({ length: BATCH }, () => echoRequest(`ref-${unique++}`));
  return (i) => capabilityClient.execute(reqs[i]!);
}]);
cases.push(["capability_echo_hit", () => {
  const req = echoRequest(`ref-hit-${unique++}`);
  return () => capabilityClient.execute(req);
}]);
const results = await measureInterleaved(cases);

sessions.closeAll();
capability.close();
await Promise.all([server.close({ graceMs: 1_000 }), baseline.close({ graceMs: 1_000 })]);
await closeDb();

// --- report ----------------------------------------------------------------------------------------------
const base = results.bare_echo!.median;
const ratios: Record<string, number> = {};
for (const [name, stats] of Object.entries(results)) {
  if (name !== "bare_echo") ratios[name] = Number((stats.median / base).toFixed(2));
}
const width = Math.max(...Object.keys(results).map((k) => k.length));
console.log(`Vault/Capability over gRPC h2c, real sockets on 127.0.0.1; store: ${USE_PGLITE ? "PGlite" : "in memory"}; ${RUNS} runs × ${BATCH} sequential calls`);
console.log(`${"case".padEnd(width)}  median ms  min ms    max ms    × bare echo`);
for (const [name, s] of Object.entries(results)) {
  const ratio = ratios[name] === undefined ? "" : `${ratios[name]}×`;
  console.log(`${name.padEnd(width)}  ${s.median.toFixed(4).padStart(9)}  ${s.min.toFixed(4).padStart(8)}  ${s.max.toFixed(4).padStart(8)}  ${ratio}`);
}
console.log(
  `Note: a miss costs one ed25519 verify, one store read, and per secret an AES-GCM open and an X25519 + HKDF + AES-GCM seal; ` +
    `the other nodes of a fan-out pay only the verify and a memo hit. Load average ${loadavg()[0]!.toFixed(2)}.`,
);
console.log(
  JSON.stringify({
    bench: "vault",
    transport: "grpc-h2c",
    sockets: "real",
    store: USE_PGLITE ? "pglite" : "memory",
    runs: RUNS,
    batch: BATCH,
    unit: "ms/call",
    results,
    ratios,
    loadavg: Number(loadavg()[0]!.toFixed(2)),
  }),
);
