/**
 * How a locally run guest's capability calls and secret requests are answered.
 *
 * Capability calls go to the Capability service through its generated client; every failure —
 * the RPC's or the capability's own — comes back to the guest as a `CapabilityResponse.error`, so a
 * guest can handle it, and the execution only fails if the guest chooses to fail.
 *
 * Secrets are never given to a workflow that runs here. Plaintext secrets leave the Vault only
 * encrypted to an attested enclave (docs/architecture.md §4), so an ordinary workflow node has
 * nothing to hand over: each requested secret is answered with a per-secret error telling the
 * owner to deploy the workflow as confidential. (Upstream nodes fetch secrets for local workflows
 * from their own vault; ccr deliberately does not.)
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { type Capability, sdk } from "../../contract/index.js";

export interface CapabilityCallContext {
  readonly workflowId: string;
  readonly owner: string;
  readonly executionId: string;
  /** Unique per call within the execution: the Capability service's memo key part. */
  readonly referenceId: string;
  readonly signal?: AbortSignal;
}

export type CapabilityCaller = (request: sdk.CapabilityRequest, context: CapabilityCallContext) => Promise<sdk.CapabilityResponse>;

export function capabilityCallerFromClient(client: Client<typeof Capability>): CapabilityCaller {
  return async (request, context) => {
    try {
      const response = await client.execute(
        {
          capabilityId: request.id,
          method: request.method,
          payload: request.payload,
          metadata: {
            workflowId: context.workflowId,
            owner: context.owner,
            executionId: context.executionId,
            referenceId: context.referenceId,
          },
        },
        context.signal === undefined ? {} : { signal: context.signal },
      );
      if (response.error !== "") return capabilityError(response.error);
      return create(sdk.CapabilityResponseSchema, { response: { case: "payload", value: response.payload } });
    } catch (error) {
      const cause = ConnectError.from(error);
      return capabilityError(`capability ${request.id} call failed: ${cause.rawMessage} (${Code[cause.code]})`);
    }
  };
}

/** For a workflow node run without a Capability service. */
export const noCapabilities: CapabilityCaller = async (request) =>
  capabilityError(`capability ${request.id} is unavailable: this workflow node has no Capability service configured`);

export function capabilityError(message: string): sdk.CapabilityResponse {
  return create(sdk.CapabilityResponseSchema, { response: { case: "error", value: message } });
}

export const LOCAL_SECRETS_ERROR = "secrets are available only to confidential workflows; deploy the workflow with --confidential";

/** The answer to a local guest's secrets request: one error per requested secret. */
export function refuseLocalSecrets(request: sdk.GetSecretsRequest, owner: string): sdk.SecretResponse[] {
  return request.requests.map((secret) =>
    create(sdk.SecretResponseSchema, {
      response: {
        case: "error",
        value: { id: secret.id, namespace: secret.namespace === "" ? "main" : secret.namespace, owner, error: LOCAL_SECRETS_ERROR },
      },
    }),
  );
}
