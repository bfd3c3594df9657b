import { describe, expect, it } from "vitest";
import { IngressLimiter } from "../../../src/domain/ratelimit/ingress-limiter.js";
import { KeyedTokenBuckets } from "../../../src/domain/ratelimit/keyed-buckets.js";
import { TokenBucket, validateTokenBucketSpec } from "../../../src/domain/ratelimit/token-bucket.js";

describe("token bucket (continuous refill, injected time)", () => {
  it("allows a burst, then denies with the time until one token is back (rate 2/s, burst 3)", () => {
    const b = new TokenBucket({ ratePerSec: 2, burst: 3 }, 0);
    expect(b.take(0).kind).toBe("allowed");
    expect(b.take(0).kind).toBe("allowed");
    expect(b.take(0).kind).toBe("allowed");
    expect(b.take(0)).toEqual({ kind: "denied", retryAfterMs: 500 });
    expect(b.take(250)).toEqual({ kind: "denied", retryAfterMs: 250 });
    expect(b.take(500).kind).toBe("allowed");
    expect(b.take(500)).toEqual({ kind: "denied", retryAfterMs: 500 });
  });

  it("never holds more than the burst", () => {
    const b = new TokenBucket({ ratePerSec: 10, burst: 2 }, 0);
    expect(b.available(60_000)).toBe(2);
    b.take(60_000);
    b.take(60_000);
    expect(b.take(60_000).kind).toBe("denied");
  });

  it("refund gives a token back, up to the burst", () => {
    const b = new TokenBucket({ ratePerSec: 1, burst: 1 }, 0);
    b.take(0);
    b.refund();
    expect(b.take(0).kind).toBe("allowed");
    b.refund();
    b.refund();
    expect(b.available(0)).toBe(1);
  });

  it("validates its spec, naming the option", () => {
    expect(() => validateTokenBucketSpec({ ratePerSec: 0, burst: 1 }, "ingress.global")).toThrow(
      "ingress.global.ratePerSec must be a positive number, got 0",
    );
    expect(() => validateTokenBucketSpec({ ratePerSec: 1, burst: 0.5 }, "x")).toThrow("x.burst must be a number ≥ 1, got 0.5");
  });
});

describe("keyed buckets (per sender, bounded memory)", () => {
  it("keeps one bucket per key", () => {
    const k = new KeyedTokenBuckets({ ratePerSec: 1, burst: 1 }, 10);
    expect(k.take("a", 0).kind).toBe("allowed");
    expect(k.take("a", 0).kind).toBe("denied");
    expect(k.take("b", 0).kind).toBe("allowed");
    expect(k.size).toBe(2);
  });

  it("evicts buckets that are full again (equivalent to new), so idle senders cost nothing", () => {
    const k = new KeyedTokenBuckets({ ratePerSec: 10, burst: 5 }, 1_000);
    for (let i = 0; i < 100; i++) k.take(`s${i}`, 0);
    expect(k.size).toBe(100);
    // One token refills in 100 ms: every bucket is full again.
    expect(k.evictIdle(100)).toBe(100);
    expect(k.size).toBe(0);
  });

  it("evicts lazily on take as well", () => {
    const k = new KeyedTokenBuckets({ ratePerSec: 10, burst: 5 }, 1_000);
    for (let i = 0; i < 8; i++) k.take(`s${i}`, 0);
    k.take("late", 1_000);
    expect(k.size).toBe(5); // four idle ones evicted by this take, plus "late"
  });

  it("never holds more than maxKeys under a flood of distinct keys", () => {
    const k = new KeyedTokenBuckets({ ratePerSec: 1, burst: 10 }, 64);
    for (let i = 0; i < 10_000; i++) k.take(`flood-${i}`, 0);
    expect(k.size).toBe(64);
  });

  it("does not evict a bucket that is still refilling (its limit would reset)", () => {
    const k = new KeyedTokenBuckets({ ratePerSec: 1, burst: 1 }, 100);
    k.take("a", 0);
    expect(k.evictIdle(999)).toBe(0);
    expect(k.take("a", 999).kind).toBe("denied");
  });
});

describe("ingress limiter (global + per sender)", () => {
  it("checks the global bucket, then the sender's; a sender denial refunds the global token", () => {
    const l = new IngressLimiter({ global: { ratePerSec: 1, burst: 2 }, perSender: { ratePerSec: 1, burst: 1 }, maxSenders: 10 }, 0);
    expect(l.take("a", 0).kind).toBe("allowed");
    expect(l.take("a", 0)).toEqual({ kind: "denied", scope: "sender", retryAfterMs: 1000 });
    // The refused request gave its global token back, so b still fits in the global burst of 2.
    expect(l.take("b", 0).kind).toBe("allowed");
    expect(l.take("c", 0)).toEqual({ kind: "denied", scope: "global", retryAfterMs: 1000 });
  });
});
