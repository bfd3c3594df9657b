/**
 * The Connect implementation of `ccr.v1.Gateway`: thin adapters over RelayGateway.
 *
 * When F+1 nodes agree on a RelayError (invalid params, secret not found, attestation refused, …),
 * that error is the answer: its code and message, with a RelayErrorDetail (the error and its quorum
 * certificate) attached as a Connect error detail so the enclave can check who said so.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  Gateway,
  RelayErrorDetailSchema,
  type CapabilityResult,
  type ExecuteCapabilityResponse,
  type GetSecretsResponse,
  type RelayError,
  type RelayParams,
  type SecretsResult,
} from "../../contract/index.js";
import { ccrError } from "../../domain/errors.js";
import type { RelayAnswer, RelayCall, RelayGateway } from "./relay-gateway.js";

/** The Connect code for a node-agreed RelayError code (anything out of range becomes Unknown). */
export function relayErrorCode(code: number): Code {
  return Number.isInteger(code) && code >= 1 && code <= 16 ? (code as Code) : Code.Unknown;
}

/** The ConnectError for an agreed RelayError, carrying the RelayErrorDetail. */
export function relayErrorToConnect(error: RelayError, answer: RelayAnswer): ConnectError {
  const detail = create(RelayErrorDetailSchema, { error, certificate: answer.certificate });
  return new ConnectError(error.message, relayErrorCode(error.code), undefined, [{ desc: RelayErrorDetailSchema, value: detail }]);
}

function wrongKind(): ConnectError {
  // F+1 members signed a result of the other method's kind: impossible for honest nodes.
  return ccrError("nodes agreed on a result of the wrong kind for this method", Code.Internal);
}

export function secretsAnswer(answer: RelayAnswer): SecretsResult {
  if (answer.result.case === "secrets") return answer.result.value;
  if (answer.result.case === "error") throw relayErrorToConnect(answer.result.value, answer);
  throw wrongKind();
}

export function capabilityAnswer(answer: RelayAnswer): CapabilityResult {
  if (answer.result.case === "capability") return answer.result.value;
  if (answer.result.case === "error") throw relayErrorToConnect(answer.result.value, answer);
  throw wrongKind();
}

function callOf(ctx: HandlerContext): RelayCall {
  return { signal: ctx.signal, clientTimeoutMs: ctx.timeoutMs() };
}

export function gatewayServiceImpl(gateway: RelayGateway): ServiceImpl<typeof Gateway> {
  return {
    async getSecrets(req, ctx): Promise<GetSecretsResponse> {
      const params: RelayParams = { case: "getSecrets", value: req };
      const answer = await gateway.relay(params, callOf(ctx));
      return { $typeName: "ccr.v1.GetSecretsResponse", result: secretsAnswer(answer), certificate: answer.certificate };
    },
    async executeCapability(req, ctx): Promise<ExecuteCapabilityResponse> {
      const params: RelayParams = { case: "executeCapability", value: req };
      const answer = await gateway.relay(params, callOf(ctx));
      return { $typeName: "ccr.v1.ExecuteCapabilityResponse", result: capabilityAnswer(answer), certificate: answer.certificate };
    },
    connectNode(requests, ctx) {
      return gateway.connectNode(requests, ctx);
    },
  };
}
