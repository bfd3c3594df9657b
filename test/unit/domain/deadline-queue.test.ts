import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import { DeadlineQueue, type Deadlined } from "../../../src/domain/deadline-queue.js";
import { ManualTimers } from "../../../src/services/gateway/timers.js";

interface Item extends Deadlined {
  readonly name: string;
}

function item(name: string, deadlineAtMs: number): Item {
  return { name, deadlineAtMs, deadlineSlot: -1, deadlineSeq: 0 };
}

function setup() {
  const clock = new ManualClock(1_000);
  const timers = new ManualTimers(clock);
  const expired: string[] = [];
  const at: number[] = [];
  const queue = new DeadlineQueue<Item, ReturnType<ManualTimers["setTimeout"]>>(timers, () => clock.nowMs(), (i) => {
    expired.push(i.name);
    at.push(clock.nowMs());
  });
  return { clock, timers, expired, at, queue };
}

describe("DeadlineQueue", () => {
  it("expires each item exactly at its deadline, in deadline order, ties in insertion order", () => {
    const { timers, expired, at, queue } = setup();
    for (const [name, due] of [["c", 1_300], ["a", 1_100], ["b1", 1_200], ["b2", 1_200], ["d", 1_400]] as const) queue.add(item(name, due));
    expect(timers.pending).toBe(1); // one timer, whatever the count
    timers.advance(150);
    expect(expired).toEqual(["a"]);
    timers.advance(1_000);
    expect(expired).toEqual(["a", "b1", "b2", "c", "d"]);
    expect(at).toEqual([1_100, 1_200, 1_200, 1_300, 1_400]);
    expect(queue.size).toBe(0);
    expect(timers.pending).toBe(0);
  });

  it("never expires a removed item, and a removed head leaves the next on time", () => {
    const { timers, expired, at, queue } = setup();
    const items = Array.from({ length: 50 }, (_, i) => item(`i${i}`, 1_000 + ((i * 37) % 50) * 10 + 10));
    for (const i of items) queue.add(i);
    const removed = new Set(items.filter((_, k) => k % 3 === 0));
    for (const i of removed) queue.remove(i);
    queue.remove(items[0] as Item); // twice: nothing happens
    expect(queue.size).toBe(50 - removed.size);
    timers.advance(10_000);
    const kept = items.filter((i) => !removed.has(i)).sort((a, b) => a.deadlineAtMs - b.deadlineAtMs);
    expect(expired).toEqual(kept.map((i) => i.name));
    expect(at).toEqual(kept.map((i) => i.deadlineAtMs));
    expect(items.every((i) => i.deadlineSlot === -1)).toBe(true);
  });

  it("re-arms for an item earlier than the armed deadline, and stops its timer once empty", () => {
    const { timers, expired, at, queue } = setup();
    const late = item("late", 5_000);
    queue.add(late);
    queue.add(item("early", 1_050));
    expect(timers.pending).toBe(1);
    timers.advance(60);
    expect(expired).toEqual(["early"]);
    expect(at).toEqual([1_050]);
    queue.remove(late);
    expect(timers.pending).toBe(0);
  });

  it("takes items added while it expires others, and forgets everything on clear", () => {
    const { clock, timers, expired, queue } = setup();
    const chained = new DeadlineQueue<Item, ReturnType<ManualTimers["setTimeout"]>>(timers, () => clock.nowMs(), (i) => {
      expired.push(i.name);
      if (i.name === "first") {
        const next = item("added-on-expiry", clock.nowMs());
        chained.add(next);
      }
    });
    chained.add(item("first", 1_010));
    timers.advance(20);
    expect(expired).toEqual(["first", "added-on-expiry"]);
    queue.add(item("x", 1_100));
    queue.clear();
    expect(queue.size).toBe(0);
    timers.advance(1_000);
    expect(expired).toEqual(["first", "added-on-expiry"]);
    expect(timers.pending).toBe(0);
  });
});
