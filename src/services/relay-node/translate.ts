/**
 * Deterministic translation of Vault and Capability answers into relay results. Honest nodes get
 * byte-identical answers from the Vault and the Capability service (both memoize per logical
 * request), and this translation depends on nothing else, so honest nodes sign the same result.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  CapabilityResultSchema,
  SecretErrorKind,
  SecretsResultSchema,
  type SecretResultSchema,
  sdk,
  type CapabilityExecuteResponse,
  type CapabilityResult,
  type SecretsResult,
  type VaultGetSecretsResponse,
} from "../../contract/index.js";
import { effectiveNamespace } from "../../contract/relay-hash.js";
import type { NormalizedSecretId } from "../../domain/relay-params/validation.js";

const MAX_VAULT_MESSAGE_LENGTH = 200;

export type SecretsTranslation =
  | { readonly kind: "ok"; readonly result: SecretsResult }
  /** The Vault answered something this node cannot vouch for; `reason` is for logs only. */
  | { readonly kind: "malformed"; readonly reason: string };

function bounded(message: string): string {
  return message.length <= MAX_VAULT_MESSAGE_LENGTH ? message : `${message.slice(0, MAX_VAULT_MESSAGE_LENGTH - 2)}..`;
}

/**
 * One entry per requested secret, in REQUEST order, each naming the secret asked for (namespace
 * filled in). A per-secret failure stays a per-item error: NOT_FOUND with a message the node builds
 * itself (`secret not found: <namespace>/<key>`), INVALID_ID with the Vault's explanation. Anything
 * else (count or id mismatch, an unset outcome, an unknown kind) is a Vault fault, not an answer.
 */
export function translateVaultResponse(
  requested: readonly NormalizedSecretId[],
  response: VaultGetSecretsResponse,
): SecretsTranslation {
  if (response.results.length !== requested.length) {
    return { kind: "malformed", reason: `vault returned ${response.results.length} results for ${requested.length} secrets` };
  }
  const secrets: MessageInitShape<typeof SecretResultSchema>[] = new Array(requested.length);
  for (let i = 0; i < requested.length; i++) {
    const want = requested[i]!;
    const got = response.results[i]!;
    if (got.id === undefined || got.id.key !== want.key || effectiveNamespace(got.id) !== want.namespace) {
      return { kind: "malformed", reason: `vault result ${i} names another secret` };
    }
    const id = { key: want.key, namespace: want.namespace };
    const outcome = got.outcome;
    if (outcome.case === "encrypted") {
      secrets[i] = {
        id,
        outcome: {
          case: "encrypted",
          value: { encapsulatedKey: outcome.value.encapsulatedKey, ciphertext: outcome.value.ciphertext },
        },
      };
    } else if (outcome.case === "error" && outcome.value.kind === SecretErrorKind.NOT_FOUND) {
      secrets[i] = {
        id,
        outcome: {
          case: "error",
          value: { kind: SecretErrorKind.NOT_FOUND, message: `secret not found: ${want.namespace}/${want.key}` },
        },
      };
    } else if (outcome.case === "error" && outcome.value.kind === SecretErrorKind.INVALID_ID) {
      const message = outcome.value.message === "" ? `invalid secret id: ${want.namespace}/${want.key}` : bounded(outcome.value.message);
      secrets[i] = {
        id,
        outcome: { case: "error", value: { kind: SecretErrorKind.INVALID_ID, message } },
      };
    } else {
      return { kind: "malformed", reason: `vault result ${i} has no usable outcome` };
    }
  }
  // `create` turns the plain init shapes into messages (one pass, no copies of the byte fields).
  return { kind: "ok", result: create(SecretsResultSchema, { secrets }) };
}

/**
 * The capability's answer as a relay result. A capability failure is part of the answer (upstream
 * returns it in `result.error`). Otherwise `payload` is the serialized
 * `ccr.sdk.v1.CapabilityResponse{payload}` with the capability's bytes kept verbatim inside. A
 * message with one bytes field set has exactly one encoding, `0x0a ‖ varint(len) ‖ bytes` — no map,
 * no repeated field, no unknown field — so honest nodes produce identical bytes (upstream CL112-05
 * needed `Deterministic: true` because its payload was an Any holding maps).
 */
export function translateCapabilityResponse(response: CapabilityExecuteResponse): CapabilityResult {
  if (response.error !== "") return create(CapabilityResultSchema, { error: response.error });
  return create(CapabilityResultSchema, { payload: encodeCapabilityResponsePayload(response.payload) });
}

/**
 * `ccr.sdk.v1.CapabilityResponse{payload: bytes}` (field 1, wire type 2), encoded directly: exactly
 * what protobuf-es `toBinary` produces (the unit test checks both ways), without the reflection
 * cost on the per-request path.
 */
export function encodeCapabilityResponsePayload(bytes: Uint8Array): Uint8Array {
  let len = bytes.length;
  let varintBytes = 1;
  while (len >= 0x80) {
    len >>>= 7;
    varintBytes++;
  }
  const out = new Uint8Array(1 + varintBytes + bytes.length);
  out[0] = 0x0a; // (1 << 3) | 2
  let n = bytes.length;
  let i = 1;
  while (n >= 0x80) {
    out[i++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[i++] = n;
  out.set(bytes, i);
  return out;
}
