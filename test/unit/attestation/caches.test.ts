import { describe, expect, it } from "vitest";
import { ExpiringLru } from "../../../src/domain/attestation/expiring-lru.js";
import { ReplayCache } from "../../../src/domain/attestation/replay-cache.js";

describe("ExpiringLru", () => {
  it("drops entries at their expiry (exclusive) and evicts the least recently used when full", () => {
    const lru = new ExpiringLru<string>(2);
    lru.set("a", "A", 100, 0);
    lru.set("b", "B", 100, 0);
    expect(lru.get("a", 99)).toBe("A"); // a is now most recent
    lru.set("c", "C", 100, 0); // evicts b
    expect(lru.get("b", 0)).toBeUndefined();
    expect(lru.get("a", 0)).toBe("A");
    expect(lru.get("c", 100)).toBeUndefined();
    expect(lru.size).toBe(1);
  });

  it("prefers evicting an expired entry over a live one", () => {
    const lru = new ExpiringLru<string>(2);
    lru.set("live", "L", 1000, 0);
    lru.set("dead", "D", 10, 0);
    lru.get("live", 5); // order: dead, live
    lru.get("dead", 5); // order: live, dead
    lru.set("new", "N", 1000, 20); // dead has expired: it goes, live stays
    expect(lru.get("live", 20)).toBe("L");
    expect(lru.get("new", 20)).toBe("N");
  });

  it("does not store an entry that is already expired", () => {
    const lru = new ExpiringLru<string>(1);
    lru.set("x", "X", 5, 5);
    expect(lru.size).toBe(0);
  });
});

describe("ReplayCache", () => {
  it("reports a key seen before its expiry and forgets it after", () => {
    const cache = new ReplayCache(10);
    expect(cache.checkAndRecord("k", 100, 0)).toBe("fresh");
    expect(cache.checkAndRecord("k", 200, 99)).toBe("replayed");
    expect(cache.checkAndRecord("k", 200, 100)).toBe("fresh");
  });

  it("is fail-closed when full of live entries, and makes room as they expire", () => {
    const cache = new ReplayCache(2, 1000);
    expect(cache.checkAndRecord("a", 50, 0)).toBe("fresh");
    expect(cache.checkAndRecord("b", 500, 0)).toBe("fresh");
    expect(cache.checkAndRecord("c", 500, 10)).toBe("full");
    expect(cache.checkAndRecord("c", 500, 50)).toBe("fresh"); // a expired at the front
    // Out of expiry order: the expired entry sits behind a live one; a sweep finds it.
    const ooo = new ReplayCache(2, 1000);
    ooo.checkAndRecord("long", 10_000, 0);
    ooo.checkAndRecord("short", 100, 0);
    expect(ooo.checkAndRecord("x", 10_000, 200)).toBe("fresh");
    expect(ooo.size).toBe(2);
  });
});
