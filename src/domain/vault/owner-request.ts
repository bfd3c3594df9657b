/**
 * What a secret's owner signs to write to the Vault (docs/vault.md, "Owner signatures"):
 *
 *   layout  = canonical(domain = "ccr.v1.vault." ‖ method:
 *               str(lowercase(owner)) ‖ <method fields> ‖ str(nonce) ‖ u64(expires_at_ms))
 *     PutSecret     fields: str(namespace) ‖ str(key) ‖ raw(SHA-256(value))   namespace effective
 *     DeleteSecret  fields: str(namespace) ‖ str(key)                          namespace effective
 *     ListSecrets   fields: str(namespace filter, "" = every namespace)
 *   digest  = SHA-256(layout)                          32 bytes
 *   message = digest, signed with EIP-191 personal_sign by the owner's secp256k1 key
 *
 * - The owner is lowercased: EIP-55 is only a checksum, so both spellings sign the same request.
 * - The namespace is the effective one, so "unset" and "main" — the same secret — sign alike.
 * - The value enters as its SHA-256, not itself: SHA-256 binds it as firmly, the signed message is
 *   32 bytes whatever the value (hardware wallets and remote signers can sign it), and the plaintext
 *   never has to be shown to a signing tool, which may log or display what it signs.
 * - The method is in the domain tag, so a signature for one method is worthless for another.
 */
import { createHash } from "node:crypto";
import { CanonicalWriter } from "../canonical.js";
import { effectiveNamespace } from "../relay-layouts.js";
import { personalSign, recoverPersonalSigner, type RecoveredSigner } from "../ethereum/eip191.js";

export type OwnerRequest =
  | { readonly method: "PutSecret"; readonly owner: string; readonly namespace?: string | undefined; readonly key: string; readonly value: Uint8Array }
  | { readonly method: "DeleteSecret"; readonly owner: string; readonly namespace?: string | undefined; readonly key: string }
  | { readonly method: "ListSecrets"; readonly owner: string; readonly namespace: string };

/** The replay protection every owner signature carries. */
export interface OwnerRequestAuth {
  /** 1–64 characters the owner never reuses. */
  readonly nonce: string;
  /** ms since the Unix epoch after which the signature is refused. */
  readonly expiresAtMs: bigint | number;
}

/** The signature as the OwnerSignature message carries it. */
export interface OwnerSignatureFields {
  readonly signature: Uint8Array;
  readonly nonce: string;
  readonly expiresAtMs: bigint;
}

export const OWNER_REQUEST_DOMAIN_PREFIX = "ccr.v1.vault.";

function sha256(data: Uint8Array): Uint8Array {
  return createHash("sha256").update(data).digest();
}

/** The canonical layout (the pre-image of the digest). */
export function ownerRequestLayout(request: OwnerRequest, auth: OwnerRequestAuth): Uint8Array {
  const w = new CanonicalWriter(OWNER_REQUEST_DOMAIN_PREFIX + request.method).str(request.owner.toLowerCase());
  switch (request.method) {
    case "PutSecret":
      w.str(effectiveNamespace(request)).str(request.key).raw(sha256(request.value));
      break;
    case "DeleteSecret":
      w.str(effectiveNamespace(request)).str(request.key);
      break;
    case "ListSecrets":
      w.str(request.namespace);
      break;
  }
  return w.str(auth.nonce).u64(auth.expiresAtMs).finish();
}

/** The 32 bytes the owner signs with `personal_sign`. */
export function ownerRequestDigest(request: OwnerRequest, auth: OwnerRequestAuth): Uint8Array {
  return sha256(ownerRequestLayout(request, auth));
}

/**
 * Client side: signs `request` with the owner's 32-byte secp256k1 private key, giving the
 * `OwnerSignature` fields to send. The CLI and the demo use it; a wallet does the same with
 * `personal_sign(ownerRequestDigest(...))`.
 */
export function signOwnerRequest(privateKey: Uint8Array, request: OwnerRequest, auth: OwnerRequestAuth): OwnerSignatureFields {
  return {
    signature: personalSign(privateKey, ownerRequestDigest(request, auth)),
    nonce: auth.nonce,
    expiresAtMs: BigInt(auth.expiresAtMs),
  };
}

/** Server side: the address that signed `request`, or why the signature is malformed. */
export function recoverOwnerRequestSigner(request: OwnerRequest, auth: OwnerRequestAuth, signature: Uint8Array): RecoveredSigner {
  return recoverPersonalSigner(ownerRequestDigest(request, auth), signature);
}
