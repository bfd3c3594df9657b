/**
 * Relay node benchmark (issue 4): `npx tsx bench/relay-node.ts [--runs N] [--iterations N]`.
 *
 * The node's own per-request cost, with Vault/Capability answering in-process (no transport), so the
 * figures show what every node adds to every request:
 *   capability_path      validation, payload decode, DON-config check, authorization (cached),
 *                        attestation (fake ok), Capability call, translation, result hash, 1 signature
 *   secrets_path         the same for secrets.get: + the Vault request signature (2 signatures)
 *   capability_attested  capability_path with the real verifier, binding mode (b), document cached:
 *                        + SHA-256 of the document, a lookup, 1 ed25519 verify, replay record
 *   baseline_sign        one node:crypto ed25519 signature (the floor of any signed answer)
 * Reported as median/min/max µs per request over the runs. Ends with one JSON line.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { create, toBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  CapabilityExecuteResponseSchema,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  SecretErrorKind,
  VaultGetSecretsResponseSchema,
  sdk,
  type Capability,
  type ExecuteCapabilityRequest,
  type GetSecretsRequest,
  type Vault,
  type VaultGetSecretsRequest,
} from "../src/contract/index.js";
import { authorizationPayload, capabilityBindingHash, type RelayParams } from "../src/contract/relay-hash.js";
import {
  DevAttestationProducer,
  createDevRootAuthority,
  encodeEnclaveSessionKeys,
  signSessionBinding,
} from "../src/domain/attestation/index.js";
import { ManualClock } from "../src/domain/clock.js";
import { ed25519RawPublicKey, ed25519SignerFromSeed } from "../src/domain/crypto/ed25519.js";
import { createAttestationPort } from "../src/services/relay-node/attestation-port.js";
import { RelayNodeMetrics } from "../src/services/relay-node/metrics.js";
import { resolveRelayNodeOptions } from "../src/services/relay-node/options.js";
import type { AttestationPort } from "../src/services/relay-node/ports.js";
import { silentLogger } from "../src/services/relay-node/ports.js";
import { RelayHandler } from "../src/services/relay-node/relay-handler.js";

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg("--runs", 7);
const ITERATIONS = arg("--iterations", 2000);
const NOW_MS = Date.now();

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const nodes = [0, 1, 2, 3].map((i) => ed25519SignerFromSeed(seed(0x07 + i)));
const workflowNode = ed25519SignerFromSeed(seed(0x42));
const owner = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
const workflowId = "a".repeat(64);
const executionId = "b".repeat(64);
const config = resolveRelayNodeOptions({
  nodeKeySeed: seed(0x07),
  don: { donId: "bench", signers: nodes.map((n) => n.publicKey), f: 1 },
  workflowNodeKeys: [workflowNode.publicKey],
});
const authorization = {
  signatures: [{ signer: workflowNode.publicKey, signature: workflowNode.sign(authorizationPayload({ owner, workflowId, executionId })) }],
};
const enclaveConfig = { signers: nodes.map((n) => n.publicKey).reverse(), f: 1 };
const enclaveKey = new Uint8Array(32).fill(0xee);

// In-process dependencies: the same bytes every time, as the memoizing services give.
const capabilityAnswer = create(CapabilityExecuteResponseSchema, { payload: Buffer.from('{"status":200,"body":"ok"}') });
const capability = { execute: async () => capabilityAnswer } as unknown as Client<typeof Capability>;
const vault = {
  getSecrets: async (req: VaultGetSecretsRequest) =>
    create(VaultGetSecretsResponseSchema, {
      results: req.secrets.map((s, i) =>
        i === 1
          ? { id: s, outcome: { case: "error" as const, value: { kind: SecretErrorKind.NOT_FOUND, message: "" } } }
          : { id: s, outcome: { case: "encrypted" as const, value: { encapsulatedKey: enclaveKey, ciphertext: new Uint8Array(48) } } },
      ),
    }),
} as unknown as Client<typeof Vault>;

const okAttestation: AttestationPort = { devMode: false, verify: () => ({ kind: "ok", cache: "hit" }) };

function handler(attestation: AttestationPort): RelayHandler {
  return new RelayHandler({
    config,
    signer: nodes[0]!,
    attestation,
    vault,
    capability,
    clock: new ManualClock(NOW_MS),
    metrics: new RelayNodeMetrics(),
    logger: silentLogger,
  });
}

const sdkPayload = toBinary(
  sdk.CapabilityRequestSchema,
  create(sdk.CapabilityRequestSchema, { id: "http-fetch@1.0.0", payload: Buffer.from('{"url":"https://example.com"}'), method: "Execute" }),
);

function capabilityRequest(i: number): ExecuteCapabilityRequest {
  return create(ExecuteCapabilityRequestSchema, {
    requestId: `req-${i}`,
    workflowId,
    owner,
    executionId,
    referenceId: `${i}`,
    capabilityId: "http-fetch@1.0.0",
    payload: sdkPayload,
    enclaveConfig,
    timestampMs: BigInt(NOW_MS),
    attestation: { document: Buffer.from("doc") },
    authorization,
  });
}

function secretsRequest(i: number): GetSecretsRequest {
  return create(GetSecretsRequestSchema, {
    requestId: `req-${i}`,
    workflowId,
    owner,
    executionId,
    secrets: [{ key: "API_KEY" }, { key: "MISSING" }, { key: "DB", namespace: "prod" }],
    enclavePublicKey: enclaveKey,
    enclaveConfig,
    timestampMs: BigInt(NOW_MS),
    attestation: { document: Buffer.from("doc") },
    authorization,
  });
}

const never = new AbortController().signal;

async function measure(name: string, make: (i: number) => RelayParams, h: RelayHandler): Promise<number[]> {
  const perRunUs: number[] = [];
  let serial = 0;
  // Warm-up: JIT, KeyObject caches, the authorization cache.
  for (let i = 0; i < 200; i++) await h.handle(make(serial++), never);
  for (let r = 0; r < RUNS; r++) {
    const params = Array.from({ length: ITERATIONS }, () => make(serial++));
    const start = process.hrtime.bigint();
    for (const p of params) {
      const outcome = await h.handle(p, never);
      if (outcome.kind !== "signed" || outcome.answer.result.case === "error") throw new Error(`${name}: unexpected ${JSON.stringify(outcome)}`);
    }
    perRunUs.push(Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS);
  }
  return perRunUs;
}

function stats(values: number[]): { median: number; min: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number): number => Number(x.toFixed(1));
  return { median: r(s[Math.floor(s.length / 2)]!), min: r(s[0]!), max: r(s.at(-1)!) };
}

async function main(): Promise<void> {
  const results: Record<string, { median: number; min: number; max: number }> = {};

  results["capability_path"] = stats(await measure("capability", (i) => ({ case: "executeCapability", value: capabilityRequest(i) }), handler(okAttestation)));
  results["secrets_path"] = stats(await measure("secrets", (i) => ({ case: "getSecrets", value: secretsRequest(i) }), handler(okAttestation)));

  // Real verifier, binding mode (b): one document for the whole session; each request signed.
  const clock = new ManualClock(NOW_MS);
  const rnd = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
  const authority = createDevRootAuthority({ nowMs: NOW_MS - 86_400_000, randomBytes: rnd });
  const pcrs = { pcr0: new Uint8Array(48).fill(1), pcr1: new Uint8Array(48).fill(2), pcr2: new Uint8Array(48).fill(3) };
  const producer = DevAttestationProducer.fromAuthority({ authority, moduleId: "i-bench-enc", measurements: pcrs, clock, randomBytes: rnd });
  const session = generateKeyPairSync("ed25519");
  const document = await producer.attest({
    publicKey: encodeEnclaveSessionKeys({ sessionPublicKey: ed25519RawPublicKey(session.publicKey), encryptionPublicKey: enclaveKey }),
  });
  const attested = handler(
    createAttestationPort({ allowedPcrSets: [pcrs], devMode: true, devRoots: [authority.certificateDer], replayCacheSize: undefined } as never, clock),
  );
  results["capability_attested"] = stats(
    await measure(
      "attested",
      (i) => {
        const req = capabilityRequest(i);
        req.attestation = { $typeName: "ccr.v1.Attestation", document, sessionSignature: signSessionBinding(session.privateKey, capabilityBindingHash(req)) };
        return { case: "executeCapability", value: req };
      },
      attested,
    ),
  );

  const signer = nodes[0]!;
  const msg = new Uint8Array(80);
  const signRuns: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) signer.sign(msg);
    signRuns.push(Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS);
  }
  results["baseline_sign"] = stats(signRuns);

  for (const [name, s] of Object.entries(results)) {
    console.log(`${name.padEnd(22)} median ${String(s.median).padStart(7)} µs   min ${String(s.min).padStart(7)}   max ${String(s.max).padStart(7)}`);
  }
  console.log(JSON.stringify({ bench: "relay-node", unit: "us_per_request", runs: RUNS, iterations: ITERATIONS, load1: loadavg()[0], results }));
}

await main();
