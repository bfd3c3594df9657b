/**
 * `RelayNode.GetSecrets` / `ExecuteCapability`: the same decision path as the gateway stream, for
 * direct callers. A result comes back with a certificate holding this node's one signature; a signed
 * RelayError becomes a ConnectError with that code and message plus a RelayErrorDetail carrying the
 * signed error, so the caller can check who said so; a node-local failure is a plain ConnectError
 * with no detail.
 */
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ExecuteCapabilityResponseSchema,
  GetSecretsResponseSchema,
  QuorumCertificateSchema,
  RelayErrorDetailSchema,
  type ExecuteCapabilityResponse,
  type GetSecretsResponse,
  type QuorumCertificate,
  type RelayNode,
  type SignedAnswer,
} from "../../contract/index.js";
import type { RelayParams } from "../../contract/relay-hash.js";
import { Code, ConnectError, ccrError } from "../../domain/errors.js";
import type { RelayHandler } from "./relay-handler.js";
import { effectiveTimeoutMs, RequestScope } from "./request-scope.js";

function certificate(answer: SignedAnswer, signer: Uint8Array): QuorumCertificate {
  return create(QuorumCertificateSchema, {
    resultHash: answer.resultHash,
    signatures: [{ signer, signature: answer.signature }],
  });
}

export function createRelayNodeService(
  handler: RelayHandler,
  nodePublicKey: Uint8Array,
  maxRequestTimeoutMs: number,
): ServiceImpl<typeof RelayNode> {
  async function answer(params: RelayParams, ctx: HandlerContext): Promise<SignedAnswer> {
    const timeoutMs = effectiveTimeoutMs(ctx.timeoutMs(), maxRequestTimeoutMs);
    const scope = new RequestScope(timeoutMs, ctx.signal);
    let outcome;
    try {
      outcome = await handler.handle(params, scope.signal, timeoutMs);
    } finally {
      scope.dispose();
    }
    switch (outcome.kind) {
      case "failure":
        throw ccrError(outcome.message, outcome.code);
      case "aborted":
        throw outcome.timedOut
          ? ccrError("relay node deadline exceeded", Code.DeadlineExceeded)
          : ccrError("request canceled", Code.Canceled);
      case "signed": {
        const result = outcome.answer.result;
        if (result.case === "error") {
          throw new ConnectError(result.value.message, result.value.code as Code, undefined, [
            {
              desc: RelayErrorDetailSchema,
              value: { error: result.value, certificate: certificate(outcome.answer, nodePublicKey) },
            },
          ]);
        }
        return outcome.answer;
      }
    }
  }

  return {
    async getSecrets(req, ctx): Promise<GetSecretsResponse> {
      const signed = await answer({ case: "getSecrets", value: req }, ctx);
      if (signed.result.case !== "secrets") throw ccrError("internal error", Code.Internal);
      return create(GetSecretsResponseSchema, { result: signed.result.value, certificate: certificate(signed, nodePublicKey) });
    },
    async executeCapability(req, ctx): Promise<ExecuteCapabilityResponse> {
      const signed = await answer({ case: "executeCapability", value: req }, ctx);
      if (signed.result.case !== "capability") throw ccrError("internal error", Code.Internal);
      return create(ExecuteCapabilityResponseSchema, {
        result: signed.result.value,
        certificate: certificate(signed, nodePublicKey),
      });
    },
  };
}
