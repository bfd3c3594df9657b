/**
 * Workflow authorization (upstream PRIV-433): an enclave may only fetch secrets of, and call
 * capabilities for, the (owner, workflow_id, execution_id) a workflow node actually sent it. The
 * workflow node signs `authorizationPayload(owner, workflow_id, execution_id)` with its ed25519 key;
 * every relay node checks at least `threshold` distinct configured workflow-node keys signed exactly
 * this request's triple. A compromised enclave naming a victim owner or another workflow fails here:
 * the signatures it holds cover its own triple only.
 *
 * Upstream left the capability path open (third-party audit); ccr checks both methods.
 *
 * A session sends many requests with one authorization, so verified (payload, signer, signature)
 * triples are remembered in a bounded set: the per-request cost after the first is one SHA-256.
 */
import { createHash } from "node:crypto";
import type { WorkflowAuthorization } from "../../contract/index.js";
import { authorizationPayload } from "../relay-layouts.js";
import { ed25519Verify } from "../crypto/ed25519.js";

/** More signatures than this is a malformed request (each costs a verification). */
export const MAX_AUTHORIZATION_SIGNATURES = 32;

export interface WorkflowAuthorizationPolicy {
  /** Raw 32-byte ed25519 public keys of the workflow nodes trusted to authorize executions. */
  readonly workflowNodeKeys: readonly Uint8Array[];
  /** Distinct configured signers required; default 1. */
  readonly threshold: number;
}

export type AuthorizationVerdict =
  | { readonly kind: "authorized"; readonly signers: number }
  | { readonly kind: "denied"; readonly reason: string };

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

export class WorkflowAuthorizer {
  private readonly keys: ReadonlySet<string>;
  readonly threshold: number;
  /** Digests of verified (payload, signer, signature) triples; insertion order = eviction order. */
  private readonly verified = new Set<string>();

  constructor(
    policy: WorkflowAuthorizationPolicy,
    private readonly cacheCapacity = 10_000,
  ) {
    if (!Number.isSafeInteger(policy.threshold) || policy.threshold < 1) {
      throw new Error("authorization threshold must be a positive integer");
    }
    const keys = new Set<string>();
    policy.workflowNodeKeys.forEach((k, i) => {
      if (k.length !== 32) throw new Error(`workflowNodeKeys[${i}] must be a 32-byte ed25519 public key`);
      keys.add(hex(k));
    });
    if (keys.size < policy.threshold) {
      throw new Error(`authorization threshold ${policy.threshold} exceeds the ${keys.size} distinct workflow-node keys`);
    }
    this.keys = keys;
    this.threshold = policy.threshold;
  }

  check(
    authorization: WorkflowAuthorization | undefined,
    subject: { owner: string; workflowId: string; executionId: string },
  ): AuthorizationVerdict {
    const signatures = authorization?.signatures ?? [];
    if (signatures.length === 0) return { kind: "denied", reason: "authorization: missing workflow node signatures" };
    if (signatures.length > MAX_AUTHORIZATION_SIGNATURES) {
      return {
        kind: "denied",
        reason: `authorization: ${signatures.length} signatures, at most ${MAX_AUTHORIZATION_SIGNATURES} allowed`,
      };
    }
    const payload = authorizationPayload(subject);
    const counted = new Set<string>();
    let fromConfigured = 0;
    for (const sig of signatures) {
      const signer = hex(sig.signer);
      if (!this.keys.has(signer) || counted.has(signer)) continue;
      fromConfigured++;
      if (!this.verify(payload, sig.signer, sig.signature)) continue;
      counted.add(signer);
      if (counted.size >= this.threshold) return { kind: "authorized", signers: counted.size };
    }
    if (fromConfigured === 0) return { kind: "denied", reason: "authorization: signed by no configured workflow node" };
    if (fromConfigured > counted.size) {
      return {
        kind: "denied",
        reason:
          "authorization: workflow node signatures do not cover this owner, workflow_id and execution_id " +
          `(${counted.size} valid, need ${this.threshold})`,
      };
    }
    return {
      kind: "denied",
      reason: `authorization: ${counted.size} valid workflow node signatures, need ${this.threshold}`,
    };
  }

  private verify(payload: Uint8Array, signer: Uint8Array, signature: Uint8Array): boolean {
    const digest = createHash("sha256").update(payload).update(signer).update(signature).digest("base64");
    if (this.verified.has(digest)) return true;
    if (!ed25519Verify(signer, payload, signature)) return false;
    if (this.verified.size >= this.cacheCapacity) {
      const oldest = this.verified.values().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.add(digest);
    return true;
  }
}
