/**
 * The enclave host on the in-memory transport, against a fake gateway that answers like a DON of
 * signing relay nodes would — or, on request, like a lying gateway or a Byzantine minority:
 *
 *   honest        F+1 members sign relayResultHash(bindingHash(request), result)
 *   only-f        F members sign it (one short of a quorum)
 *   non-member    F members and one key outside the DON sign it
 *   other-request F+1 members sign the same result bound to ANOTHER request (another request id)
 *   tampered      F+1 members sign the honest result, but the gateway returns a different one
 *                 (for secrets: a box of another value, correctly sealed to the enclave's key)
 *   padded        F+1 members sign it, and the gateway pads the certificate with a stranger's valid
 *                 signature and a bad second entry for the first member (still a valid quorum)
 *
 * Secrets are sealed to the request's enclave_public_key with the Vault's secret box, so the enclave
 * has to open them for real. Binaries are written to a temp directory and fetched as file:// URLs.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import pino from "pino";
import { Registry } from "prom-client";
import {
  answerSignaturePayload,
  CapabilityResultSchema,
  capabilityBindingHash,
  ConfidentialWorkflowRequestSchema,
  ConfidentialWorkflows,
  ExecuteCapabilityRequestSchema,
  Gateway,
  GetSecretsRequestSchema,
  QuorumCertificateSchema,
  RelayErrorDetailSchema,
  RelayErrorSchema,
  relayResultHash,
  sdk,
  SecretErrorKind,
  SecretsResultSchema,
  secretsBindingHash,
  WorkflowAuthorizationSchema,
  type ConfidentialWorkflowRequest,
  type ExecuteCapabilityRequest,
  type GetSecretsRequest,
  type QuorumCertificate,
  type RelayResult,
  type WorkflowAuthorization,
} from "../../../src/contract/index.js";
import { effectiveNamespace } from "../../../src/contract/relay-hash.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import { sealSecret } from "../../../src/domain/crypto/secret-box.js";
import {
  createEnclaveHost,
  resolveConfidentialWorkflowsOptions,
  type ConfidentialWorkflowsOptionsInput,
  type EnclaveHost,
  type EnclaveHostDeps,
} from "../../../src/services/confidential-workflows/index.js";
import { testSigner } from "../../support/fake-nodes.js";

export const NOW_MS = 1_790_000_000_000;
export const F = 1;
/** The DON: 4 members, F = 1. */
export const MEMBERS: readonly Ed25519Signer[] = [0, 1, 2, 3].map((i) => testSigner(i));
export const STRANGER = ed25519SignerFromSeed(new Uint8Array(32).fill(0xee));

export const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
export const WORKFLOW_ID = "a1".repeat(32);
export const EXECUTION_ID = "e5".repeat(32);
/** A stand-in authorization: the host must forward it byte for byte, not interpret it. */
export const AUTHORIZATION: WorkflowAuthorization = create(WorkflowAuthorizationSchema, {
  signatures: [{ signer: new Uint8Array(32).fill(7), signature: new Uint8Array(64).fill(9) }],
});

/** Fixed PCRs so most tests skip measuring the sources. */
export const MEASUREMENTS = {
  pcr0: "01".repeat(48),
  pcr1: "02".repeat(48),
  pcr2: "03".repeat(48),
};

export type CertificatePlan = "honest" | "only-f" | "non-member" | "other-request" | "tampered" | "padded";

export type GatewayPlan =
  | CertificatePlan
  /** An agreed RelayError with its RelayErrorDetail, certified per `certificate`. */
  | { readonly relayError: { readonly code: Code; readonly message: string }; readonly certificate?: CertificatePlan }
  /** A transport failure (no detail). */
  | { readonly transportError: { readonly code: Code; readonly message: string } };

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function certificateFor(resultHash: Uint8Array, signers: readonly Ed25519Signer[]): QuorumCertificate {
  const signatures = signers
    .map((s) => ({ signer: s.publicKey, signature: s.sign(answerSignaturePayload(resultHash)) }))
    .sort((a, b) => Buffer.compare(a.signer, b.signer));
  return create(QuorumCertificateSchema, { resultHash, signatures });
}

/** What the gateway returns and the certificate it attaches, per plan. */
function certify(
  plan: CertificatePlan,
  bindingHash: Uint8Array,
  otherBindingHash: Uint8Array,
  honest: RelayResult,
  tampered: () => RelayResult,
): { result: RelayResult; certificate: QuorumCertificate } {
  const quorum = MEMBERS.slice(0, F + 1);
  switch (plan) {
    case "honest":
      return { result: honest, certificate: certificateFor(relayResultHash(bindingHash, honest), quorum) };
    case "only-f":
      return { result: honest, certificate: certificateFor(relayResultHash(bindingHash, honest), MEMBERS.slice(0, F)) };
    case "non-member":
      return { result: honest, certificate: certificateFor(relayResultHash(bindingHash, honest), [...MEMBERS.slice(0, F), STRANGER]) };
    case "other-request":
      return { result: honest, certificate: certificateFor(relayResultHash(otherBindingHash, honest), quorum) };
    case "tampered":
      return { result: tampered(), certificate: certificateFor(relayResultHash(bindingHash, honest), quorum) };
    case "padded": {
      const resultHash = relayResultHash(bindingHash, honest);
      const padding = [
        { signer: MEMBERS[0]!.publicKey, signature: new Uint8Array(64).fill(1) },
        { signer: STRANGER.publicKey, signature: STRANGER.sign(answerSignaturePayload(resultHash)) },
      ];
      // A stable sort keeps the bad entry of MEMBERS[0] ahead of its good one.
      const signatures = [...padding, ...certificateFor(resultHash, quorum).signatures].sort((a, b) => Buffer.compare(a.signer, b.signer));
      return { result: honest, certificate: create(QuorumCertificateSchema, { resultHash, signatures }) };
    }
  }
}

export class FakeGateway {
  readonly secretRequests: GetSecretsRequest[] = [];
  readonly capabilityRequests: ExecuteCapabilityRequest[] = [];
  /** The certificate the gateway sent for each request id (answers and agreed RelayErrors). */
  readonly certificates = new Map<string, QuorumCertificate>();
  /** The vault: "namespace/key" → plaintext; others are NOT_FOUND. */
  secrets = new Map<string, string>([["main/API_KEY", "s3cr3t-api-key"]]);
  /** Exact boxes to return instead of sealing ("namespace/key" → box), e.g. the Vault's documented vectors. */
  boxes = new Map<string, { encapsulatedKey: Uint8Array; ciphertext: Uint8Array }>();
  /** The capability: default echoes the input payload. */
  capability: (call: sdk.CapabilityRequest) => sdk.CapabilityResponse | { error: string } = (call) =>
    create(sdk.CapabilityResponseSchema, { response: { case: "payload", value: call.payload } });
  plan: GatewayPlan = "honest";
  /** When set, each call waits for it (to hold an execution in flight). */
  gate: Promise<void> | undefined;
  /** Resolves when the next relay call arrives. */
  private arrivals: Array<() => void> = [];

  nextCall(): Promise<void> {
    return new Promise((resolve) => this.arrivals.push(resolve));
  }

  private arrived(): void {
    for (const a of this.arrivals.splice(0)) a();
  }

  private sealedSecrets(req: GetSecretsRequest, substitute = false): RelayResult {
    return {
      case: "secrets",
      value: create(SecretsResultSchema, {
        secrets: req.secrets.map((s) => {
          const id = { key: s.key, namespace: effectiveNamespace(s) };
          const name = `${id.namespace}/${id.key}`;
          const box = this.boxes.get(name);
          if (box !== undefined && !substitute) return { id, outcome: { case: "encrypted" as const, value: box } };
          const value = substitute ? "forged-value" : this.secrets.get(name);
          if (value === undefined) {
            return { id, outcome: { case: "error" as const, value: { kind: SecretErrorKind.NOT_FOUND, message: `secret not found: ${name}` } } };
          }
          const sealed = sealSecret(req.enclavePublicKey, Buffer.from(value), { owner: req.owner, namespace: id.namespace, key: id.key }, randomBytes(32));
          return { id, outcome: { case: "encrypted" as const, value: sealed } };
        }),
      }),
    };
  }

  private fail(requestId: string, bindingHash: Uint8Array, otherBindingHash: Uint8Array): void {
    const plan = this.plan;
    if (typeof plan === "object" && "transportError" in plan) throw new ConnectError(plan.transportError.message, plan.transportError.code);
    if (typeof plan === "object" && "relayError" in plan) {
      const relayError = create(RelayErrorSchema, { code: plan.relayError.code, message: plan.relayError.message });
      const error: RelayResult = { case: "error", value: relayError };
      const { certificate } = certify(plan.certificate ?? "honest", bindingHash, otherBindingHash, error, () => error);
      this.certificates.set(requestId, certificate);
      const detail = create(RelayErrorDetailSchema, { error: relayError, certificate });
      throw new ConnectError(plan.relayError.message, plan.relayError.code, undefined, [{ desc: RelayErrorDetailSchema, value: detail }]);
    }
  }

  readonly implementation = {
    getSecrets: async (req: GetSecretsRequest) => {
      this.secretRequests.push(req);
      this.arrived();
      await this.gate;
      const bindingHash = secretsBindingHash(req);
      const other = secretsBindingHash(create(GetSecretsRequestSchema, { ...req, requestId: `${req.requestId}-other` }));
      this.fail(req.requestId, bindingHash, other);
      const plan = this.plan as CertificatePlan;
      const { result, certificate } = certify(plan, bindingHash, other, this.sealedSecrets(req), () => this.sealedSecrets(req, true));
      this.certificates.set(req.requestId, certificate);
      if (result.case !== "secrets") throw new Error("unreachable");
      return { result: result.value, certificate };
    },
    executeCapability: async (req: ExecuteCapabilityRequest) => {
      this.capabilityRequests.push(req);
      this.arrived();
      await this.gate;
      const bindingHash = capabilityBindingHash(req);
      const other = capabilityBindingHash(create(ExecuteCapabilityRequestSchema, { ...req, requestId: `${req.requestId}-other` }));
      this.fail(req.requestId, bindingHash, other);
      const call = fromBinary(sdk.CapabilityRequestSchema, req.payload);
      const answer = this.capability(call);
      const honest: RelayResult =
        "error" in answer && typeof answer.error === "string"
          ? { case: "capability", value: create(CapabilityResultSchema, { error: answer.error }) }
          : { case: "capability", value: create(CapabilityResultSchema, { payload: toBinary(sdk.CapabilityResponseSchema, answer as sdk.CapabilityResponse) }) };
      const forged: RelayResult = {
        case: "capability",
        value: create(CapabilityResultSchema, {
          payload: toBinary(sdk.CapabilityResponseSchema, create(sdk.CapabilityResponseSchema, { response: { case: "payload", value: Buffer.from('{"forged":true}') } })),
        }),
      };
      const { result, certificate } = certify(this.plan as CertificatePlan, bindingHash, other, honest, () => forged);
      this.certificates.set(req.requestId, certificate);
      if (result.case !== "capability") throw new Error("unreachable");
      return { result: result.value, certificate };
    },
    connectNode: () => {
      throw new ConnectError("not in this fake", Code.Unimplemented);
    },
  };

  client(): Client<typeof Gateway> {
    return createClient(Gateway, createRouterTransport(({ service }) => service(Gateway, this.implementation as never)));
  }
}

/** Deterministic "random" bytes: SHA-256 of a counter. */
export function counterRandom(): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = Buffer.alloc(n);
    for (let off = 0; off < n; off += 32) createHash("sha256").update(`enclave-rng-${counter++}`).digest().copy(out, off);
    return new Uint8Array(out);
  };
}

export interface Harness {
  readonly host: EnclaveHost;
  readonly client: Client<typeof ConfidentialWorkflows>;
  readonly gateway: FakeGateway;
  readonly clock: ManualClock;
  readonly registry: Registry;
  /** Raw log text so far. */
  logs(): string;
  /** Parsed log lines. */
  logLines(): Array<Record<string, unknown>>;
  /** Writes a binary into the temp dir; returns its file:// URL and SHA-256. */
  binary(bytes: Uint8Array, name?: string): { url: string; hash: Uint8Array; path: string };
  close(): Promise<void>;
}

const tempDirs: string[] = [];

export async function startHarness(
  input: Partial<ConfidentialWorkflowsOptionsInput> = {},
  extra: Partial<Omit<EnclaveHostDeps, "options" | "logger">> & { readonly start?: boolean } = {},
): Promise<Harness> {
  const gateway = new FakeGateway();
  const clock = new ManualClock(NOW_MS);
  const registry = new Registry();
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  const options = resolveConfidentialWorkflowsOptions({
    don: { signers: MEMBERS.map((m) => m.publicKey), f: F },
    runtime: { maxWorkers: 1 },
    attestation: { measurements: MEASUREMENTS },
    ...input,
  });
  const { start, ...deps } = extra;
  const host = createEnclaveHost({ options, logger, registry, clock, randomBytes: counterRandom(), gateway: gateway.client(), ...deps });
  if (start !== false) await host.start();
  const dir = mkdtempSync(join(tmpdir(), "ccr-enclave-"));
  tempDirs.push(dir);
  let n = 0;
  const client = createClient(ConfidentialWorkflows, createRouterTransport(({ service }) => service(host.service, host.implementation)));
  return {
    host,
    client,
    gateway,
    clock,
    registry,
    logs: () => lines.join(""),
    logLines: () => lines.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>),
    binary(bytes, name = `guest-${n++}.wasm`) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return { url: pathToFileURL(path).href, hash: sha256(bytes), path };
    },
    async close() {
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A trigger ExecuteRequest with `config` (JSON) and `payload`. */
export function triggerRequest(config: unknown, payload: Uint8Array = new Uint8Array(Buffer.from("{}")), maxResponseSize = 0n): Uint8Array {
  return toBinary(
    sdk.ExecuteRequestSchema,
    create(sdk.ExecuteRequestSchema, {
      config: Buffer.from(JSON.stringify(config)),
      request: { case: "trigger", value: { id: 0n, payload } },
      maxResponseSize,
    }),
  );
}

export function subscribeRequest(config: unknown): Uint8Array {
  return toBinary(sdk.ExecuteRequestSchema, create(sdk.ExecuteRequestSchema, { config: Buffer.from(JSON.stringify(config)), request: { case: "subscribe", value: {} } }));
}

/** A full Execute request for the binary at `url` with `hash`. */
export function executeRequest(
  binary: { url: string; hash: Uint8Array },
  executeReq: Uint8Array,
  overrides: { secrets?: Array<{ key: string; namespace?: string }>; executionId?: string; owner?: string } = {},
): ConfidentialWorkflowRequest {
  return create(ConfidentialWorkflowRequestSchema, {
    vaultDonSecrets: overrides.secrets ?? [],
    execution: {
      workflowId: WORKFLOW_ID,
      binaryUrl: binary.url,
      binaryHash: binary.hash,
      executeRequest: executeReq,
      owner: overrides.owner ?? OWNER,
      executionId: overrides.executionId ?? EXECUTION_ID,
      orgId: "org-1",
    },
    authorization: AUTHORIZATION,
  });
}

/** Decodes an Execute answer's ExecutionResult. */
export function resultOf(bytes: Uint8Array): sdk.ExecutionResult {
  return fromBinary(sdk.ExecutionResultSchema, bytes);
}
