import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ConnectNodeResponseSchema, type ConnectNodeResponse } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { NodeLink, type SendTarget } from "../../../src/services/gateway/node-link.js";
import { ManualTimers } from "../../../src/services/gateway/timers.js";

function request(id: number): ConnectNodeResponse {
  return create(ConnectNodeResponseSchema, { message: { case: "request", value: { relayId: BigInt(id) } } });
}

function setup(limit = 4, sendTimeoutMs = 100) {
  const clock = new ManualClock(1_000);
  const timers = new ManualTimers(clock);
  const failed: [SendTarget, number][] = [];
  const link = new NodeLink(3, 1, limit, sendTimeoutMs, clock, timers, { onSendFailed: (t, m) => failed.push([t, m]) });
  return { clock, timers, failed, link };
}

const target = (): { done: boolean } => ({ done: false });

describe("node link outbound queue", () => {
  it("hands messages to the writer in order", async () => {
    const { link } = setup();
    const w = link.writer();
    link.enqueue(request(1), target());
    link.enqueue(request(2), null);
    expect(((await w.next()).value as ConnectNodeResponse).message.value).toMatchObject({ relayId: 1n });
    expect(((await w.next()).value as ConnectNodeResponse).message.value).toMatchObject({ relayId: 2n });
  });

  it("never blocks the caller: a full queue refuses at once", () => {
    const { link } = setup(2);
    expect(link.enqueue(request(1), target())).toBe(true);
    expect(link.enqueue(request(2), target())).toBe(true);
    expect(link.enqueue(request(3), target())).toBe(false);
    expect(link.queued).toBe(2);
  });

  it("fails a relay request not sent within the send timeout, and only that node for that request", async () => {
    const { link, timers, failed } = setup(10, 100);
    const w = link.writer();
    const a = target();
    const b = target();
    link.enqueue(request(1), a);
    await w.next(); // handed to the transport, which never asks for more (the node reads nothing)
    timers.advance(50);
    link.enqueue(request(2), b);
    timers.advance(49);
    expect(failed).toEqual([]);
    timers.advance(1);
    expect(failed).toEqual([[a, 3]]);
    timers.advance(49);
    expect(failed).toEqual([[a, 3]]);
    timers.advance(1);
    expect(failed).toEqual([
      [a, 3],
      [b, 3],
    ]);
    expect(link.queued).toBe(0);
  });

  it("an item counts as sent once the writer asks for the next one", async () => {
    const { link, timers, failed } = setup(10, 100);
    const w = link.writer();
    link.enqueue(request(1), target());
    await w.next();
    const next = w.next(); // the transport wrote #1 and waits for more
    timers.advance(200);
    expect(failed).toEqual([]);
    link.close();
    expect((await next).done).toBe(true);
  });

  it("skips requests that completed while queued", async () => {
    const { link } = setup();
    const w = link.writer();
    const done = { done: true };
    link.enqueue(request(1), done);
    link.enqueue(request(2), target());
    expect(((await w.next()).value as ConnectNodeResponse).message.value).toMatchObject({ relayId: 2n });
  });

  it("close ends the writer with the error and refuses further messages", async () => {
    const { link } = setup();
    const w = link.writer();
    link.enqueue(request(1), target());
    link.close(new ConnectError("replaced", Code.Aborted));
    await expect(w.next()).rejects.toThrow("replaced");
    expect(link.enqueue(request(2), target())).toBe(false);
    expect(link.isOpen).toBe(false);
  });

  it("compacts a long-lived queue (no unbounded growth of consumed slots)", async () => {
    const { link } = setup(5_000, 1_000_000);
    const w = link.writer();
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3_000; i++) link.enqueue(request(i), target());
      for (let i = 0; i < 3_000; i++) await w.next();
    }
    expect(link.queued).toBe(0);
    expect((link as unknown as { items: unknown[] }).items.length).toBeLessThan(3_000);
  });
});

describe("manual timers", () => {
  it("fire in due order with the clock at each due time, only when advanced", () => {
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const fired: [string, number][] = [];
    timers.setTimeout(() => fired.push(["b", clock.nowMs()]), 20);
    timers.setTimeout(() => fired.push(["a", clock.nowMs()]), 10);
    const c = timers.setTimeout(() => fired.push(["c", clock.nowMs()]), 15);
    timers.clearTimeout(c);
    timers.advance(9);
    expect(fired).toEqual([]);
    timers.advance(100);
    expect(fired).toEqual([
      ["a", 10],
      ["b", 20],
    ]);
    expect(clock.nowMs()).toBe(109);
    expect(timers.pending).toBe(0);
  });
});
