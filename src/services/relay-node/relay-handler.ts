/**
 * The relay node's decision path for one request, shared by the gateway stream and the unary API.
 *
 * Order of checks (each failure is a signed RelayError, so honest nodes agree on it and the gateway
 * can answer with it once F+1 sign the same one):
 *   1. params (InvalidArgument, upstream messages);
 *   2. the claimed DON config equals this node's (PermissionDenied; upstream CL112-01);
 *   3. attestation, bound to the request's binding hash (PermissionDenied, "attestation: …");
 *   4. workflow authorization over (owner, workflow_id, execution_id) (PermissionDenied; PRIV-433);
 * then the Vault or the Capability service, whose answer is translated deterministically and signed.
 * Their "the request is wrong" errors are the same on every honest node (one shared service) and
 * are signed too: Capability NotFound / InvalidArgument, Vault InvalidArgument. A capability's own
 * failure is part of the result (`CapabilityResult.error`, upstream), and a missing secret is a
 * per-item error inside the SecretsResult.
 *
 * A node-local failure (Vault or Capability unreachable or failing, a malformed answer, a full
 * replay cache, a bug) is a NodeFailure: unsigned and without detail, because it is not a claim about
 * the request and must never count toward a quorum (one node's outage is not the DON's answer).
 */
import { create, fromBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  RelayErrorSchema,
  SignedAnswerSchema,
  sdk,
  type Capability,
  type SignedAnswer,
  type Vault,
} from "../../contract/index.js";
import {
  answerSignaturePayload,
  relayBindingHash,
  relayMethodOf,
  relayResultHash,
  type RelayParams,
  type RelayResult,
} from "../../contract/relay-hash.js";
import { checkEnclaveConfig } from "../../domain/authorization/don-config.js";
import { WorkflowAuthorizer } from "../../domain/authorization/workflow-authorization.js";
import type { Clock } from "../../domain/clock.js";
import type { Ed25519Signer } from "../../domain/crypto/ed25519.js";
import { Code, ConnectError } from "../../domain/errors.js";
import {
  validateRelayParams,
  type ValidCapabilityParams,
  type ValidSecretsParams,
} from "../../domain/relay-params/validation.js";
import type { RelayNodeMetrics } from "./metrics.js";
import type { RelayNodeConfig } from "./options.js";
import type { AttestationPort, RelayNodeLogger } from "./ports.js";
import { translateCapabilityResponse, translateVaultResponse } from "./translate.js";
import { buildVaultGetSecretsRequest } from "./vault-request.js";

/** The abort reason of a request whose own deadline passed (as opposed to a cancellation). */
export class RequestDeadlineExceeded extends Error {
  constructor(readonly timeoutMs: number) {
    super(`relay request exceeded its ${timeoutMs} ms deadline`);
  }
}

export type RelayOutcome =
  /** A deterministic answer: a result or a RelayError, signed. */
  | { readonly kind: "signed"; readonly answer: SignedAnswer }
  /** A node-local failure: unsigned; `message` is generic (no detail leaves the node). */
  | { readonly kind: "failure"; readonly code: Code; readonly message: string }
  /** Nobody wants the answer any more (cancelled, or the deadline passed). */
  | { readonly kind: "aborted"; readonly timedOut: boolean };

export interface RelayHandlerDeps {
  readonly config: Readonly<RelayNodeConfig>;
  readonly signer: Ed25519Signer;
  readonly attestation: AttestationPort;
  readonly vault: Client<typeof Vault>;
  readonly capability: Client<typeof Capability>;
  readonly clock: Clock;
  readonly metrics: RelayNodeMetrics;
  readonly logger: RelayNodeLogger;
}

const MAX_CAPABILITY_MESSAGE_LENGTH = 200;

/** Codes of a dependency that mean "try again later" rather than "something is wrong here". */
const TRANSIENT = new Set<Code>([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted, Code.Canceled]);

function aborted(signal: AbortSignal): RelayOutcome {
  return { kind: "aborted", timedOut: signal.reason instanceof RequestDeadlineExceeded };
}

function bounded(message: string): string {
  return message.length <= MAX_CAPABILITY_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_CAPABILITY_MESSAGE_LENGTH - 2)}..`;
}

export class RelayHandler {
  private readonly authorizer: WorkflowAuthorizer;

  constructor(private readonly deps: RelayHandlerDeps) {
    this.authorizer = new WorkflowAuthorizer({
      workflowNodeKeys: deps.config.workflowNodeKeys,
      threshold: deps.config.authorizationThreshold,
    });
  }

  /** Decides and answers one request; never throws. `signal` aborts the Vault/Capability call. */
  async handle(params: RelayParams, signal: AbortSignal): Promise<RelayOutcome> {
    const started = performance.now();
    let outcome: RelayOutcome;
    try {
      outcome = await this.run(params, signal);
    } catch (err) {
      this.deps.logger.error({ err, method: relayMethodOf(params) }, "relay request failed unexpectedly");
      outcome = { kind: "failure", code: Code.Internal, message: "internal error" };
    }
    this.record(params, outcome, (performance.now() - started) / 1000);
    return outcome;
  }

  private async run(params: RelayParams, signal: AbortSignal): Promise<RelayOutcome> {
    const bindingHash = relayBindingHash(params);

    const verdict = validateRelayParams(params);
    if (verdict.kind === "invalid") return this.reject(bindingHash, Code.InvalidArgument, verdict.message);
    const valid = verdict.params;

    let sdkRequest: sdk.CapabilityRequest | undefined;
    if (valid.kind === "capability") {
      try {
        sdkRequest = fromBinary(sdk.CapabilityRequestSchema, valid.request.payload);
      } catch {
        return this.reject(bindingHash, Code.InvalidArgument, "payload must be a serialized ccr.sdk.v1.CapabilityRequest");
      }
    }

    const don = checkEnclaveConfig(valid.enclaveConfig, this.deps.config.don);
    if (don.kind === "mismatch") return this.reject(bindingHash, Code.PermissionDenied, don.reason);

    const attestation = await this.deps.attestation.verify({
      attestation: valid.request.attestation,
      bindingHash,
      requestTimestampMs: valid.request.timestampMs,
      nowMs: this.deps.clock.nowMs(),
      enclavePublicKey: valid.kind === "secrets" ? valid.request.enclavePublicKey : undefined,
    });
    this.deps.metrics.attestation(attestation.kind === "ok" ? "ok" : attestation.code, attestation.cache);
    if (signal.aborted) return aborted(signal);
    if (attestation.kind === "rejected") {
      if (attestation.nodeLocal === true) return { kind: "failure", code: Code.ResourceExhausted, message: attestation.reason };
      return this.reject(bindingHash, Code.PermissionDenied, attestation.reason);
    }

    const auth = this.authorizer.check(valid.request.authorization, {
      owner: valid.owner,
      workflowId: valid.request.workflowId,
      executionId: valid.request.executionId,
    });
    if (auth.kind === "denied") return this.reject(bindingHash, Code.PermissionDenied, auth.reason);

    return valid.kind === "secrets"
      ? this.getSecrets(valid, bindingHash, signal)
      : this.executeCapability(valid, sdkRequest!, bindingHash, signal);
  }

  private async getSecrets(params: ValidSecretsParams, bindingHash: Uint8Array, signal: AbortSignal): Promise<RelayOutcome> {
    const request = buildVaultGetSecretsRequest(params, this.deps.signer, this.deps.clock.nowMs());
    let response;
    try {
      response = await this.deps.vault.getSecrets(request, { signal });
    } catch (err) {
      if (signal.aborted) return aborted(signal);
      // The node checked the request's shape already, so a Vault InvalidArgument is about the
      // request itself (e.g. an enclave key that is not a usable X25519 point): the same answer on
      // every honest node, so signed. Anything else is this node's problem.
      const error = ConnectError.from(err);
      if (error.code === Code.InvalidArgument) {
        return this.reject(bindingHash, Code.InvalidArgument, `vault rejected the request: ${bounded(error.rawMessage)}`);
      }
      return this.dependencyFailure("vault", err);
    }
    if (signal.aborted) return aborted(signal);
    const translated = translateVaultResponse(params.secrets, response);
    if (translated.kind === "malformed") {
      this.deps.logger.error({ reason: translated.reason }, "vault answer malformed");
      return { kind: "failure", code: Code.Internal, message: "internal error" };
    }
    return this.sign(bindingHash, { case: "secrets", value: translated.result });
  }

  private async executeCapability(
    params: ValidCapabilityParams,
    sdkRequest: sdk.CapabilityRequest,
    bindingHash: Uint8Array,
    signal: AbortSignal,
  ): Promise<RelayOutcome> {
    let response;
    try {
      response = await this.deps.capability.execute(
        {
          // The relay's capability_id is authoritative (upstream uses params.capability_id, not the
          // SDK request's id); it is what the binding hash and the enclave's request name.
          capabilityId: params.request.capabilityId,
          method: sdkRequest.method,
          payload: sdkRequest.payload,
          metadata: {
            workflowId: params.request.workflowId,
            owner: params.owner,
            executionId: params.request.executionId,
            referenceId: params.referenceId,
          },
        },
        { signal },
      );
    } catch (err) {
      if (signal.aborted) return aborted(signal);
      // The registry is shared by the DON, so "no such capability" and "bad input" are the same
      // answer on every honest node: signed, like upstream's user errors.
      const error = ConnectError.from(err);
      if (error.code === Code.NotFound) {
        return this.reject(bindingHash, Code.NotFound, `capability not found: ${params.request.capabilityId}`);
      }
      if (error.code === Code.InvalidArgument) {
        return this.reject(bindingHash, Code.InvalidArgument, `capability rejected the input: ${bounded(error.rawMessage)}`);
      }
      return this.dependencyFailure("capability", err);
    }
    if (signal.aborted) return aborted(signal);
    return this.sign(bindingHash, { case: "capability", value: translateCapabilityResponse(response) });
  }

  private dependencyFailure(service: "vault" | "capability", err: unknown): RelayOutcome {
    const error = ConnectError.from(err);
    this.deps.logger.warn({ service, code: Code[error.code], err: error.rawMessage }, `${service} call failed`);
    return TRANSIENT.has(error.code)
      ? { kind: "failure", code: Code.Unavailable, message: `${service} unavailable` }
      : { kind: "failure", code: Code.Internal, message: "internal error" };
  }

  private reject(bindingHash: Uint8Array, code: Code, message: string): RelayOutcome {
    return this.sign(bindingHash, { case: "error", value: create(RelayErrorSchema, { code, message }) });
  }

  private sign(bindingHash: Uint8Array, result: RelayResult): RelayOutcome {
    const resultHash = relayResultHash(bindingHash, result);
    const signature = this.deps.signer.sign(answerSignaturePayload(resultHash));
    return { kind: "signed", answer: create(SignedAnswerSchema, { result, resultHash, signature }) };
  }

  private record(params: RelayParams, outcome: RelayOutcome, seconds: number): void {
    const method = relayMethodOf(params);
    const metrics = this.deps.metrics;
    switch (outcome.kind) {
      case "signed": {
        const result = outcome.answer.result;
        if (result.case === "error") {
          metrics.request(method, "rejected", result.value.code as Code, seconds);
          this.deps.logger.debug({ method, code: Code[result.value.code], reason: result.value.message }, "relay request rejected");
        } else {
          metrics.request(method, "ok", null, seconds);
        }
        break;
      }
      case "failure":
        metrics.request(method, "failure", outcome.code, seconds);
        break;
      case "aborted":
        metrics.request(method, outcome.timedOut ? "timeout" : "canceled", outcome.timedOut ? Code.DeadlineExceeded : Code.Canceled, seconds);
        break;
    }
  }
}
