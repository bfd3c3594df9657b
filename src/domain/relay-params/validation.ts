/**
 * Pure validation and normalization of relay params (`confidential.secrets.get`,
 * `confidential.capability.execute`), with upstream's messages (chainlink-common confidentialrelay
 * `Validate()`, reference §2.4) where the field exists upstream.
 *
 * Every relay node runs these checks on every request and signs the first failure as a RelayError,
 * so they must be deterministic: the same request gives the same message on every honest node. The
 * messages name the field and what is expected; they never echo secret material (a request holds
 * none: keys, ids and public keys only).
 */
import type { EnclaveConfig, ExecuteCapabilityRequest, GetSecretsRequest, RelayParams } from "../../contract/index.js";
import { effectiveNamespace } from "../relay-layouts.js";
import { isAddress, toChecksumAddress, OWNER_FORMAT_MESSAGE } from "../ethereum/address.js";

/** Upstream gateway limit on request ids ("request ID is too long: N. max is 200 characters"). */
export const MAX_REQUEST_ID_LENGTH = 200;
/** Bound on the other free-form ids (workflow, execution, org, reference, capability). */
export const MAX_ID_LENGTH = 256;
/** relay.proto: "The secrets, 1–64 entries." */
export const MAX_SECRETS_PER_REQUEST = 64;
/** X25519 public key. */
export const ENCLAVE_PUBLIC_KEY_LENGTH = 32;
/** ed25519 public key (enclave config signers). */
export const SIGNER_KEY_LENGTH = 32;
/** A DON larger than this is a configuration error, not a request to process. */
export const MAX_ENCLAVE_CONFIG_SIGNERS = 256;

/** One requested secret with its effective namespace ("main" when unset). */
export interface NormalizedSecretId {
  readonly key: string;
  readonly namespace: string;
}

export interface ValidSecretsParams {
  readonly kind: "secrets";
  readonly request: GetSecretsRequest;
  /** The owner in EIP-55 form. */
  readonly owner: string;
  /** In request order. */
  readonly secrets: readonly NormalizedSecretId[];
  readonly enclaveConfig: EnclaveConfig;
}

export interface ValidCapabilityParams {
  readonly kind: "capability";
  readonly request: ExecuteCapabilityRequest;
  /** The owner in EIP-55 form. */
  readonly owner: string;
  /** `reference_id`, or the request id when it is empty. */
  readonly referenceId: string;
  readonly enclaveConfig: EnclaveConfig;
}

export type ParamsVerdict =
  | { readonly kind: "ok"; readonly params: ValidSecretsParams | ValidCapabilityParams }
  | { readonly kind: "invalid"; readonly message: string };

function invalid(message: string): { kind: "invalid"; message: string } {
  return { kind: "invalid", message };
}

function checkId(name: string, value: string, max: number): string | null {
  if (value === "") return `${name} is required`;
  if (value.length > max) return `${name} must be at most ${max} characters`;
  return null;
}

/** Checks shared by both methods, in field order; returns the EIP-55 owner or a message. */
function checkCommon(req: GetSecretsRequest | ExecuteCapabilityRequest): { owner: string } | { message: string } {
  const problem =
    checkId("request_id", req.requestId, MAX_REQUEST_ID_LENGTH) ??
    checkId("workflow_id", req.workflowId, MAX_ID_LENGTH) ??
    (req.owner === "" ? "owner is required" : isAddress(req.owner) ? null : OWNER_FORMAT_MESSAGE) ??
    checkId("execution_id", req.executionId, MAX_ID_LENGTH) ??
    (req.orgId.length > MAX_ID_LENGTH ? `org_id must be at most ${MAX_ID_LENGTH} characters` : null);
  if (problem !== null) return { message: problem };
  return { owner: checksummed(req.owner) };
}

/**
 * EIP-55 costs a pure-JS keccak-256 (~10 µs unloaded) and every node checks every request, while a
 * session repeats one owner: remember the last few hundred owners (bounded; oldest evicted).
 */
const CHECKSUM_CACHE_SIZE = 512;
const checksumCache = new Map<string, string>();

function checksummed(owner: string): string {
  let out = checksumCache.get(owner);
  if (out === undefined) {
    out = toChecksumAddress(owner);
    if (checksumCache.size >= CHECKSUM_CACHE_SIZE) checksumCache.delete(checksumCache.keys().next().value!);
    checksumCache.set(owner, out);
  }
  return out;
}

/**
 * Shape of the claimed DON config (the comparison with the node's own is an authorization step,
 * `checkEnclaveConfig`). Upstream requires it on the relay although the wire field is optional.
 */
function checkEnclaveConfigShape(config: EnclaveConfig | undefined): string | null {
  if (config === undefined) return "enclave_config is required";
  if (config.signers.length === 0) return "enclave_config.signers must be non-empty";
  if (config.signers.length > MAX_ENCLAVE_CONFIG_SIGNERS) {
    return `enclave_config.signers must have at most ${MAX_ENCLAVE_CONFIG_SIGNERS} entries`;
  }
  for (let i = 0; i < config.signers.length; i++) {
    const signer = config.signers[i]!;
    if (signer.length === 0) return `enclave_config.signers[${i}] is empty`;
    if (signer.length !== SIGNER_KEY_LENGTH) {
      return `enclave_config.signers[${i}] must be a ${SIGNER_KEY_LENGTH}-byte ed25519 public key`;
    }
  }
  return null;
}

function checkTimestamp(timestampMs: bigint): string | null {
  return timestampMs <= 0n ? "timestamp_ms is required" : null;
}

export function validateSecretsParams(req: GetSecretsRequest): ParamsVerdict {
  const common = checkCommon(req);
  if ("message" in common) return invalid(common.message);
  if (req.secrets.length === 0) return invalid("secrets must be non-empty");
  if (req.secrets.length > MAX_SECRETS_PER_REQUEST) {
    return invalid(`secrets must have at most ${MAX_SECRETS_PER_REQUEST} entries`);
  }
  const secrets: NormalizedSecretId[] = new Array(req.secrets.length);
  for (let i = 0; i < req.secrets.length; i++) {
    const s = req.secrets[i]!;
    if (s.key === "") return invalid(`secrets[${i}].key is required`);
    // Key/namespace syntax is the Vault's to judge: a malformed id is a per-secret INVALID_ID
    // result there, so one bad id does not fail the others.
    secrets[i] = { key: s.key, namespace: effectiveNamespace(s) };
  }
  if (req.enclavePublicKey.length === 0) return invalid("enclave_public_key is required");
  if (req.enclavePublicKey.length !== ENCLAVE_PUBLIC_KEY_LENGTH) {
    return invalid(`enclave_public_key must be a ${ENCLAVE_PUBLIC_KEY_LENGTH}-byte X25519 public key`);
  }
  const problem = checkEnclaveConfigShape(req.enclaveConfig) ?? checkTimestamp(req.timestampMs);
  if (problem !== null) return invalid(problem);
  return {
    kind: "ok",
    params: { kind: "secrets", request: req, owner: common.owner, secrets, enclaveConfig: req.enclaveConfig! },
  };
}

export function validateCapabilityParams(req: ExecuteCapabilityRequest): ParamsVerdict {
  const common = checkCommon(req);
  if ("message" in common) return invalid(common.message);
  const problem =
    (req.referenceId.length > MAX_ID_LENGTH ? `reference_id must be at most ${MAX_ID_LENGTH} characters` : null) ??
    checkId("capability_id", req.capabilityId, MAX_ID_LENGTH) ??
    (req.payload.length === 0 ? "payload is required" : null) ??
    checkEnclaveConfigShape(req.enclaveConfig) ??
    checkTimestamp(req.timestampMs);
  if (problem !== null) return invalid(problem);
  return {
    kind: "ok",
    params: {
      kind: "capability",
      request: req,
      owner: common.owner,
      referenceId: req.referenceId === "" ? req.requestId : req.referenceId,
      enclaveConfig: req.enclaveConfig!,
    },
  };
}

export function validateRelayParams(params: RelayParams): ParamsVerdict {
  return params.case === "getSecrets" ? validateSecretsParams(params.value) : validateCapabilityParams(params.value);
}
