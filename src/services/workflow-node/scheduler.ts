/**
 * Timers are injected like the clock (src/domain/clock.ts), so the syncer's ticks, cron triggers and
 * execution deadlines run on fake time in tests. `systemScheduler` is the real one; `ManualScheduler`
 * fires due timers when a test advances its ManualClock.
 */
import type { ManualClock } from "../../domain/clock.js";

export interface TimerHandle {
  readonly id: number;
}

export interface Scheduler {
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node's own timers cap a delay at 2³¹−1 ms; longer ones are re-armed in steps. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export function createSystemScheduler(): Scheduler {
  let nextId = 1;
  const timers = new Map<number, NodeJS.Timeout>();
  const arm = (id: number, callback: () => void, remainingMs: number): void => {
    const step = Math.min(Math.max(0, remainingMs), MAX_TIMER_DELAY_MS);
    const timer = setTimeout(() => {
      if (remainingMs > MAX_TIMER_DELAY_MS) {
        arm(id, callback, remainingMs - MAX_TIMER_DELAY_MS);
        return;
      }
      timers.delete(id);
      callback();
    }, step);
    timer.unref?.();
    timers.set(id, timer);
  };
  return Object.freeze({
    setTimeout(callback: () => void, delayMs: number): TimerHandle {
      const id = nextId++;
      arm(id, callback, delayMs);
      return { id };
    },
    clearTimeout(handle: TimerHandle): void {
      const timer = timers.get(handle.id);
      if (timer !== undefined) clearTimeout(timer);
      timers.delete(handle.id);
    },
  });
}

/**
 * A scheduler on a ManualClock: `advance(ms)` moves the clock forward timer by timer, firing each
 * timer at its due time (in due order, ties in creation order) and letting the promise jobs it
 * started run before the next one.
 */
export class ManualScheduler implements Scheduler {
  private nextId = 1;
  private readonly timers = new Map<number, { dueMs: number; callback: () => void }>();

  constructor(readonly clock: ManualClock) {}

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { dueMs: this.clock.nowMs() + Math.max(0, delayMs), callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** How many timers are armed. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** The due time of the earliest armed timer, if any. */
  nextDueMs(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.timers.values()) if (earliest === undefined || timer.dueMs < earliest) earliest = timer.dueMs;
    return earliest;
  }

  async advance(ms: number): Promise<void> {
    const target = this.clock.nowMs() + ms;
    for (;;) {
      let dueId: number | undefined;
      let due: { dueMs: number; callback: () => void } | undefined;
      for (const [id, timer] of this.timers) {
        if (timer.dueMs <= target && (due === undefined || timer.dueMs < due.dueMs)) {
          dueId = id;
          due = timer;
        }
      }
      if (due === undefined || dueId === undefined) break;
      this.timers.delete(dueId);
      if (due.dueMs > this.clock.nowMs()) this.clock.set(due.dueMs);
      due.callback();
      await settle();
    }
    if (target > this.clock.nowMs()) this.clock.set(target);
    await settle();
  }
}

/** Lets already-queued promise jobs (and the jobs they queue) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
