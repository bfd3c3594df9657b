/**
 * The node's read request to the Vault: the logical request (owner in EIP-55, workflow, execution,
 * secrets in request order with the namespace filled in, enclave key) plus the node's identity and
 * its ed25519 signature, whose layout the Vault defines (docs/vault.md, "Vault: GetSecrets";
 * `src/domain/vault/node-request.ts`).
 *
 * The namespace is always sent explicitly ("main" when the enclave left it unset) so every node asks
 * the Vault the same logical question and hits the same memo entry.
 */
import { create } from "@bufbuild/protobuf";
import { VaultGetSecretsRequestSchema, type VaultGetSecretsRequest } from "../../contract/index.js";
import type { Ed25519Signer } from "../../domain/crypto/ed25519.js";
import type { ValidSecretsParams } from "../../domain/relay-params/validation.js";
import { signVaultNodeRequest } from "../../domain/vault/node-request.js";

export function buildVaultGetSecretsRequest(
  params: ValidSecretsParams,
  signer: Ed25519Signer,
  nowMs: number,
): VaultGetSecretsRequest {
  const req = create(VaultGetSecretsRequestSchema, {
    owner: params.owner,
    workflowId: params.request.workflowId,
    executionId: params.request.executionId,
    secrets: params.secrets.map((s) => ({ key: s.key, namespace: s.namespace })),
    // A copy: the decoded key views the gateway stream's receive buffer, which the pending Vault
    // call would otherwise keep alive (relay-handler.ts, `handle`).
    enclavePublicKey: params.request.enclavePublicKey.slice(),
    nodePublicKey: signer.publicKey,
    timestampMs: BigInt(nowMs),
  });
  req.nodeSignature = signVaultNodeRequest(signer, req);
  return req;
}
