/**
 * The relay's byte layouts that need no message types: the answer payload a relay node signs, the
 * handshake payload that opens a node stream, the workflow node's authorization payload, and the
 * namespace default. The message-level hashes (binding hash, result hash) live with the messages in
 * src/contract/relay-hash.ts; docs/relay-protocol.md lists every layout with test vectors.
 */
import { CanonicalWriter } from "./canonical.js";

/** The Vault DON's default namespace. */
export const DEFAULT_NAMESPACE = "main";

/** The namespace a secret identifier means: unset or empty is "main". */
export function effectiveNamespace(id: { readonly namespace?: string | undefined }): string {
  return id.namespace === undefined || id.namespace === "" ? DEFAULT_NAMESPACE : id.namespace;
}

/** What a relay node's ed25519 key signs for a result hash. */
export function answerSignaturePayload(resultHash: Uint8Array): Uint8Array {
  return new CanonicalWriter("ccr.v1.relay.answer", 64).bytes(resultHash).finish();
}

/** What a node signs to open its gateway stream (challenge–response). */
export function handshakePayload(p: {
  gatewayId: string;
  donId: string;
  timestampMs: bigint | number;
  nonce: Uint8Array;
  nodePublicKey: Uint8Array;
}): Uint8Array {
  return new CanonicalWriter("ccr.v1.gateway.handshake")
    .str(p.gatewayId)
    .str(p.donId)
    .u64(p.timestampMs)
    .bytes(p.nonce)
    .bytes(p.nodePublicKey)
    .finish();
}

/** What the workflow node signs to authorize an enclave to act for one execution (PRIV-433). */
export function authorizationPayload(p: { owner: string; workflowId: string; executionId: string }): Uint8Array {
  // The owner is compared case-insensitively everywhere (EIP-55 is only a checksum), so it is hashed
  // lowercased: a checksummed and a lowercase spelling authorize the same owner.
  return new CanonicalWriter("ccr.v1.workflow.authorization")
    .str(p.owner.toLowerCase())
    .str(p.workflowId)
    .str(p.executionId)
    .finish();
}
