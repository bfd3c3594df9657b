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
import { create, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import {
  RelayErrorSchema,
  SignedAnswerSchema,
  sdk,
  type CapabilityExecuteRequestSchema,
  type SignedAnswer,
  type VaultGetSecretsRequest,
} from "../../contract/index.js";
import {
  answerSignaturePayload,
  relayBindingHash,
  relayMethodOf,
  relayResultHash,
  type RelayMethodName,
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
  type NormalizedSecretId,
  type ValidCapabilityParams,
} from "../../domain/relay-params/validation.js";
import type { RelayNodeMetrics } from "./metrics.js";
import type { RelayNodeConfig } from "./options.js";
import type { AttestationPort, CapabilityPort, DependencyCallOptions, RelayNodeLogger, VaultPort } from "./ports.js";
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
  readonly vault: VaultPort;
  readonly capability: CapabilityPort;
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

/**
 * A failed dependency call that is really the request ending: cancelled or timed out here, or the
 * dependency answering DeadlineExceeded to the deadline it was sent. That deadline is the
 * request's own remaining time, so its timer and the request's race by a millisecond or so; either
 * way the request timed out (not "the dependency is unavailable").
 */
function abortedCall(signal: AbortSignal, options: CallOptions, err: unknown): RelayOutcome | undefined {
  if (signal.aborted) return aborted(signal);
  if (options.timeoutMs !== undefined && err instanceof ConnectError && err.code === Code.DeadlineExceeded) return { kind: "aborted", timedOut: true };
  return undefined;
}

/** A dependency call's options: always the request's signal. */
type CallOptions = DependencyCallOptions & { readonly signal: AbortSignal };

/** The Capability.Execute request: plain values and a copied payload (see `RelayHandler.handle`). */
type CapabilityCall = MessageInitShape<typeof CapabilityExecuteRequestSchema> & { readonly capabilityId: string };

function capabilityCall(params: ValidCapabilityParams, sdkRequest: sdk.CapabilityRequest): CapabilityCall {
  return {
    // The relay's capability_id is authoritative (upstream uses params.capability_id, not the SDK
    // request's id); it is what the binding hash and the enclave's request name.
    capabilityId: params.request.capabilityId,
    method: sdkRequest.method,
    // A copy: the decoded payload views the stream's receive buffer.
    payload: sdkRequest.payload.slice(),
    metadata: {
      workflowId: params.request.workflowId,
      owner: params.owner,
      executionId: params.request.executionId,
      referenceId: params.referenceId,
    },
  };
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

  /**
   * Decides and answers one request; never throws. `signal` aborts the Vault/Capability call;
   * `timeoutMs` (the request's own deadline, as its RequestScope) is what is left of it when that
   * call starts, sent as the call's deadline so the dependency stops on its own too.
   *
   * Not itself async, and the checks return the dependency call's promise instead of awaiting it:
   * a suspended async frame keeps its arguments alive, and `params` views the gateway stream's
   * receive buffer (protobuf bytes fields are subarrays of it), so a frame parked on a slow
   * Vault/Capability call would pin the whole request (attestation document included) for as long
   * as the call is pending. Only the small, copied call data and the binding hash stay in flight.
   */
  handle(params: RelayParams, signal: AbortSignal, timeoutMs?: number): Promise<RelayOutcome> {
    const started = performance.now();
    const method = relayMethodOf(params);
    const deadlineAtMs = timeoutMs === undefined ? undefined : this.deps.clock.nowMs() + timeoutMs;
    return this.settle(this.run(params, signal, deadlineAtMs), method, started);
  }

  private async settle(pending: Promise<RelayOutcome>, method: RelayMethodName, started: number): Promise<RelayOutcome> {
    let outcome: RelayOutcome;
    try {
      outcome = await pending;
    } catch (err) {
      this.deps.logger.error({ err, method }, "relay request failed unexpectedly");
      outcome = { kind: "failure", code: Code.Internal, message: "internal error" };
    }
    this.record(method, outcome, (performance.now() - started) / 1000);
    return outcome;
  }

  private async run(params: RelayParams, signal: AbortSignal, deadlineAtMs: number | undefined): Promise<RelayOutcome> {
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

    const attestationInput = {
      attestation: valid.request.attestation,
      bindingHash,
      requestTimestampMs: valid.request.timestampMs,
      nowMs: this.deps.clock.nowMs(),
      enclavePublicKey: valid.kind === "secrets" ? valid.request.enclavePublicKey : undefined,
    };
    const checked = this.deps.attestation.verify(attestationInput);
    // The production verifier answers synchronously; awaiting only a real promise saves a microtask
    // turn per request.
    const attestation = checked instanceof Promise ? await checked : checked;
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

    // Returned, not awaited (see `handle`): this frame ends here.
    if (valid.kind === "secrets") {
      const request = buildVaultGetSecretsRequest(valid, this.deps.signer, this.deps.clock.nowMs());
      return this.getSecrets(valid.secrets, request, bindingHash, this.callOptions(signal, deadlineAtMs));
    }
    return this.executeCapability(capabilityCall(valid, sdkRequest!), bindingHash, this.callOptions(signal, deadlineAtMs));
  }

  private callOptions(signal: AbortSignal, deadlineAtMs: number | undefined): CallOptions {
    if (deadlineAtMs === undefined) return { signal };
    return { signal, timeoutMs: Math.max(1, deadlineAtMs - this.deps.clock.nowMs()) };
  }

  private async getSecrets(
    secrets: readonly NormalizedSecretId[],
    request: VaultGetSecretsRequest,
    bindingHash: Uint8Array,
    options: CallOptions,
  ): Promise<RelayOutcome> {
    const { signal } = options;
    let response;
    try {
      response = await this.deps.vault.getSecrets(request, options);
    } catch (err) {
      const gone = abortedCall(signal, options, err);
      if (gone !== undefined) return gone;
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
    const translated = translateVaultResponse(secrets, response);
    if (translated.kind === "malformed") {
      this.deps.logger.error({ reason: translated.reason }, "vault answer malformed");
      return { kind: "failure", code: Code.Internal, message: "internal error" };
    }
    return this.sign(bindingHash, { case: "secrets", value: translated.result });
  }

  private async executeCapability(call: CapabilityCall, bindingHash: Uint8Array, options: CallOptions): Promise<RelayOutcome> {
    const { signal } = options;
    let response;
    try {
      response = await this.deps.capability.execute(call, options);
    } catch (err) {
      const gone = abortedCall(signal, options, err);
      if (gone !== undefined) return gone;
      // The registry is shared by the DON, so "no such capability" and "bad input" are the same
      // answer on every honest node: signed, like upstream's user errors.
      const error = ConnectError.from(err);
      if (error.code === Code.NotFound) {
        return this.reject(bindingHash, Code.NotFound, `capability not found: ${call.capabilityId}`);
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

  private record(method: RelayMethodName, outcome: RelayOutcome, seconds: number): void {
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
