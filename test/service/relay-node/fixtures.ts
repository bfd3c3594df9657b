/**
 * Shared fixtures for the relay node tests: a 4-node DON (F=1) with deterministic keys (upstream N5
 * test seeds 0x07+i), a workflow node key, signed requests, and fake Vault/Capability services behind
 * their generated clients (createRouterTransport).
 */
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import {
  Capability,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  SecretErrorKind,
  Vault,
  VaultGetSecretsResponseSchema,
  sdk,
  type CapabilityExecuteRequest,
  type CapabilityExecuteResponse,
  type ExecuteCapabilityRequest,
  type GetSecretsRequest,
  type VaultGetSecretsRequest,
  type VaultGetSecretsResponse,
} from "../../../src/contract/index.js";
import { authorizationPayload } from "../../../src/contract/relay-hash.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import {
  createRelayNode,
  resolveRelayNodeOptions,
  type AttestationCheck,
  type AttestationCheckInput,
  type AttestationPort,
  type RelayNodeConfig,
  type RelayNodeOptions,
} from "../../../src/services/relay-node/index.js";
import { RelayHandler } from "../../../src/services/relay-node/relay-handler.js";
import { RelayNodeMetrics } from "../../../src/services/relay-node/metrics.js";
import { silentLogger } from "../../../src/services/relay-node/ports.js";

export const NOW_MS = 1_790_000_000_000;

export function seed(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

/** The DON: 4 members, F=1. */
export const NODE_SIGNERS: readonly Ed25519Signer[] = [0, 1, 2, 3].map((i) => ed25519SignerFromSeed(seed(0x07 + i)));
export const DON_SIGNERS = NODE_SIGNERS.map((s) => s.publicKey);
export const DON_ID = "don-relay-1";
export const DON_F = 1;

export const WORKFLOW_NODE = ed25519SignerFromSeed(seed(0x42));
export const OTHER_KEY = ed25519SignerFromSeed(seed(0x99));

export const OWNER_LOWER = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
export const OWNER_EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
export const WORKFLOW_ID = "a".repeat(64);
export const EXECUTION_ID = "32c631d2" + "0".repeat(52) + "2ce1";
export const ENCLAVE_KEY = new Uint8Array(32).fill(0xee);

export function nodeOptions(index = 0, overrides: Partial<RelayNodeOptions> = {}): RelayNodeOptions {
  return {
    nodeKeySeed: seed(0x07 + index),
    don: { donId: DON_ID, signers: DON_SIGNERS, f: DON_F },
    workflowNodeKeys: [WORKFLOW_NODE.publicKey],
    ...overrides,
  };
}

export function nodeConfig(index = 0, overrides: Partial<RelayNodeOptions> = {}): Readonly<RelayNodeConfig> {
  return resolveRelayNodeOptions(nodeOptions(index, overrides));
}

export function authorize(
  subject: { owner: string; workflowId: string; executionId: string },
  signer: Ed25519Signer = WORKFLOW_NODE,
): { signatures: { signer: Uint8Array; signature: Uint8Array }[] } {
  return { signatures: [{ signer: signer.publicKey, signature: signer.sign(authorizationPayload(subject)) }] };
}

const SUBJECT = { owner: OWNER_LOWER, workflowId: WORKFLOW_ID, executionId: EXECUTION_ID };

/** The init shape of a message minus the generated `$typeName`, so tests can override any field. */
type Init<Desc extends Parameters<typeof create>[0]> = Omit<Exclude<MessageInitShape<Desc>, { $typeName: string }>, "$typeName">;

export function secretsRequest(overrides: Init<typeof GetSecretsRequestSchema> = {}): GetSecretsRequest {
  return create(GetSecretsRequestSchema, {
    requestId: "req-1",
    workflowId: WORKFLOW_ID,
    owner: OWNER_LOWER,
    executionId: EXECUTION_ID,
    secrets: [{ key: "API_KEY" }, { key: "DB_PASSWORD", namespace: "prod" }],
    enclavePublicKey: ENCLAVE_KEY,
    // Reversed on purpose: the config is a set.
    enclaveConfig: { signers: [...DON_SIGNERS].reverse(), f: DON_F },
    timestampMs: BigInt(NOW_MS),
    attestation: { document: new TextEncoder().encode("dummy-attestation") },
    authorization: authorize(SUBJECT),
    ...overrides,
  });
}

export const CAPABILITY_ID = "my-cap@1.0.0";

export function capabilityPayload(input = '{"echo":"hello"}'): Uint8Array {
  return toBinary(
    sdk.CapabilityRequestSchema,
    create(sdk.CapabilityRequestSchema, { id: CAPABILITY_ID, payload: new TextEncoder().encode(input), method: "Execute" }),
  );
}

export function capabilityRequest(overrides: Init<typeof ExecuteCapabilityRequestSchema> = {}): ExecuteCapabilityRequest {
  return create(ExecuteCapabilityRequestSchema, {
    requestId: "req-1",
    workflowId: WORKFLOW_ID,
    owner: OWNER_LOWER,
    executionId: EXECUTION_ID,
    referenceId: "17",
    capabilityId: CAPABILITY_ID,
    payload: capabilityPayload(),
    enclaveConfig: { signers: [...DON_SIGNERS], f: DON_F },
    timestampMs: BigInt(NOW_MS),
    attestation: { document: new TextEncoder().encode("dummy-attestation") },
    authorization: authorize(SUBJECT),
    ...overrides,
  });
}

/** An attestation port answering with `verdict` (default: ok, cache miss), recording its inputs. */
export class FakeAttestation implements AttestationPort {
  readonly calls: AttestationCheckInput[] = [];
  constructor(
    public verdict: (input: AttestationCheckInput) => AttestationCheck = () => ({ kind: "ok", cache: "miss" }),
    readonly devMode = false,
  ) {}
  verify(input: AttestationCheckInput): AttestationCheck {
    this.calls.push(input);
    return this.verdict(input);
  }
}

/** Vault fake: NOT_FOUND for keys starting with "MISSING", else a ciphertext derived from the id. */
export function defaultVaultAnswer(req: VaultGetSecretsRequest): VaultGetSecretsResponse {
  return create(VaultGetSecretsResponseSchema, {
    results: req.secrets.map((s) =>
      s.key.startsWith("MISSING")
        ? {
            id: { key: s.key, namespace: s.namespace },
            outcome: { case: "error" as const, value: { kind: SecretErrorKind.NOT_FOUND, message: "vault says: no such key" } },
          }
        : {
            id: { key: s.key, namespace: s.namespace },
            outcome: {
              case: "encrypted" as const,
              value: {
                encapsulatedKey: new Uint8Array(32).fill(s.key.length),
                ciphertext: new TextEncoder().encode(`ct:${s.namespace}/${s.key}`),
              },
            },
          },
    ),
  });
}

export type VaultImpl = (req: VaultGetSecretsRequest, ctx: HandlerContext) => Promise<VaultGetSecretsResponse> | VaultGetSecretsResponse;
export type CapabilityImpl = (
  req: CapabilityExecuteRequest,
  ctx: HandlerContext,
) => Promise<MessageInitShape<typeof import("../../../src/contract/index.js").CapabilityExecuteResponseSchema>> | CapabilityExecuteResponse;

export interface Fakes {
  vaultCalls: VaultGetSecretsRequest[];
  capabilityCalls: CapabilityExecuteRequest[];
  vaultImpl: VaultImpl;
  capabilityImpl: CapabilityImpl;
}

export function makeFakes(): Fakes & {
  vault: ReturnType<typeof createClient<typeof Vault>>;
  capability: ReturnType<typeof createClient<typeof Capability>>;
} {
  const fakes: Fakes = {
    vaultCalls: [],
    capabilityCalls: [],
    vaultImpl: defaultVaultAnswer,
    capabilityImpl: (req) =>
      ({ payload: new TextEncoder().encode(`result-for:${new TextDecoder().decode(req.payload)}`) }) as CapabilityExecuteResponse,
  };
  const vaultTransport = createRouterTransport(({ service }) => {
    service(Vault, {
      getSecrets: (req, ctx) => {
        fakes.vaultCalls.push(req);
        return fakes.vaultImpl(req, ctx);
      },
    });
  });
  const capabilityTransport = createRouterTransport(({ service }) => {
    service(Capability, {
      execute: (req, ctx) => {
        fakes.capabilityCalls.push(req);
        return fakes.capabilityImpl(req, ctx);
      },
    });
  });
  return Object.assign(fakes, {
    vault: createClient(Vault, vaultTransport),
    capability: createClient(Capability, capabilityTransport),
  });
}

export function makeHandler<A extends AttestationPort = FakeAttestation>(
  opts: {
    index?: number;
    options?: Partial<RelayNodeOptions>;
    attestation?: A;
    fakes?: ReturnType<typeof makeFakes>;
    clock?: ManualClock;
  } = {},
) {
  const index = opts.index ?? 0;
  const config = nodeConfig(index, opts.options);
  const fakes = opts.fakes ?? makeFakes();
  const attestation: A = opts.attestation ?? (new FakeAttestation() as unknown as A);
  const metrics = new RelayNodeMetrics();
  const handler = new RelayHandler({
    config,
    signer: NODE_SIGNERS[index]!,
    attestation,
    vault: fakes.vault,
    capability: fakes.capability,
    clock: opts.clock ?? new ManualClock(NOW_MS),
    metrics,
    logger: silentLogger,
  });
  return { handler, fakes, attestation, metrics, config, signer: NODE_SIGNERS[index]! };
}

export function makeNode(
  opts: { index?: number; options?: Partial<RelayNodeOptions>; attestation?: AttestationPort; fakes?: ReturnType<typeof makeFakes> } & Partial<
    Parameters<typeof createRelayNode>[0]
  > = {},
) {
  const index = opts.index ?? 0;
  const fakes = opts.fakes ?? makeFakes();
  const attestation = opts.attestation ?? new FakeAttestation();
  const node = createRelayNode({
    config: nodeConfig(index, opts.options),
    attestation,
    vault: fakes.vault,
    capability: fakes.capability,
    clock: opts.clock ?? new ManualClock(NOW_MS),
    ...(opts.gatewayClient ? { gatewayClient: opts.gatewayClient } : {}),
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  return { node, fakes, attestation };
}

export const never = new AbortController().signal;
