/**
 * Well-formed relay requests (the shape a real enclave sends), for the fuzz cases that corrupt one
 * part of an otherwise valid request: its attestation document, one JSON-RPC param, one field.
 * Built from the deployment: the DON's members and F (so `enclave_config` matches the nodes' own
 * and a request gets as far as the attestation check), a fresh timestamp, and, when asked, the
 * workflow node's real authorization.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  authorizationPayload,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  sdk,
  WorkflowAuthorizationSchema,
  type ExecuteCapabilityRequest,
  type GetSecretsRequest,
  type RelayParams,
  type WorkflowAuthorization,
} from "../../../src/contract/index.js";
import type { Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import type { Prng } from "./prng.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

export interface RelayContext {
  /** The DON members' ed25519 keys, in member order. */
  readonly signers: readonly Uint8Array[];
  readonly f: number;
  /** The deployment's workflow node key (signs execution authorizations). */
  readonly workflowNode: Ed25519Signer;
  readonly owner: string;
}

function authorizationFor(ctx: RelayContext, rng: Prng, owner: string, workflowId: string, executionId: string): WorkflowAuthorization | undefined {
  switch (rng.below(4)) {
    case 0:
      return undefined;
    case 1:
      return create(WorkflowAuthorizationSchema, { signatures: [{ signer: rng.bytes(32), signature: rng.bytes(64) }] });
    default:
      return create(WorkflowAuthorizationSchema, {
        signatures: [{ signer: ctx.workflowNode.publicKey, signature: ctx.workflowNode.sign(authorizationPayload({ owner, workflowId, executionId })) }],
      });
  }
}

/** A valid-looking request of either method, without its attestation. */
export function wellFormedRelayParams(ctx: RelayContext, rng: Prng): RelayParams {
  const workflowId = hex(rng.bytes(32));
  const executionId = hex(rng.bytes(32));
  const common = {
    requestId: `fz-${hex(rng.bytes(12))}`,
    workflowId,
    owner: ctx.owner,
    executionId,
    orgId: "",
    enclaveConfig: { signers: [...ctx.signers], f: ctx.f },
    timestampMs: BigInt(Date.now()),
    ...(() => {
      const authorization = authorizationFor(ctx, rng, ctx.owner, workflowId, executionId);
      return authorization === undefined ? {} : { authorization };
    })(),
  };
  if (rng.chance(0.5)) {
    const value: GetSecretsRequest = create(GetSecretsRequestSchema, {
      ...common,
      secrets: [{ key: rng.pick(["API_KEY", "missing", "k"]), namespace: rng.pick(["", "main", "fuzz"]) }],
      enclavePublicKey: rng.bytes(32),
    });
    return { case: "getSecrets", value };
  }
  const call = create(sdk.CapabilityRequestSchema, { id: "echo@1.0.0", method: "Execute", payload: new TextEncoder().encode(JSON.stringify({ fuzz: rng.u32() })) });
  const value: ExecuteCapabilityRequest = create(ExecuteCapabilityRequestSchema, {
    ...common,
    referenceId: `ref-${rng.u32()}`,
    capabilityId: "echo@1.0.0",
    payload: toBinary(sdk.CapabilityRequestSchema, call),
  });
  return { case: "executeCapability", value };
}

/** The JSON-RPC params (upstream snake_case keys and encodings) of a relay request. */
export function jsonRpcParams(params: RelayParams): Record<string, unknown> {
  const r = params.value;
  const out: Record<string, unknown> = {
    workflow_id: r.workflowId,
    owner: r.owner,
    execution_id: r.executionId,
    org_id: r.orgId,
    timestamp_ms: Number(r.timestampMs),
  };
  if (r.enclaveConfig !== undefined) out["enclave_config"] = { signers: r.enclaveConfig.signers.map(b64), f: r.enclaveConfig.f };
  if (r.attestation !== undefined) {
    out["attestation"] = b64(r.attestation.document);
    if (r.attestation.sessionSignature.length > 0) out["session_signature"] = b64(r.attestation.sessionSignature);
  }
  if (r.authorization !== undefined) {
    out["authorization"] = { signatures: r.authorization.signatures.map((s) => ({ signer: b64(s.signer), signature: b64(s.signature) })) };
  }
  if (params.case === "getSecrets") {
    out["secrets"] = params.value.secrets.map((s) => (s.namespace === undefined || s.namespace === "" ? { key: s.key } : { key: s.key, namespace: s.namespace }));
    out["enclave_public_key"] = hex(params.value.enclavePublicKey);
  } else {
    out["reference_id"] = params.value.referenceId;
    out["capability_id"] = params.value.capabilityId;
    out["payload"] = b64(params.value.payload);
  }
  return out;
}
