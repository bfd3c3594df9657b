/**
 * The relay's hash and signature layouts (docs/relay-protocol.md has the same, with test vectors).
 *
 * - binding hash: what the enclave's attestation binds to (user_data, or the session signature). It
 *   covers the method, every request param except the attestation itself, the request id and the
 *   timestamp — explicit, length-prefixed and domain-separated (the upstream CL112-14 fix).
 * - result hash: binds an answer to the request's binding hash, so a signature over one request's
 *   answer is worthless for any other request.
 * - answer payload: what a relay node's ed25519 key signs for a result hash.
 * - handshake payload: what a node signs to open its gateway stream.
 * - authorization payload: what the workflow node signs to authorize an execution.
 */
import { createHash } from "node:crypto";
import type {
  EnclaveConfig,
  ExecuteCapabilityRequest,
  GetSecretsRequest,
  WorkflowAuthorization,
} from "../../gen/ccr/v1/relay_pb.js";
import type { SignedAnswer } from "../../gen/ccr/v1/gateway_pb.js";
import type { SecretResult } from "../../gen/ccr/v1/secrets_pb.js";
import { CanonicalWriter } from "../domain/canonical.js";
import { DEFAULT_NAMESPACE, effectiveNamespace } from "../domain/relay-layouts.js";

export {
  DEFAULT_NAMESPACE,
  answerSignaturePayload,
  authorizationPayload,
  effectiveNamespace,
  handshakePayload,
} from "../domain/relay-layouts.js";

/** Upstream method names (chainlink-common confidentialrelay types.go). */
export const RelayMethod = Object.freeze({
  getSecrets: "confidential.secrets.get",
  executeCapability: "confidential.capability.execute",
} as const);
export type RelayMethodName = (typeof RelayMethod)[keyof typeof RelayMethod];

/** A relay request's params, shaped as the `RelayRequest.params` oneof. */
export type RelayParams =
  | { case: "getSecrets"; value: GetSecretsRequest }
  | { case: "executeCapability"; value: ExecuteCapabilityRequest };

/** A signed answer's result, shaped as the `SignedAnswer.result` oneof (set). */
export type RelayResult = Exclude<SignedAnswer["result"], { case: undefined }>;

export function relayMethodOf(params: RelayParams): RelayMethodName {
  return params.case === "getSecrets" ? RelayMethod.getSecrets : RelayMethod.executeCapability;
}

function sha256(data: Uint8Array): Uint8Array {
  return createHash("sha256").update(data).digest();
}

function writeConfig(w: CanonicalWriter, config: EnclaveConfig | undefined): void {
  if (config === undefined) {
    w.u8(0);
    return;
  }
  // Signers are a set: sorted bytewise, so order on the wire does not change the hash.
  const signers = [...config.signers].sort((a, b) => Buffer.compare(a, b));
  w.u8(1).u64(config.f).u64(signers.length);
  for (const s of signers) w.bytes(s);
}

function writeAuthorization(w: CanonicalWriter, auth: WorkflowAuthorization | undefined): void {
  const sigs = auth?.signatures ?? [];
  w.u64(sigs.length);
  for (const s of sigs) w.bytes(s.signer).bytes(s.signature);
}

/** Binding hash of a `confidential.secrets.get` request (32 bytes). */
export function secretsBindingHash(req: GetSecretsRequest): Uint8Array {
  const w = new CanonicalWriter("ccr.v1.relay.binding")
    .str(RelayMethod.getSecrets)
    .str(req.requestId)
    .u64(req.timestampMs)
    .str(req.workflowId)
    .str(req.owner)
    .str(req.executionId)
    .str(req.orgId)
    .u64(req.secrets.length);
  for (const s of req.secrets) w.str(s.key).str(effectiveNamespace(s));
  w.bytes(req.enclavePublicKey);
  writeConfig(w, req.enclaveConfig);
  writeAuthorization(w, req.authorization);
  return sha256(w.finish());
}

/** Binding hash of a `confidential.capability.execute` request (32 bytes). */
export function capabilityBindingHash(req: ExecuteCapabilityRequest): Uint8Array {
  const w = new CanonicalWriter("ccr.v1.relay.binding")
    .str(RelayMethod.executeCapability)
    .str(req.requestId)
    .u64(req.timestampMs)
    .str(req.workflowId)
    .str(req.owner)
    .str(req.executionId)
    .str(req.orgId)
    .str(req.referenceId)
    .str(req.capabilityId)
    .bytes(req.payload);
  writeConfig(w, req.enclaveConfig);
  writeAuthorization(w, req.authorization);
  return sha256(w.finish());
}

export function relayBindingHash(params: RelayParams): Uint8Array {
  return params.case === "getSecrets"
    ? secretsBindingHash(params.value)
    : capabilityBindingHash(params.value);
}

function writeSecretResult(w: CanonicalWriter, r: SecretResult): void {
  w.str(r.id?.key ?? "").str(r.id ? effectiveNamespace(r.id) : DEFAULT_NAMESPACE);
  switch (r.outcome.case) {
    case "encrypted":
      w.u8(1).bytes(r.outcome.value.encapsulatedKey).bytes(r.outcome.value.ciphertext);
      break;
    case "error":
      w.u8(2).u64(r.outcome.value.kind).str(r.outcome.value.message);
      break;
    default:
      w.u8(0);
  }
}

/**
 * Result hash (32 bytes): SHA-256 over the domain, the request's binding hash and the result's
 * canonical encoding. Secret entries keep request order (the order is part of the answer).
 */
export function relayResultHash(bindingHash: Uint8Array, result: RelayResult): Uint8Array {
  const w = new CanonicalWriter("ccr.v1.relay.result").bytes(bindingHash);
  switch (result.case) {
    case "secrets":
      w.u8(1).u64(result.value.secrets.length);
      for (const s of result.value.secrets) writeSecretResult(w, s);
      break;
    case "capability":
      w.u8(2).bytes(result.value.payload).str(result.value.error);
      break;
    case "error":
      w.u8(3).u64(result.value.code).str(result.value.message);
      break;
  }
  return sha256(w.finish());
}
