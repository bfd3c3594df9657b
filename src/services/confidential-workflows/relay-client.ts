/**
 * The enclave's side of the relay (issue 6, "Secrets" and "Answers"; proto/ccr/v1/relay.proto):
 * builds each GetSecrets / ExecuteCapability request, sends it to the gateway, and uses an answer
 * only after checking its quorum certificate itself — the enclave trusts neither the gateway nor any
 * F relay nodes (ARCHITECTURE.md §4).
 *
 * Every request carries a fresh request_id (random: the gateway refuses a duplicate in flight and
 * the nodes' replay cache refuses a replayed binding), the injected clock's timestamp, the
 * enclave's X25519 key, the configured DON config (`enclave_config`), the attestation bound to the
 * request's binding hash, and the workflow node's authorization, forwarded verbatim.
 *
 * Every answer — a result, or an agreed RelayError attached as RelayErrorDetail — is checked with
 * `verifyQuorumCertificate` against a result hash recomputed HERE from this request's binding hash
 * and the result received: F+1 distinct DON members must have signed exactly it. A short, foreign
 * or misdirected certificate makes the whole answer an error; its data is never looked at further.
 * Every answer whose certificate verified comes back with a receipt (relay-receipts.ts: the method,
 * the request id and the members who signed), even when the enclave then refuses its shape, so the
 * execution can report who vouched for each answer it was given.
 *
 * Nothing here throws: each call resolves to data the guest can see. Error texts never contain
 * secret material (a relay message carries ids and reasons only; plaintexts exist only in `value`).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError, type Client } from "@connectrpc/connect";
import {
  capabilityBindingHash,
  EnclaveConfigSchema,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  RelayErrorDetailSchema,
  RelayMethod,
  relayResultHash,
  sdk,
  secretsBindingHash,
  type Attestation,
  type EnclaveConfig,
  type Gateway,
  type QuorumCertificate,
  type RelayMethodName,
  type RelayReceipt,
  type RelayResult,
  type SecretResult,
  type WorkflowAuthorization,
} from "../../contract/index.js";
import { effectiveNamespace } from "../../contract/relay-hash.js";
import type { Clock, RandomBytes } from "../../domain/clock.js";
import { Code } from "../../domain/errors.js";
import { verifyQuorumCertificate } from "../../domain/quorum/certificate.js";
import type { CapabilityResponse } from "../../wasm/guest-abi.js";
import type { EnclaveAttestation } from "./enclave-attestation.js";
import type { EnclaveKeys } from "./enclave-keys.js";
import { relayReceipt } from "./relay-receipts.js";

/** Who the enclave acts for: one execution, as the workflow node authorized it. */
export interface ExecutionIdentity {
  readonly workflowId: string;
  readonly owner: string;
  readonly executionId: string;
  readonly orgId: string;
  readonly authorization: WorkflowAuthorization | undefined;
}

export interface SecretId {
  readonly key: string;
  /** The effective namespace ("main" when unset). */
  readonly namespace: string;
}

export type SecretItem =
  | { readonly kind: "secret"; readonly key: string; readonly namespace: string; readonly value: string }
  | { readonly kind: "error"; readonly key: string; readonly namespace: string; readonly error: string };

/** Why a whole relay call gave no usable answer (a metric label). */
export type RelayFailure = "relay_error" | "certificate_invalid" | "transport" | "malformed" | "cancelled" | "attestation";

/**
 * A call that gave no usable answer. `receipt` is set when the answer's certificate verified all the
 * same: an agreed RelayError, or a certified answer the enclave refused as malformed.
 */
export type Failed = { readonly kind: "failed"; readonly failure: RelayFailure; readonly error: string; readonly receipt?: RelayReceipt };

export type SecretsFetch = { readonly kind: "ok"; readonly items: readonly SecretItem[]; readonly receipt: RelayReceipt } | Failed;

export type CapabilityCall = { readonly kind: "ok"; readonly response: CapabilityResponse; readonly receipt: RelayReceipt } | Failed;

export interface RelayClientDeps {
  readonly gateway: Client<typeof Gateway>;
  readonly don: { readonly signers: readonly Uint8Array[]; readonly f: number };
  readonly keys: EnclaveKeys;
  readonly attestation: EnclaveAttestation;
  readonly clock: Clock;
  readonly randomBytes: RandomBytes;
  readonly requestTimeoutMs: number;
  /** Called once per call with its outcome (metrics). */
  readonly observe?: (method: "GetSecrets" | "ExecuteCapability", outcome: "ok" | RelayFailure) => void;
}

/** Longest error text handed to a guest. */
const MAX_ERROR_CHARS = 512;

function bounded(text: string): string {
  return text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS - 1)}…`;
}

function failed(failure: RelayFailure, error: string, receipt?: RelayReceipt): Failed {
  return receipt === undefined ? { kind: "failed", failure, error: bounded(error) } : { kind: "failed", failure, error: bounded(error), receipt };
}

/** What a relay call is, for its receipt. */
interface RelayCall {
  readonly method: RelayMethodName;
  readonly requestId: string;
  readonly bindingHash: Uint8Array;
}

type Certified = { readonly kind: "certified"; readonly receipt: RelayReceipt } | { readonly kind: "refused"; readonly reason: string };

const utf8 = new TextDecoder("utf-8");

export class RelayClient {
  private readonly enclaveConfig: EnclaveConfig;

  constructor(private readonly deps: RelayClientDeps) {
    this.enclaveConfig = create(EnclaveConfigSchema, { signers: [...deps.don.signers], f: deps.don.f });
  }

  private requestId(): string {
    return `enc-${Buffer.from(this.deps.randomBytes(16)).toString("hex")}`;
  }

  /**
   * The certificate check every answer passes before use: F+1 distinct DON members over the result
   * hash recomputed from this request's binding hash and the result as received. A certified answer
   * gets its receipt.
   */
  private certify(call: RelayCall, result: RelayResult, certificate: QuorumCertificate | undefined): Certified {
    const resultHash = relayResultHash(call.bindingHash, result);
    const verdict = verifyQuorumCertificate(certificate, resultHash, this.enclaveConfig);
    if (verdict.kind === "invalid") return { kind: "refused", reason: verdict.reason };
    // (verifyQuorumCertificate calls a missing certificate invalid; this only narrows the type.)
    if (certificate === undefined) return { kind: "refused", reason: "quorum certificate missing" };
    return { kind: "certified", receipt: relayReceipt(call.method, call.requestId, certificate, resultHash, verdict.signers) };
  }

  /** An RPC failure: an agreed RelayError (certificate checked) or a transport error. */
  private rpcFailure(error: unknown, call: RelayCall, signal: AbortSignal): Failed {
    if (signal.aborted) return failed("cancelled", "the execution ended before the relay answered");
    const ce = ConnectError.from(error);
    const detail = ce.findDetails(RelayErrorDetailSchema)[0];
    if (detail !== undefined) {
      if (detail.error === undefined) return failed("malformed", `relay error detail without an error (gateway answered ${Code[ce.code]})`);
      const certified = this.certify(call, { case: "error", value: detail.error }, detail.certificate);
      if (certified.kind === "refused") return failed("certificate_invalid", `relay error rejected: ${certified.reason} (gateway answered ${Code[ce.code]})`);
      const code = Code[detail.error.code as Code] ?? `code ${detail.error.code}`;
      return failed("relay_error", `relay refused the request (${code}): ${detail.error.message}`, certified.receipt);
    }
    return failed("transport", `relay call failed (${Code[ce.code]}): ${ce.rawMessage}`);
  }

  /** The request's attestation; a producer failure is an answer-less failure, not a throw. */
  private async attest(bindingHash: Uint8Array): Promise<Attestation | Failed> {
    try {
      return await this.deps.attestation.forRequest(bindingHash);
    } catch (error) {
      return failed("attestation", `enclave could not attest the request: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private async observed<T extends { readonly kind: "ok" } | Failed>(method: "GetSecrets" | "ExecuteCapability", run: () => Promise<T>): Promise<T> {
    const outcome = await run();
    this.deps.observe?.(method, "failure" in outcome ? outcome.failure : "ok");
    return outcome;
  }

  /** One GetSecrets round trip for `ids` (1–64, no duplicates), each opened with the enclave's key. */
  getSecrets(identity: ExecutionIdentity, ids: readonly SecretId[], signal: AbortSignal): Promise<SecretsFetch> {
    return this.observed("GetSecrets", async (): Promise<SecretsFetch> => {
      const request = create(GetSecretsRequestSchema, {
        requestId: this.requestId(),
        workflowId: identity.workflowId,
        owner: identity.owner,
        executionId: identity.executionId,
        orgId: identity.orgId,
        secrets: ids.map((id) => ({ key: id.key, namespace: id.namespace })),
        enclavePublicKey: this.deps.keys.encryptionPublicKey,
        enclaveConfig: this.enclaveConfig,
        timestampMs: BigInt(this.deps.clock.nowMs()),
        ...(identity.authorization === undefined ? {} : { authorization: identity.authorization }),
      });
      const call: RelayCall = { method: RelayMethod.getSecrets, requestId: request.requestId, bindingHash: secretsBindingHash(request) };
      const attestation = await this.attest(call.bindingHash);
      if ("failure" in attestation) return attestation;
      request.attestation = attestation;
      let response;
      try {
        response = await this.deps.gateway.getSecrets(request, { signal, timeoutMs: this.deps.requestTimeoutMs });
      } catch (error) {
        return this.rpcFailure(error, call, signal);
      }
      if (response.result === undefined) return failed("malformed", "relay answer malformed: no result");
      const certified = this.certify(call, { case: "secrets", value: response.result }, response.certificate);
      if (certified.kind === "refused") return failed("certificate_invalid", `relay answer rejected: ${certified.reason}`);
      const { receipt } = certified;
      const results = response.result.secrets;
      // F+1 members vouched for this answer, so at least one honest node built it from this request;
      // still, a shape that does not match the request is refused rather than guessed at.
      if (results.length !== ids.length) return failed("malformed", `relay answer malformed: ${results.length} secrets for ${ids.length} asked`, receipt);
      const items: SecretItem[] = [];
      for (let i = 0; i < ids.length; i++) {
        const asked = ids[i]!;
        const r = results[i]!;
        if (r.id === undefined || r.id.key !== asked.key || effectiveNamespace(r.id) !== asked.namespace) {
          return failed("malformed", `relay answer malformed: entry ${i} is not ${asked.namespace}/${asked.key}`, receipt);
        }
        items.push(this.openItem(identity, asked, r.outcome));
      }
      return { kind: "ok", items, receipt };
    });
  }

  private openItem(identity: ExecutionIdentity, id: SecretId, outcome: SecretResult["outcome"]): SecretItem {
    const base = { key: id.key, namespace: id.namespace };
    switch (outcome.case) {
      case "encrypted": {
        // The box is opened for the identity the enclave asked for: a box for another secret (or
        // owner) fails its tag check even if a relay reordered the entries.
        const opened = this.deps.keys.open(outcome.value, { owner: identity.owner, namespace: id.namespace, key: id.key });
        if (opened.kind !== "ok") return { kind: "error", ...base, error: "secret could not be decrypted by this enclave" };
        const value = utf8.decode(opened.plaintext);
        opened.plaintext.fill(0);
        return { kind: "secret", ...base, value };
      }
      case "error":
        return { kind: "error", ...base, error: bounded(outcome.value.message === "" ? "secret unavailable" : outcome.value.message) };
      default:
        return { kind: "error", ...base, error: "relay answer has no outcome for this secret" };
    }
  }

  /** One capability call through the relay, under `referenceId` (the Capability service's memo key). */
  executeCapability(
    identity: ExecutionIdentity,
    referenceId: string,
    call: { readonly id: string; readonly method: string; readonly payload: Uint8Array },
    signal: AbortSignal,
  ): Promise<CapabilityCall> {
    return this.observed("ExecuteCapability", async (): Promise<CapabilityCall> => {
      const request = create(ExecuteCapabilityRequestSchema, {
        requestId: this.requestId(),
        workflowId: identity.workflowId,
        owner: identity.owner,
        executionId: identity.executionId,
        orgId: identity.orgId,
        referenceId,
        capabilityId: call.id,
        payload: toBinary(sdk.CapabilityRequestSchema, create(sdk.CapabilityRequestSchema, { id: call.id, method: call.method, payload: call.payload })),
        enclaveConfig: this.enclaveConfig,
        timestampMs: BigInt(this.deps.clock.nowMs()),
        ...(identity.authorization === undefined ? {} : { authorization: identity.authorization }),
      });
      const relayCall: RelayCall = { method: RelayMethod.executeCapability, requestId: request.requestId, bindingHash: capabilityBindingHash(request) };
      const attestation = await this.attest(relayCall.bindingHash);
      if ("failure" in attestation) return attestation;
      request.attestation = attestation;
      let response;
      try {
        response = await this.deps.gateway.executeCapability(request, { signal, timeoutMs: this.deps.requestTimeoutMs });
      } catch (error) {
        return this.rpcFailure(error, relayCall, signal);
      }
      if (response.result === undefined) return failed("malformed", "relay answer malformed: no result");
      const certified = this.certify(relayCall, { case: "capability", value: response.result }, response.certificate);
      if (certified.kind === "refused") return failed("certificate_invalid", `relay answer rejected: ${certified.reason}`);
      const { receipt } = certified;
      const result = response.result;
      if (result.error !== "") return { kind: "ok", response: { kind: "error", error: bounded(result.error) }, receipt };
      let decoded: sdk.CapabilityResponse;
      try {
        decoded = fromBinary(sdk.CapabilityResponseSchema, result.payload);
      } catch {
        return failed("malformed", "relay answer malformed: payload is not a serialized ccr.sdk.v1.CapabilityResponse", receipt);
      }
      switch (decoded.response.case) {
        case "payload":
          return { kind: "ok", response: { kind: "payload", payload: decoded.response.value }, receipt };
        case "error":
          return { kind: "ok", response: { kind: "error", error: bounded(decoded.response.value) }, receipt };
        default:
          return { kind: "ok", response: { kind: "error", error: `capability ${call.id} returned no response` }, receipt };
      }
    });
  }
}
