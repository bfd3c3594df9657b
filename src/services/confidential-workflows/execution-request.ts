/**
 * The edges of Execute: the request checked and converted into what the runtime takes, and the
 * runtime's outcome converted back into an ExecutionResult or an RPC error.
 *
 * Validation follows upstream's enclave app (reference chainlink-workflows.md §9.3): "execution
 * field is required", then workflow_id, binary_url, binary_hash and the execute request, each
 * "<field> is required"; all InvalidArgument. ccr adds shape checks upstream leaves to later stages.
 */
import { create, fromBinary, fromJson, type JsonValue as ProtoJsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { sdk, type ConfidentialWorkflowRequest } from "../../contract/index.js";
import { effectiveNamespace } from "../../contract/relay-hash.js";
import { Code, ccrError } from "../../domain/errors.js";
import type { GuestRequest, RunOutcome } from "../../wasm/guest-abi.js";
import { MAX_SECRETS_PER_RELAY_CALL } from "./execution-host.js";
import type { ExecutionIdentity, SecretId } from "./relay-client.js";

export interface ValidExecution {
  readonly binaryUrl: URL;
  readonly binaryHash: Uint8Array;
  readonly identity: ExecutionIdentity;
  readonly guestRequest: GuestRequest;
  /** ExecuteRequest.max_response_size as a number; 0 = the runtime's limit. */
  readonly maxResultBytes: number;
  /** vault_don_secrets with effective namespaces, in request order. */
  readonly secrets: readonly SecretId[];
}

function invalid(message: string): Error {
  return ccrError(message, Code.InvalidArgument);
}

export function validateExecuteRequest(req: ConfidentialWorkflowRequest): ValidExecution {
  const execution = req.execution;
  if (execution === undefined) throw invalid("execution field is required");
  if (execution.workflowId === "") throw invalid("workflow_id is required");
  if (execution.binaryUrl === "") throw invalid("binary_url is required");
  if (execution.binaryHash.length === 0) throw invalid("binary_hash is required");
  if (execution.executeRequest.length === 0) throw invalid("execute_request is required");

  let binaryUrl: URL;
  try {
    binaryUrl = new URL(execution.binaryUrl);
  } catch {
    throw invalid("binary_url must be an http://, https:// or file:// URL");
  }
  if (!["http:", "https:", "file:"].includes(binaryUrl.protocol)) throw invalid("binary_url must be an http://, https:// or file:// URL");
  if (execution.binaryHash.length !== 32) throw invalid(`binary_hash must be 32 bytes (SHA-256), got ${execution.binaryHash.length}`);

  let executeRequest: sdk.ExecuteRequest;
  try {
    executeRequest = fromBinary(sdk.ExecuteRequestSchema, execution.executeRequest);
  } catch {
    throw invalid("execute_request is not a serialized ccr.sdk.v1.ExecuteRequest");
  }
  let guestRequest: GuestRequest;
  switch (executeRequest.request.case) {
    case "subscribe":
      guestRequest = { kind: "subscribe", config: executeRequest.config };
      break;
    case "trigger":
      guestRequest = { kind: "trigger", config: executeRequest.config, triggerId: executeRequest.request.value.id, payload: executeRequest.request.value.payload };
      break;
    default:
      throw invalid("execute_request has neither subscribe nor trigger");
  }

  if (req.vaultDonSecrets.length > MAX_SECRETS_PER_RELAY_CALL) {
    throw invalid(`vault_don_secrets must have at most ${MAX_SECRETS_PER_RELAY_CALL} entries (one relay round trip)`);
  }
  const secrets = req.vaultDonSecrets.map((s, i) => {
    if (s.key === "") throw invalid(`vault_don_secrets[${i}].key is required`);
    return { key: s.key, namespace: effectiveNamespace(s) };
  });

  const maxResponseSize = executeRequest.maxResponseSize;
  return {
    binaryUrl,
    binaryHash: execution.binaryHash,
    identity: {
      workflowId: execution.workflowId,
      owner: execution.owner,
      executionId: execution.executionId,
      orgId: execution.orgId,
      authorization: req.authorization,
    },
    guestRequest,
    // Above MAX_SAFE_INTEGER is "no lower than the runtime's own limit" anyway.
    maxResultBytes: maxResponseSize > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(maxResponseSize),
    secrets,
  };
}

/**
 * RunOutcome → ExecutionResult (docs/wasm-abi.md, "Error conventions"): the guest's own answers, and
 * traps and memory blow-ups as ExecutionResult errors (the workflow failed, the enclave did not);
 * the runtime's verdicts about the call itself are RPC errors.
 */
export function toExecutionResult(outcome: RunOutcome): sdk.ExecutionResult {
  switch (outcome.kind) {
    case "value":
      return create(sdk.ExecutionResultSchema, { result: { case: "value", value: fromJson(ValueSchema, outcome.value as ProtoJsonValue) } });
    case "error":
      return create(sdk.ExecutionResultSchema, { result: { case: "error", value: outcome.message } });
    case "subscriptions":
      return create(sdk.ExecutionResultSchema, {
        result: { case: "triggerSubscriptions", value: { subscriptions: outcome.subscriptions.map((s) => ({ id: s.id, method: s.method, payload: s.payload })) } },
      });
    case "trap":
      return create(sdk.ExecutionResultSchema, { result: { case: "error", value: `guest trapped: ${outcome.message}` } });
    case "memory-limit":
      return create(sdk.ExecutionResultSchema, { result: { case: "error", value: `guest exceeded its memory limit: ${outcome.message}` } });
    case "timeout":
      throw ccrError(`execution exceeded the enclave's time limit of ${outcome.timeoutMs} ms`, Code.DeadlineExceeded);
    case "at-capacity":
      throw ccrError("enclave at capacity", Code.ResourceExhausted);
    case "invalid-module":
      throw ccrError(`invalid workflow binary: ${outcome.message}`, Code.FailedPrecondition);
    case "cancelled":
      throw ccrError("execution cancelled", Code.Canceled);
  }
}
