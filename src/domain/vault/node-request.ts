/**
 * What a relay node signs to read secrets from the Vault (docs/vault.md, "Node signatures"). The
 * relay node imports this module to sign; the Vault imports it to verify — services never import
 * each other, so the layout lives here in the domain.
 *
 *   payload = canonical(domain = "ccr.v1.vault.GetSecrets":
 *               str(lowercase(owner)) ‖ str(workflow_id) ‖ str(execution_id) ‖
 *               u64(#secrets) ‖ for each secret in request order: str(key) ‖ str(effective namespace) ‖
 *               bytes(enclave_public_key) ‖ bytes(node_public_key) ‖ u64(timestamp_ms))
 *   node_signature = ed25519_sign(node key, payload)       64 bytes
 *
 * Every request field except the signature itself is covered, the node's own key included, so a
 * signature cannot be moved to another node's request or to another enclave key.
 */
import { CanonicalWriter } from "../canonical.js";
import { effectiveNamespace } from "../relay-layouts.js";
import type { VaultGetSecretsRequest } from "../../contract/index.js";
import { ed25519Verify, type Ed25519Signer } from "../crypto/ed25519.js";

export const VAULT_NODE_REQUEST_DOMAIN = "ccr.v1.vault.GetSecrets";

/** The signed fields of a VaultGetSecretsRequest (a request message satisfies it). */
export interface VaultNodeRequestFields {
  readonly owner: string;
  readonly workflowId: string;
  readonly executionId: string;
  readonly secrets: ReadonlyArray<{ readonly key: string; readonly namespace?: string | undefined }>;
  readonly enclavePublicKey: Uint8Array;
  readonly nodePublicKey: Uint8Array;
  readonly timestampMs: bigint | number;
}

/** The bytes a node's ed25519 key signs. */
export function vaultNodeRequestPayload(fields: VaultNodeRequestFields): Uint8Array {
  const w = new CanonicalWriter(VAULT_NODE_REQUEST_DOMAIN)
    .str(fields.owner.toLowerCase())
    .str(fields.workflowId)
    .str(fields.executionId)
    .u64(fields.secrets.length);
  for (const s of fields.secrets) w.str(s.key).str(effectiveNamespace(s));
  return w.bytes(fields.enclavePublicKey).bytes(fields.nodePublicKey).u64(fields.timestampMs).finish();
}

/** Relay-node side: the node_signature for `fields` (whose nodePublicKey must be the signer's). */
export function signVaultNodeRequest(signer: Ed25519Signer, fields: VaultNodeRequestFields): Uint8Array {
  if (Buffer.compare(Buffer.from(signer.publicKey), Buffer.from(fields.nodePublicKey)) !== 0) {
    throw new RangeError("nodePublicKey must be the signing node's own public key");
  }
  return signer.sign(vaultNodeRequestPayload(fields));
}

/** Vault side: true when node_signature is node_public_key's signature over the request. */
export function verifyVaultNodeRequest(request: Pick<VaultGetSecretsRequest, keyof VaultNodeRequestFields | "nodeSignature">): boolean {
  return ed25519Verify(request.nodePublicKey, vaultNodeRequestPayload(request), request.nodeSignature);
}
