/**
 * Checks an owner's signature on a write (PutSecret, DeleteSecret, ListSecrets), in this order:
 *
 * 1. shape: nonce 1–64 characters, expires_at_ms at most maxSignatureLifetimeMs ahead → InvalidArgument
 *    (the request is malformed, whoever signed it);
 * 2. expiry: expires_at_ms ≤ now → Unauthenticated;
 * 3. signer: the EIP-191 signature must recover to the owner → Unauthenticated otherwise. A
 *    signature by some other key is treated as no signature at all (the request is not
 *    authenticated as the owner it names), not as PermissionDenied: the Vault has no notion of one
 *    address acting for another, so there is no "known caller without the right" case;
 * 4. replay: the nonce is recorded until the expiry; a nonce already recorded → Unauthenticated.
 *    Only a verified signature consumes a nonce, so nobody but the owner can burn the owner's nonces.
 */
import { Code, ccrError } from "../../domain/errors.js";
import { recoverOwnerRequestSigner, type OwnerRequest } from "../../domain/vault/owner-request.js";
import type { OwnerSignature } from "../../contract/index.js";
import type { VaultContext } from "./context.js";
import { VAULT_CONTRACT_LIMITS } from "./options.js";

/** State of the periodic nonce pruning, per service instance. */
export interface NoncePruner {
  lastPruneMs: number;
}

export async function checkOwnerSignature(
  ctx: VaultContext,
  pruner: NoncePruner,
  request: OwnerRequest,
  signature: OwnerSignature | undefined,
): Promise<void> {
  if (signature === undefined) {
    throw ccrError("signature is required: sign the request with the owner's key (layout in docs/vault.md)", Code.Unauthenticated);
  }
  const { nonce } = signature;
  if (nonce.length < 1 || nonce.length > VAULT_CONTRACT_LIMITS.maxNonceLength) {
    throw ccrError(`signature.nonce must be 1–${VAULT_CONTRACT_LIMITS.maxNonceLength} characters, got ${nonce.length}`, Code.InvalidArgument);
  }
  const nowMs = ctx.clock.nowMs();
  const expiresAtMs = Number(signature.expiresAtMs);
  if (expiresAtMs > nowMs + ctx.options.maxSignatureLifetimeMs) {
    throw ccrError(
      `signature.expires_at_ms must be at most ${ctx.options.maxSignatureLifetimeMs} ms after now (it is ${expiresAtMs - nowMs} ms ahead)`,
      Code.InvalidArgument,
    );
  }
  if (expiresAtMs <= nowMs) {
    throw ccrError(`signature expired ${nowMs - expiresAtMs} ms ago; sign the request again with a later expires_at_ms`, Code.Unauthenticated);
  }
  const recovered = recoverOwnerRequestSigner(request, { nonce, expiresAtMs: signature.expiresAtMs }, signature.signature);
  if (recovered.kind === "invalid") {
    throw ccrError(`signature is not a valid EIP-191 signature: ${recovered.reason}`, Code.Unauthenticated);
  }
  if (recovered.address.toLowerCase() !== request.owner.toLowerCase()) {
    throw ccrError(
      `signature does not match the request: it recovers to ${recovered.address}, not the owner ${request.owner} (wrong key, or the request differs from what was signed)`,
      Code.Unauthenticated,
    );
  }
  const outcome = await ctx.store.consumeNonce(request.owner, nonce, expiresAtMs, nowMs);
  if (outcome === "replayed") {
    throw ccrError("signature.nonce was already used; sign the request again with a new nonce", Code.Unauthenticated);
  }
  if (nowMs - pruner.lastPruneMs >= ctx.options.noncePruneIntervalMs) {
    pruner.lastPruneMs = nowMs;
    try {
      const pruned = await ctx.store.pruneNonces(nowMs);
      if (pruned > 0) ctx.logger.debug({ pruned }, "expired write nonces pruned");
    } catch (error) {
      ctx.logger.warn({ err: error }, "pruning expired write nonces failed; will retry");
    }
  }
}
