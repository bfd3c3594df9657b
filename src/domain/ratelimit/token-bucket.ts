/**
 * A token bucket with continuous refill and an injected clock (every call passes `nowMs`), so tests
 * are exact: tokens = min(burst, tokens + elapsed·rate); a denial carries the time until one token is
 * back (node-recipes.md §7.1).
 */

export interface TokenBucketSpec {
  /** Tokens added per second (> 0). */
  readonly ratePerSec: number;
  /** Bucket size: the largest burst allowed after an idle period (≥ 1). */
  readonly burst: number;
}

export type RateDecision =
  | { readonly kind: "allowed" }
  | { readonly kind: "denied"; readonly retryAfterMs: number };

/** Shared, so an allowed take allocates nothing. */
export const ALLOWED: RateDecision = Object.freeze({ kind: "allowed" });

/** Checks a spec, naming the option key in the error. */
export function validateTokenBucketSpec(spec: TokenBucketSpec, key: string): void {
  if (!(Number.isFinite(spec.ratePerSec) && spec.ratePerSec > 0)) {
    throw new RangeError(`${key}.ratePerSec must be a positive number, got ${String(spec.ratePerSec)}`);
  }
  if (!(Number.isFinite(spec.burst) && spec.burst >= 1)) {
    throw new RangeError(`${key}.burst must be a number ≥ 1, got ${String(spec.burst)}`);
  }
}

export class TokenBucket {
  private tokens: number;
  private updatedMs: number;

  constructor(
    readonly spec: TokenBucketSpec,
    nowMs: number,
  ) {
    this.tokens = spec.burst;
    this.updatedMs = nowMs;
  }

  /** Takes one token, or says how long until one is available. */
  take(nowMs: number): RateDecision {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return ALLOWED;
    }
    return { kind: "denied", retryAfterMs: Math.max(1, Math.ceil(((1 - this.tokens) / this.spec.ratePerSec) * 1000)) };
  }

  /** Gives back a token taken by a request that a later check refused. */
  refund(): void {
    this.tokens = Math.min(this.spec.burst, this.tokens + 1);
  }

  /** Tokens available now (fractional). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  /** The instant at which the bucket is full again if nothing is taken (a full bucket equals a new one). */
  fullAtMs(): number {
    return this.updatedMs + ((this.spec.burst - this.tokens) / this.spec.ratePerSec) * 1000;
  }

  private refill(nowMs: number): void {
    const elapsed = nowMs - this.updatedMs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.spec.burst, this.tokens + (elapsed * this.spec.ratePerSec) / 1000);
      this.updatedMs = nowMs;
    }
  }
}
