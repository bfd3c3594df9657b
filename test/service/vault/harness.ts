/**
 * A Vault on the in-memory transport: memory store, manual clock, deterministic randomness, a log
 * capture and a private metrics registry. Helpers sign requests like the CLI and a relay node do.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import pino from "pino";
import { Registry } from "prom-client";
import { Vault, VaultGetSecretsRequestSchema, type VaultGetSecretsRequest } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import { x25519PublicKey } from "../../../src/domain/crypto/secret-box.js";
import { addressOfPrivateKey } from "../../../src/domain/ethereum/eip191.js";
import { signVaultNodeRequest } from "../../../src/domain/vault/node-request.js";
import { signOwnerRequest, type OwnerRequest } from "../../../src/domain/vault/owner-request.js";
import { createVaultService, resolveVaultOptions, type VaultOptionsInput } from "../../../src/services/vault/index.js";
import { createMemoryVaultStore, type MemoryVaultStore } from "../../../src/store/vault-memory-store.js";
import type { VaultStore } from "../../../src/store/vault-store.js";

export const T0 = 1_767_225_600_000;

export const OWNER_KEY = Buffer.from("0123456789012345678901234567890123456789012345678901234567890123", "hex");
export const OWNER = addressOfPrivateKey(OWNER_KEY); // 0x14791697260E4c9A71f18484C9f997B308e59325
export const OTHER_KEY = Buffer.alloc(32, 0x11);
export const OTHER_OWNER = addressOfPrivateKey(OTHER_KEY);

export const ENCLAVE_SK = new Uint8Array(Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex"));
export const ENCLAVE_PK = x25519PublicKey(ENCLAVE_SK);

export const NODES: Ed25519Signer[] = [1, 2, 3, 4].map((i) => ed25519SignerFromSeed(new Uint8Array(32).fill(i)));
export const OUTSIDER = ed25519SignerFromSeed(new Uint8Array(32).fill(99));

/** Deterministic "random" bytes: SHA-256 of a counter, so every run is exact. */
export function counterRandom(): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let off = 0; off < n; off += 32) createHash("sha256").update(`rng-${counter++}`).digest().copy(out, off);
    return new Uint8Array(out);
  };
}

export interface VaultHarness<S extends VaultStore = MemoryVaultStore> {
  readonly client: Client<typeof Vault>;
  readonly clock: ManualClock;
  readonly store: S;
  readonly registry: Registry;
  /** Every log line written so far (JSON text). */
  logs(): string;
}

export const KEY_K1 = Buffer.alloc(32, 0xaa).toString("base64");

export function startVault(overrides?: Partial<VaultOptionsInput>, wrapStore?: (s: VaultStore) => VaultStore): VaultHarness;
export function startVault<S extends VaultStore>(overrides: Partial<VaultOptionsInput>, wrapStore: ((s: VaultStore) => VaultStore) | undefined, baseStore: S): VaultHarness<S>;
export function startVault(overrides: Partial<VaultOptionsInput> = {}, wrapStore?: (s: VaultStore) => VaultStore, baseStore?: VaultStore): VaultHarness<VaultStore> {
  const clock = new ManualClock(T0);
  const store = baseStore ?? createMemoryVaultStore();
  const registry = new Registry();
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  const options = resolveVaultOptions({
    keyring: { activeKeyId: "k1", keys: { k1: KEY_K1 } },
    donMembers: NODES.map((n) => n.publicKey),
    ...overrides,
  });
  const vault = createVaultService({ options, store: wrapStore ? wrapStore(store) : store, logger, registry, clock, randomBytes: counterRandom() });
  const transport = createRouterTransport((router) => router.service(vault.service, vault.implementation));
  return { client: createClient(Vault, transport), clock, store, registry, logs: () => lines.join("") };
}

let nonceCounter = 0;

/** The OwnerSignature for `request`, valid for 5 minutes from `nowMs`. */
export function ownerSignature(request: OwnerRequest, nowMs: number, key: Uint8Array = OWNER_KEY, nonce = `nonce-${++nonceCounter}`) {
  return signOwnerRequest(key, request, { nonce, expiresAtMs: nowMs + 300_000 });
}

export async function putSecret(h: VaultHarness<VaultStore>, key: string, value: string, namespace?: string): Promise<bigint> {
  const req = { method: "PutSecret" as const, owner: OWNER, key, namespace, value: Buffer.from(value) };
  const res = await h.client.putSecret({ owner: OWNER, id: { key, namespace }, value: req.value, signature: ownerSignature(req, h.clock.nowMs()) });
  return res.version;
}

/** A GetSecrets request signed by `node` at the harness clock's time. */
export function nodeRequest(
  h: { readonly clock: ManualClock },
  secrets: Array<{ key: string; namespace?: string }>,
  node: Ed25519Signer = NODES[0]!,
  overrides: Partial<Pick<VaultGetSecretsRequest, "workflowId" | "executionId" | "enclavePublicKey" | "owner">> = {},
): VaultGetSecretsRequest {
  const req = create(VaultGetSecretsRequestSchema, {
    owner: OWNER,
    workflowId: "wf-1",
    executionId: "exec-1",
    secrets,
    enclavePublicKey: ENCLAVE_PK,
    nodePublicKey: node.publicKey,
    timestampMs: BigInt(h.clock.nowMs()),
    ...overrides,
  });
  req.nodeSignature = signVaultNodeRequest(node, req);
  return req;
}
