/**
 * The JSON-RPC compatibility mapping (docs/relay-protocol.md §6): upstream JSON params
 * (chainlink-relay.md §2.3–2.4, snake_case keys) → ccr request messages, and ccr answers → JSON.
 *
 * Upstream encodings are kept where they exist: `enclave_public_key` is hex, `attestation`,
 * `payload` and `enclave_config.signers` are standard base64. ccr's additions follow the same style:
 * `timestamp_ms` (number or decimal string), `session_signature` (base64) and `authorization`
 * ({signatures:[{signer, signature}]}, base64). The JSON-RPC `id` is the request id. Upstream keys ccr
 * does not use (`enclave_config.master_public_key`, `enclave_config.t`, `signed_compute_requests`)
 * are accepted and ignored, so an upstream enclave's params parse.
 */
import { create, toJson } from "@bufbuild/protobuf";
import {
  CapabilityResultSchema,
  EnclaveConfigSchema,
  WorkflowAuthorizationSchema,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  QuorumCertificateSchema,
  RelayErrorDetailSchema,
  RelayMethod,
  SecretsResultSchema,
  type EnclaveConfig,
  type QuorumCertificate,
  type RelayErrorDetail,
  type RelayMethodName,
  type RelayParams,
  type RelayResult,
  type WorkflowAuthorization,
} from "../../contract/index.js";

export type ParamsResult = { readonly kind: "ok"; readonly params: RelayParams } | { readonly kind: "invalid"; readonly reason: string };

class InvalidParams extends Error {}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fail(reason: string): never {
  throw new InvalidParams(reason);
}

function str(obj: JsonObject, key: string, path = key): string {
  const v = obj[key];
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") fail(`${path} must be a string`);
  return v;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

function b64(v: Json | undefined, path: string): Uint8Array {
  if (v === undefined || v === null || v === "") return new Uint8Array(0);
  if (typeof v !== "string" || !BASE64.test(v)) fail(`${path} must be standard base64`);
  return new Uint8Array(Buffer.from(v, "base64"));
}

function hexBytes(v: Json | undefined, path: string): Uint8Array {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (typeof v !== "string") fail(`${path} must be hex-encoded`);
  const h = v.startsWith("0x") || v.startsWith("0X") ? v.slice(2) : v;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) fail(`${path} must be hex-encoded`);
  return new Uint8Array(Buffer.from(h, "hex"));
}

function timestamp(v: Json | undefined): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === "string" && /^\d{1,19}$/.test(v)) {
    const n = BigInt(v);
    if (n <= 0x7fffffffffffffffn) return n;
  }
  return fail("timestamp_ms must be a non-negative integer (ms since the Unix epoch)");
}

function enclaveConfig(v: Json | undefined): EnclaveConfig | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail("enclave_config must be an object");
  const signers = v["signers"];
  if (signers !== undefined && signers !== null && !Array.isArray(signers)) fail("enclave_config.signers must be an array");
  const f = v["f"];
  if (f !== undefined && f !== null && !(typeof f === "number" && Number.isInteger(f) && f >= 0 && f <= 0xffffffff)) {
    fail("enclave_config.f must be a non-negative integer");
  }
  return create(EnclaveConfigSchema, {
    signers: (signers ?? []).map((s, i) => b64(s, `enclave_config.signers[${i}]`)),
    f: typeof f === "number" ? f : 0,
  });
}

function authorization(v: Json | undefined): WorkflowAuthorization | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) fail("authorization must be an object");
  const sigs = v["signatures"];
  if (sigs !== undefined && sigs !== null && !Array.isArray(sigs)) fail("authorization.signatures must be an array");
  return create(WorkflowAuthorizationSchema, {
    signatures: (sigs ?? []).map((s, i) => {
      if (!isObject(s)) fail(`authorization.signatures[${i}] must be an object`);
      return {
        signer: b64(s["signer"], `authorization.signatures[${i}].signer`),
        signature: b64(s["signature"], `authorization.signatures[${i}].signature`),
      };
    }),
  });
}

function attestation(p: JsonObject): { document: Uint8Array; sessionSignature: Uint8Array } | undefined {
  const document = b64(p["attestation"], "attestation");
  const sessionSignature = b64(p["session_signature"], "session_signature");
  if (document.length === 0 && sessionSignature.length === 0) return undefined;
  return { document, sessionSignature };
}

function secrets(v: Json | undefined): { key: string; namespace?: string }[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail("secrets must be an array");
  return v.map((s, i) => {
    if (!isObject(s)) fail(`secrets[${i}] must be an object`);
    const key = str(s, "key", `secrets[${i}].key`);
    const namespace = str(s, "namespace", `secrets[${i}].namespace`);
    return namespace === "" ? { key } : { key, namespace };
  });
}

/** Maps a JSON-RPC call's params to the relay request; `requestId` is the JSON-RPC id. */
export function paramsFromJsonRpc(method: RelayMethodName, requestId: string, params: unknown): ParamsResult {
  try {
    if (!isObject(params)) fail("params must be an object");
    const common = {
      requestId,
      workflowId: str(params, "workflow_id"),
      owner: str(params, "owner"),
      executionId: str(params, "execution_id"),
      orgId: str(params, "org_id"),
      enclaveConfig: enclaveConfig(params["enclave_config"]),
      timestampMs: timestamp(params["timestamp_ms"]),
      attestation: attestation(params),
      authorization: authorization(params["authorization"]),
    };
    if (method === RelayMethod.getSecrets) {
      const value = create(GetSecretsRequestSchema, {
        ...common,
        secrets: secrets(params["secrets"]),
        enclavePublicKey: hexBytes(params["enclave_public_key"], "enclave_public_key"),
      });
      return { kind: "ok", params: { case: "getSecrets", value } };
    }
    const value = create(ExecuteCapabilityRequestSchema, {
      ...common,
      referenceId: str(params, "reference_id"),
      capabilityId: str(params, "capability_id"),
      payload: b64(params["payload"], "payload"),
    });
    return { kind: "ok", params: { case: "executeCapability", value } };
  } catch (e) {
    if (e instanceof InvalidParams) return { kind: "invalid", reason: e.message };
    throw e;
  }
}

const JSON_OPTIONS = { useProtoFieldName: true } as const;

export function certificateToJson(certificate: QuorumCertificate): Json {
  return toJson(QuorumCertificateSchema, certificate, JSON_OPTIONS) as Json;
}

/** The JSON-RPC `result` of a successful relay: `{result, certificate}` in proto JSON with snake_case keys. */
export function answerToJson(result: Exclude<RelayResult, { case: "error" }>, certificate: QuorumCertificate): JsonObject {
  const r =
    result.case === "secrets"
      ? toJson(SecretsResultSchema, result.value, JSON_OPTIONS)
      : toJson(CapabilityResultSchema, result.value, JSON_OPTIONS);
  return { result: r as Json, certificate: certificateToJson(certificate) };
}

export function relayErrorDetailToJson(detail: RelayErrorDetail): Json {
  return toJson(RelayErrorDetailSchema, detail, JSON_OPTIONS) as Json;
}
