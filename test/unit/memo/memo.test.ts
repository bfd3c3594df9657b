import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import { Memo } from "../../../src/domain/memo/memo.js";

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("Memo", () => {
  it("runs one computation for concurrent callers of a key and gives them all the same value", async () => {
    const clock = new ManualClock(1_000);
    const memo = new Memo<object>({ ttlMs: 100, maxEntries: 10, clock });
    const gate = deferred<object>();
    let runs = 0;
    const compute = (): Promise<object> => {
      runs++;
      return gate.promise;
    };
    const callers = Array.from({ length: 8 }, () => memo.getOrCompute("k", compute));
    expect(memo.running).toBe(1);
    const value = { answer: 42 };
    gate.resolve(value);
    const results = await Promise.all(callers);
    expect(runs).toBe(1);
    expect(results.map((r) => r.source)).toEqual(["computed", ...Array(7).fill("joined")]);
    for (const r of results) expect(r.value).toBe(value);
    expect(await memo.getOrCompute("k", compute)).toEqual({ value, source: "hit" });
    expect(runs).toBe(1);
  });

  it("serves a value for ttlMs after its computation finished, then computes afresh", async () => {
    const clock = new ManualClock(0);
    const memo = new Memo<number>({ ttlMs: 100, maxEntries: 10, clock });
    let n = 0;
    const compute = async (): Promise<number> => ++n;
    expect((await memo.getOrCompute("k", compute)).value).toBe(1);
    clock.advance(99);
    expect(await memo.getOrCompute("k", compute)).toEqual({ value: 1, source: "hit" });
    clock.advance(1);
    expect(await memo.getOrCompute("k", compute)).toEqual({ value: 2, source: "computed" });
  });

  it("never memoizes a failure: waiting callers share it, the next caller retries", async () => {
    const clock = new ManualClock(0);
    const memo = new Memo<string>({ ttlMs: 100, maxEntries: 10, clock });
    const gate = deferred<string>();
    const a = memo.getOrCompute("k", () => gate.promise);
    const b = memo.getOrCompute("k", () => Promise.resolve("unused"));
    gate.reject(new Error("boom"));
    await expect(a).rejects.toThrow("boom");
    await expect(b).rejects.toThrow("boom");
    expect(memo.running).toBe(0);
    expect(await memo.getOrCompute("k", async () => "ok")).toEqual({ value: "ok", source: "computed" });
  });

  it("turns a synchronous throw into a rejection", async () => {
    const memo = new Memo<string>({ ttlMs: 100, maxEntries: 10, clock: new ManualClock(0) });
    await expect(
      memo.getOrCompute("k", () => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
    expect(memo.running).toBe(0);
  });

  it("keeps at most maxEntries, dropping the least recently used", async () => {
    const clock = new ManualClock(0);
    const memo = new Memo<string>({ ttlMs: 1_000, maxEntries: 2, clock });
    await memo.getOrCompute("a", async () => "A");
    await memo.getOrCompute("b", async () => "B");
    expect(memo.peek("a")).toBe("A"); // a is now the most recent
    await memo.getOrCompute("c", async () => "C");
    expect(memo.size).toBe(2);
    expect(memo.peek("b")).toBeUndefined();
    expect(memo.peek("a")).toBe("A");
    expect(memo.peek("c")).toBe("C");
  });

  it("prefers dropping an expired entry to the least recently used live one", async () => {
    const clock = new ManualClock(0);
    const memo = new Memo<string>({ ttlMs: 100, maxEntries: 2, clock });
    await memo.getOrCompute("a", async () => "A"); // expires at 100
    clock.set(50);
    await memo.getOrCompute("b", async () => "B"); // expires at 150
    clock.set(60);
    expect(memo.peek("a")).toBe("A"); // recency order is now b, a
    clock.set(110); // a expired, b live but least recently used
    await memo.getOrCompute("c", async () => "C");
    expect(memo.peek("b")).toBe("B");
    expect(memo.peek("c")).toBe("C");
  });

  it("bounds the total weight and does not keep a value heavier than the budget", async () => {
    const clock = new ManualClock(0);
    const memo = new Memo<string>({ ttlMs: 1_000, maxEntries: 100, maxWeight: 10, weigh: (v) => v.length, clock });
    await memo.getOrCompute("a", async () => "aaaa");
    await memo.getOrCompute("b", async () => "bbbb");
    expect(memo.weight).toBe(8);
    await memo.getOrCompute("c", async () => "cccc");
    expect(memo.weight).toBe(8);
    expect(memo.peek("a")).toBeUndefined();
    const huge = await memo.getOrCompute("h", async () => "x".repeat(11));
    expect(huge.value).toHaveLength(11);
    expect(memo.peek("h")).toBeUndefined();
    expect(memo.weight).toBe(8);
  });

  it("with ttlMs 0 only shares running computations", async () => {
    const memo = new Memo<number>({ ttlMs: 0, maxEntries: 10, clock: new ManualClock(0) });
    let n = 0;
    const [a, b] = await Promise.all([memo.getOrCompute("k", async () => ++n), memo.getOrCompute("k", async () => ++n)]);
    expect([a.value, b.value]).toEqual([1, 1]);
    expect((await memo.getOrCompute("k", async () => ++n)).value).toBe(2);
  });

  it("refuses nonsensical bounds", () => {
    const clock = new ManualClock(0);
    expect(() => new Memo({ ttlMs: -1, maxEntries: 1, clock })).toThrow("ttlMs");
    expect(() => new Memo({ ttlMs: 1, maxEntries: 0, clock })).toThrow("maxEntries");
    expect(() => new Memo({ ttlMs: 1, maxEntries: 1, maxWeight: 0, clock })).toThrow("maxWeight");
  });
});
