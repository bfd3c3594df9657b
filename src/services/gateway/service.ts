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
  type ExecuteCapabilityRequest,
  type ExecuteCapabilityResponse,
  type GetSecretsRequest,
  type GetSecretsResponse,
  type RelayError,
  type SecretsResult,
} from "../../contract/index.js";
import { ccrError } from "../../domain/errors.js";
import { leanBidi, type LeanBidiRoute } from "../../transport/lean-stream.js";
import { leanUnaryReplying, type LeanUnaryCall, type LeanUnaryRoute } from "../../transport/lean-unary.js";
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

function callOf(ctx: Pick<HandlerContext, "signal" | "timeoutMs"> | LeanUnaryCall): RelayCall {
  return { signal: ctx.signal, clientTimeoutMs: ctx.timeoutMs() };
}

// Not async functions: an async frame would hold the request (and the body it was decoded from) for
// as long as the relay is in flight.
function secretsResponse(answer: RelayAnswer): GetSecretsResponse {
  return { $typeName: "ccr.v1.GetSecretsResponse", result: secretsAnswer(answer), certificate: answer.certificate };
}

function capabilityResponse(answer: RelayAnswer): ExecuteCapabilityResponse {
  return { $typeName: "ccr.v1.ExecuteCapabilityResponse", result: capabilityAnswer(answer), certificate: answer.certificate };
}

function getSecrets(gateway: RelayGateway, req: GetSecretsRequest, call: RelayCall): Promise<GetSecretsResponse> {
  return gateway.relay({ case: "getSecrets", value: req }, call).then(secretsResponse);
}

function executeCapability(gateway: RelayGateway, req: ExecuteCapabilityRequest, call: RelayCall): Promise<ExecuteCapabilityResponse> {
  return gateway.relay({ case: "executeCapability", value: req }, call).then(capabilityResponse);
}

/**
 * The two enclave-facing unary methods on the transport's lean gRPC path (src/transport/lean-unary.ts):
 * the same answers as `gatewayServiceImpl`, without connect-node's per-call cost, which matters
 * because every request stays pending until F+1 nodes answer. The call is the relay's sink: a pending
 * request holds no promise (RelaySink).
 */
export function gatewayLeanRoutes(gateway: () => RelayGateway): LeanUnaryRoute[] {
  return [
    leanUnaryReplying(Gateway.method.getSecrets, (req, call) =>
      gateway().start({ case: "getSecrets", value: req }, callOf(call), call, secretsResponse),
    ),
    leanUnaryReplying(Gateway.method.executeCapability, (req, call) =>
      gateway().start({ case: "executeCapability", value: req }, callOf(call), call, capabilityResponse),
    ),
  ];
}

/**
 * ConnectNode on the transport's lean bidi path (src/transport/lean-stream.ts): the node streams carry
 * 2N+ messages per relayed request, and connect-node's per-message cost was most of the gateway's CPU.
 */
export function gatewayLeanStreams(gateway: () => RelayGateway): LeanBidiRoute[] {
  return [leanBidi(Gateway.method.connectNode, (requests, call) => gateway().connectNode(requests, call))];
}

export function gatewayServiceImpl(gateway: RelayGateway): ServiceImpl<typeof Gateway> {
  return {
    getSecrets: (req, ctx) => getSecrets(gateway, req, callOf(ctx)),
    executeCapability: (req, ctx) => executeCapability(gateway, req, callOf(ctx)),
    connectNode(requests, ctx) {
      return gateway.connectNode(requests, ctx);
    },
  };
}
