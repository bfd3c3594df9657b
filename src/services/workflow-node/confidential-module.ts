/**
 * ConfidentialModule (reference chainlink-workflows.md §1.3, §2): a ModuleV2 that never runs WASM
 * on this node. Each `execute` — the subscribe phase and every trigger — is sent to the enclave host
 * (`ConfidentialWorkflows.Execute`, the capability `confidential-workflows@1.0.0-alpha`), which
 * fetches the binary, checks its SHA-256 and runs it; the guest's secret and capability calls go
 * through the gateway and the relay DON, not through this node's ExecutionHelper.
 *
 * `execute`, step by step (§2.4, PR era; ccr differences marked):
 *  1. serialize the ExecuteRequest — "failed to marshal ExecuteRequest: …";
 *  2. vault_don_secrets in order, each namespace defaulted to "main" and always set;
 *     [ccr] only when there is an execution id: the subscribe phase (execution id "") only declares
 *     triggers, gets no secrets and no authorization (see 3);
 *  3. the request: execution {workflow_id, binary_url, binary_hash, execute_request, owner,
 *     execution_id, org_id}; [ccr] plus `authorization`: this node's ed25519 signature over
 *     (owner, workflow_id, execution_id), so relay nodes let the enclave act for this one execution
 *     (issued only for a real execution id — an authorization for "" would be a blank cheque);
 *     [ccr] binary_url is the raw registry URL, or what the optional BinaryURLResolver returns for
 *     this execution — "failed to resolve binary URL: …";
 *  4–7. [ccr] upstream wraps the request in an Any and calls a capability registry entry; here it is
 *     a generated Connect client of ConfidentialWorkflows. Any RPC failure (unreachable, enclave at
 *     capacity, hash mismatch, …) — "confidential-workflows capability execution failed: …", with the
 *     RPC's code kept;
 *  8. "confidential-workflows capability returned nil payload" when the response carries no
 *     execution_result. Mapping: upstream's nil `Payload` is "the capability answered without a
 *     response message". A Connect unary call always yields a message, and in proto3 an absent
 *     ConfidentialWorkflowResponse and one with empty execution_result are the same zero bytes on
 *     the wire, so empty execution_result is the only faithful reading of "nil payload". (Upstream
 *     would decode empty bytes into an ExecutionResult with no outcome and fail later, at the engine,
 *     with "subscribe result is nil"; failing here names the culprit.)
 *  9. [ccr] n/a: there is no Any to unpack ("failed to unmarshal capability response");
 * 10. decode execution_result — "failed to unmarshal ExecutionResult: …";
 * 11. [ccr] report who vouched for the relay answers the execution used: the distinct signers of
 *     the response's `relay_receipts` whose signatures verify (relay-signers.ts), through
 *     `helper.recordRelaySigners` — the engine records them on the execution row. Receipts never
 *     change the result: a bad signature is left out and logged;
 * 12. return it. An ExecutionResult carrying `error` is a successful call: the engine reads it.
 * No retries, caching or timeouts of its own: the engine's execution deadline arrives as `signal`.
 *
 * `owner` is sent as the EIP-55 0x-address (the proto's documented form), not upstream's 40 bare hex
 * digits (§2.2 notes the code and the proto comment disagree); relay nodes normalize it anyway.
 * `start`, `close` and `isLegacyDAG` are no-ops / false, as upstream in every version.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import {
  authorizationPayload,
  ConfidentialWorkflowRequestSchema,
  type ConfidentialWorkflows,
  SecretIdentifierSchema,
  sdk,
  WorkflowAuthorizationSchema,
  WorkflowExecutionSchema,
} from "../../contract/index.js";
import type { Ed25519Signer } from "../../domain/crypto/ed25519.js";
import { Code, ccrError } from "../../domain/errors.js";
import { secretNamespace, type SecretIdentifier } from "../../domain/workflow/attributes.js";
import type { ExecutionHelper, ModuleExecuteOptions, ModuleV2, WorkflowNodeLogger } from "./module.js";
import { silentLogger } from "./module.js";
import { relaySigners } from "./relay-signers.js";

/** Upstream `confidentialWorkflowsCapabilityID`; the method is always "Execute". */
export const CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID = "confidential-workflows@1.0.0-alpha";
export const CONFIDENTIAL_WORKFLOWS_METHOD = "Execute";

/**
 * Resolves the registry's raw binary URL into the URL the enclave should fetch for this execution
 * (e.g. a presigned, short-lived one). Called once per `execute`; absent → the raw URL.
 */
export type BinaryURLResolver = (
  rawUrl: string,
  context: { readonly workflowId: string; readonly executionId: string; readonly signal?: AbortSignal },
) => Promise<string>;

export interface ConfidentialModuleConfig {
  readonly client: Client<typeof ConfidentialWorkflows>;
  /** The raw registry binary URL. */
  readonly binaryUrl: string;
  /** SHA-256 of the stored artifact bytes (32 bytes). */
  readonly binaryHash: Uint8Array;
  readonly workflowId: string;
  /** EIP-55 owner address. */
  readonly workflowOwner: string;
  readonly workflowName: string;
  readonly workflowTag: string;
  /** From the attributes; null or empty for none. */
  readonly vaultDonSecrets: readonly SecretIdentifier[] | null;
  /** The workflow node's key that authorizes each execution to relay nodes. */
  readonly signer: Ed25519Signer;
  readonly binaryUrlResolver?: BinaryURLResolver;
  /** The owner's organization id; "" when none is known. */
  readonly orgId?: string;
  readonly logger?: WorkflowNodeLogger;
}

export class ConfidentialModule implements ModuleV2 {
  private readonly logger: WorkflowNodeLogger;

  constructor(private readonly config: ConfidentialModuleConfig) {
    this.logger = (config.logger ?? silentLogger).child({
      module: "ConfidentialModule",
      workflowId: config.workflowId,
      workflowName: config.workflowName,
      workflowOwner: config.workflowOwner,
    });
  }

  start(): void {}

  close(): void {}

  isLegacyDAG(): boolean {
    return false;
  }

  async execute(request: sdk.ExecuteRequest, helper: ExecutionHelper, options: ModuleExecuteOptions = {}): Promise<sdk.ExecutionResult> {
    const config = this.config;
    // 1.
    let executeRequest: Uint8Array;
    try {
      executeRequest = toBinary(sdk.ExecuteRequestSchema, request);
    } catch (error) {
      throw ccrError(`failed to marshal ExecuteRequest: ${messageOf(error)}`, Code.Internal, error);
    }
    const executionId = helper.getWorkflowExecutionId();
    const isExecution = executionId !== "";

    // 2.
    const vaultDonSecrets = isExecution
      ? (config.vaultDonSecrets ?? []).map((secret) =>
          create(SecretIdentifierSchema, { key: secret.key, namespace: secretNamespace(secret) }),
        )
      : [];

    // 3.
    let binaryUrl = config.binaryUrl;
    if (config.binaryUrlResolver !== undefined) {
      try {
        binaryUrl = await config.binaryUrlResolver(config.binaryUrl, {
          workflowId: config.workflowId,
          executionId,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
      } catch (error) {
        const code = error instanceof ConnectError ? error.code : Code.Unavailable;
        throw ccrError(`failed to resolve binary URL: ${messageOf(error)}`, code, error);
      }
    }
    const capInput = create(ConfidentialWorkflowRequestSchema, {
      vaultDonSecrets,
      execution: create(WorkflowExecutionSchema, {
        workflowId: config.workflowId,
        binaryUrl,
        binaryHash: config.binaryHash,
        executeRequest,
        owner: config.workflowOwner,
        executionId,
        orgId: config.orgId ?? "",
      }),
      ...(isExecution ? { authorization: this.authorize(executionId) } : {}),
    });

    // 4–7.
    this.logger.debug(
      { capabilityId: CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID, method: CONFIDENTIAL_WORKFLOWS_METHOD, executionId, secrets: vaultDonSecrets.length },
      "sending execution to the enclave",
    );
    let response;
    try {
      response = await config.client.execute(capInput, options.signal === undefined ? {} : { signal: options.signal });
    } catch (error) {
      const cause = ConnectError.from(error);
      this.logger.warn(
        { capabilityId: CONFIDENTIAL_WORKFLOWS_CAPABILITY_ID, method: CONFIDENTIAL_WORKFLOWS_METHOD, executionId, code: Code[cause.code] },
        "confidential-workflows capability execution failed",
      );
      throw ccrError(`confidential-workflows capability execution failed: ${cause.rawMessage}`, cause.code, error);
    }

    // 8.
    if (response.executionResult.length === 0) {
      throw ccrError("confidential-workflows capability returned nil payload", Code.Internal);
    }
    // 10.
    let result: sdk.ExecutionResult;
    try {
      result = fromBinary(sdk.ExecutionResultSchema, response.executionResult);
    } catch (error) {
      throw ccrError(`failed to unmarshal ExecutionResult: ${messageOf(error)}`, Code.Internal, error);
    }
    // 11.
    const vouched = relaySigners(response.relayReceipts);
    if (vouched.invalidSignatures > 0 || vouched.ignoredReceipts > 0) {
      this.logger.warn(
        { executionId, receipts: response.relayReceipts.length, invalidSignatures: vouched.invalidSignatures, ignoredReceipts: vouched.ignoredReceipts },
        "enclave returned relay receipts that could not all be checked; only verified signers are recorded",
      );
    }
    helper.recordRelaySigners(vouched.signers);
    // 12.
    return result;
  }

  private authorize(executionId: string) {
    const { signer, workflowOwner, workflowId } = this.config;
    const signature = signer.sign(authorizationPayload({ owner: workflowOwner, workflowId, executionId }));
    return create(WorkflowAuthorizationSchema, { signatures: [{ signer: signer.publicKey, signature }] });
  }
}

function messageOf(error: unknown): string {
  if (error instanceof ConnectError) return error.rawMessage;
  return error instanceof Error ? error.message : String(error);
}
