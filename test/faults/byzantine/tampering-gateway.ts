/**
 * Gateway clients for the enclave side of the Byzantine suite.
 *
 * `recordingGateway` passes every call to the real gateway untouched and records each certified
 * answer (for later replays).
 *
 * `tamperingGateway` models the worst case the enclave must survive: a lying gateway colluding with
 * the F Byzantine members (it holds their key). Every call still goes to the real gateway; the real
 * answer is then replaced, per call, by one forgery picked at random (seeded):
 *
 *   colluding-altered-result   altered result; certificate = Byzantine signature + one honest
 *                              signature (which is over the honest hash)
 *   double-signed              altered result; the Byzantine signature twice
 *   non-member-cosigner        altered result; Byzantine + a non-member's signature over its hash
 *   honest-sigs-wrong-hash     altered result; certificate names its hash but carries the honest
 *                              signatures
 *   altered-under-honest-cert  the honest certificate, the result changed by one byte
 *   replayed-certificate       an earlier request's honest result and certificate, verbatim
 *   short-certificate          the honest result with only F of its signatures
 *   dropped-certificate        the honest result, no certificate
 *   forged-relay-error         PermissionDenied with a RelayErrorDetail signed by the Byzantine
 *                              member twice
 *   relay-error-honest-sigs    PermissionDenied with a RelayErrorDetail carrying the honest
 *                              signatures (over the honest result's hash)
 *
 * Every forgery is a wrong answer: the enclave must refuse all of them.
 */
import { clone, create } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions, type Client } from "@connectrpc/connect";
import {
  answerSignaturePayload,
  CapabilityResultSchema,
  ExecuteCapabilityResponseSchema,
  GetSecretsResponseSchema,
  QuorumCertificateSchema,
  RelayErrorDetailSchema,
  relayBindingHash,
  relayResultHash,
  SecretsResultSchema,
  type ExecuteCapabilityRequest,
  type Gateway,
  type GetSecretsRequest,
  type NodeSignature,
  type QuorumCertificate,
  type RelayParams,
  type RelayResult,
} from "../../../src/contract/index.js";
import type { Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import { relayErrorResult } from "../../support/fake-nodes.js";
import type { Prng } from "../fuzz/prng.js";
import type { AnswerHistory } from "./answer-history.js";
import { alteredResult, NON_MEMBER } from "./byzantine-node.js";

export const TAMPER_MOVES = [
  "colluding-altered-result",
  "double-signed",
  "non-member-cosigner",
  "honest-sigs-wrong-hash",
  "altered-under-honest-cert",
  "replayed-certificate",
  "short-certificate",
  "dropped-certificate",
  "forged-relay-error",
  "relay-error-honest-sigs",
] as const;
export type TamperMove = (typeof TAMPER_MOVES)[number];

type GatewayClient = Client<typeof Gateway>;

/** The real gateway, with every certified answer recorded. */
export function recordingGateway(real: GatewayClient, history: AnswerHistory): GatewayClient {
  return {
    async getSecrets(req: GetSecretsRequest, options?: CallOptions) {
      const res = await real.getSecrets(req, options);
      if (res.result !== undefined && res.certificate !== undefined) {
        history.record({ requestId: req.requestId, result: { case: "secrets", value: res.result }, certificate: res.certificate });
      }
      return res;
    },
    async executeCapability(req: ExecuteCapabilityRequest, options?: CallOptions) {
      const res = await real.executeCapability(req, options);
      if (res.result !== undefined && res.certificate !== undefined) {
        history.record({ requestId: req.requestId, result: { case: "capability", value: res.result }, certificate: res.certificate });
      }
      return res;
    },
    connectNode: real.connectNode.bind(real),
  } as GatewayClient;
}

export interface TamperingGatewayOptions {
  /** The Byzantine member's key (the colluding gateway holds it). */
  readonly byzantine: Ed25519Signer;
  readonly f: number;
  readonly rng: Prng;
  readonly history: AnswerHistory;
}

export interface TamperingGateway {
  readonly client: GatewayClient;
  readonly played: Readonly<Record<TamperMove, number>>;
}

function sig(signer: Ed25519Signer, resultHash: Uint8Array): NodeSignature {
  return { $typeName: "ccr.v1.NodeSignature", signer: signer.publicKey, signature: signer.sign(answerSignaturePayload(resultHash)) };
}

function certificate(resultHash: Uint8Array, signatures: readonly NodeSignature[]): QuorumCertificate {
  return create(QuorumCertificateSchema, { resultHash, signatures: [...signatures] });
}

/** The result with one byte changed (a copy). */
function flipped(result: RelayResult): RelayResult {
  if (result.case === "capability") {
    const value = clone(CapabilityResultSchema, result.value);
    value.payload = value.payload.length === 0 ? new Uint8Array([1]) : Uint8Array.from(value.payload, (b, i) => (i === 0 ? b ^ 0x01 : b));
    return { case: "capability", value };
  }
  if (result.case === "secrets") {
    const value = clone(SecretsResultSchema, result.value);
    const first = value.secrets[0];
    if (first !== undefined && first.outcome.case === "encrypted") {
      const ct = first.outcome.value.ciphertext;
      first.outcome.value.ciphertext = ct.length === 0 ? new Uint8Array([1]) : Uint8Array.from(ct, (b, i) => (i === ct.length - 1 ? b ^ 0x80 : b));
    } else if (first !== undefined) {
      first.outcome = { case: "error", value: { $typeName: "ccr.v1.SecretError", kind: 0, message: "tampered" } };
    }
    return { case: "secrets", value };
  }
  return result;
}

type Forged = { readonly kind: "answer"; readonly result: RelayResult; readonly certificate: QuorumCertificate | undefined } | { readonly kind: "error"; readonly error: ConnectError };

export function tamperingGateway(real: GatewayClient, o: TamperingGatewayOptions): TamperingGateway {
  const played = Object.fromEntries(TAMPER_MOVES.map((m) => [m, 0])) as Record<TamperMove, number>;
  let salt = 1_000_000;

  const forge = (params: RelayParams, honest: RelayResult, honestCert: QuorumCertificate): Forged => {
    const bindingHash = relayBindingHash(params);
    let move = o.rng.pick(TAMPER_MOVES);
    const replay = move === "replayed-certificate" ? o.history.pick(o.rng, honest.case, params.value.requestId) : undefined;
    if (move === "replayed-certificate" && replay === undefined) move = "short-certificate";
    played[move]++;
    const altered = alteredResult(params, o.byzantine, ++salt);
    const alteredHash = relayResultHash(bindingHash, altered);
    const byzSig = sig(o.byzantine, alteredHash);
    const honestSigs = honestCert.signatures;
    switch (move) {
      case "colluding-altered-result":
        return { kind: "answer", result: altered, certificate: certificate(alteredHash, [byzSig, ...honestSigs.slice(0, 1)]) };
      case "double-signed":
        return { kind: "answer", result: altered, certificate: certificate(alteredHash, [byzSig, byzSig]) };
      case "non-member-cosigner":
        return { kind: "answer", result: altered, certificate: certificate(alteredHash, [byzSig, sig(NON_MEMBER, alteredHash)]) };
      case "honest-sigs-wrong-hash":
        return { kind: "answer", result: altered, certificate: certificate(alteredHash, honestSigs) };
      case "altered-under-honest-cert":
        return { kind: "answer", result: flipped(honest), certificate: honestCert };
      case "replayed-certificate":
        return { kind: "answer", result: replay!.result, certificate: replay!.certificate };
      case "short-certificate":
        return { kind: "answer", result: honest, certificate: certificate(honestCert.resultHash, honestSigs.slice(0, o.f)) };
      case "dropped-certificate":
        return { kind: "answer", result: honest, certificate: undefined };
      case "forged-relay-error":
      case "relay-error-honest-sigs": {
        const error = relayErrorResult(Code.PermissionDenied, "attestation: refused by F+1 nodes");
        if (error.case !== "error") throw new Error("unreachable");
        const errorHash = relayResultHash(bindingHash, error);
        const errSig = sig(o.byzantine, errorHash);
        const cert = move === "forged-relay-error" ? certificate(errorHash, [errSig, errSig]) : certificate(errorHash, honestSigs);
        const detail = create(RelayErrorDetailSchema, { error: error.value, certificate: cert });
        return { kind: "error", error: new ConnectError(error.value.message, Code.PermissionDenied, undefined, [{ desc: RelayErrorDetailSchema, value: detail }]) };
      }
    }
  };

  const client = {
    async getSecrets(req: GetSecretsRequest, options?: CallOptions) {
      const res = await real.getSecrets(req, options);
      if (res.result === undefined || res.certificate === undefined) return res;
      o.history.record({ requestId: req.requestId, result: { case: "secrets", value: res.result }, certificate: res.certificate });
      const forged = forge({ case: "getSecrets", value: req }, { case: "secrets", value: res.result }, res.certificate);
      if (forged.kind === "error") throw forged.error;
      if (forged.result.case !== "secrets") throw new Error(`forged a ${forged.result.case} result for GetSecrets`);
      return create(GetSecretsResponseSchema, { result: forged.result.value, ...(forged.certificate === undefined ? {} : { certificate: forged.certificate }) });
    },
    async executeCapability(req: ExecuteCapabilityRequest, options?: CallOptions) {
      const res = await real.executeCapability(req, options);
      if (res.result === undefined || res.certificate === undefined) return res;
      o.history.record({ requestId: req.requestId, result: { case: "capability", value: res.result }, certificate: res.certificate });
      const forged = forge({ case: "executeCapability", value: req }, { case: "capability", value: res.result }, res.certificate);
      if (forged.kind === "error") throw forged.error;
      if (forged.result.case !== "capability") throw new Error(`forged a ${forged.result.case} result for ExecuteCapability`);
      return create(ExecuteCapabilityResponseSchema, { result: forged.result.value, ...(forged.certificate === undefined ? {} : { certificate: forged.certificate }) });
    },
    connectNode: real.connectNode.bind(real),
  } as GatewayClient;
  return { client, played };
}
