/**
 * Timers as a parameter, like the clock (src/domain/clock.ts): the gateway schedules deadlines, send
 * bounds, handshake limits and heartbeats only through this interface, so tests drive time by hand
 * with `ManualTimers` and assert exact deadline semantics.
 */
import type { Clock, ManualClock } from "../../domain/clock.js";

/** Opaque timer handle. */
export type TimerHandle = { readonly __timer: true } | NodeJS.Timeout;

export interface Timers {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Real timers, unref'd: a pending deadline never keeps the process alive on its own. */
export const systemTimers: Timers = Object.freeze({
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const t = setTimeout(callback, Math.max(0, delayMs));
    t.unref();
    return t;
  },
  clearTimeout(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
});

interface ManualTimer {
  readonly __timer: true;
  readonly dueMs: number;
  readonly seq: number;
  callback: (() => void) | null;
}

/**
 * Timers that fire only when a test advances time. Bound to a ManualClock: `advance(ms)` moves the
 * clock forward timer by timer, firing each due timer with the clock at its due time.
 */
export class ManualTimers implements Timers {
  private timers: ManualTimer[] = [];
  private seq = 0;

  constructor(readonly clock: ManualClock) {}

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const t: ManualTimer = { __timer: true, dueMs: this.clock.nowMs() + Math.max(0, delayMs), seq: this.seq++, callback };
    this.timers.push(t);
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    const t = handle as ManualTimer;
    t.callback = null;
    this.timers = this.timers.filter((x) => x !== t);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in due order (ties: scheduling order). */
  advance(ms: number): void {
    const target = this.clock.nowMs() + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.timers) {
        if (t.dueMs <= target && (next === undefined || t.dueMs < next.dueMs || (t.dueMs === next.dueMs && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.timers = this.timers.filter((x) => x !== next);
      if (next.dueMs > this.clock.nowMs()) this.clock.set(next.dueMs);
      const cb = next.callback;
      next.callback = null;
      cb?.();
    }
    this.clock.set(target);
  }
}

/** A clock and timers that agree (the system pair). */
export interface TimeSource {
  readonly clock: Clock;
  readonly timers: Timers;
}
