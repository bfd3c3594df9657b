/**
 * Ingress limits of a relay gateway: one global bucket and one bucket per sender (the attested
 * enclave identity), both checked before a request fans out, so one request never costs N node-side
 * attestation checks for free (upstream audit CL112-03).
 *
 * The global bucket is taken first (it protects the edge attestation check, which runs before the
 * sender is known); the sender bucket after the edge names the sender. When the sender bucket refuses,
 * the global token is refunded, so one noisy sender cannot drain the global budget with requests that
 * are refused anyway.
 */
import { KeyedTokenBuckets } from "./keyed-buckets.js";
import { TokenBucket, type RateDecision, type TokenBucketSpec } from "./token-bucket.js";

export interface IngressLimits {
  readonly global: TokenBucketSpec;
  readonly perSender: TokenBucketSpec;
  /** Cap on per-sender buckets held at once. */
  readonly maxSenders: number;
}

export type IngressDecision =
  | { readonly kind: "allowed" }
  | { readonly kind: "denied"; readonly scope: "global" | "sender"; readonly retryAfterMs: number };

export class IngressLimiter {
  private readonly global: TokenBucket;
  private readonly senders: KeyedTokenBuckets;

  constructor(limits: IngressLimits, nowMs: number) {
    this.global = new TokenBucket(limits.global, nowMs);
    this.senders = new KeyedTokenBuckets(limits.perSender, limits.maxSenders);
  }

  /** Number of per-sender buckets held (bounded by maxSenders). */
  get senderBuckets(): number {
    return this.senders.size;
  }

  takeGlobal(nowMs: number): IngressDecision {
    return this.scoped(this.global.take(nowMs), "global");
  }

  /** Takes the sender's token; on denial, refunds the global token its request already took. */
  takeSender(senderId: string, nowMs: number): IngressDecision {
    const d = this.senders.take(senderId, nowMs);
    if (d.kind === "denied") this.global.refund();
    return this.scoped(d, "sender");
  }

  /** Convenience: both checks in order. */
  take(senderId: string, nowMs: number): IngressDecision {
    const g = this.takeGlobal(nowMs);
    return g.kind === "denied" ? g : this.takeSender(senderId, nowMs);
  }

  private scoped(d: RateDecision, scope: "global" | "sender"): IngressDecision {
    return d.kind === "allowed" ? d : { kind: "denied", scope, retryAfterMs: d.retryAfterMs };
  }
}
