/**
 * Deadlines for many pending calls on one timer: an indexed binary min-heap of items ordered by
 * `deadlineAtMs` (ties: insertion order), with one timer armed for the earliest.
 *
 * Why not a timer per call: a Node `Timeout` and its closure cost about 200 bytes for as long as the
 * call is pending, and the gateway holds one per request in flight (10 000 in the memory target of
 * issue 3). Here an item costs one array slot and two small-integer fields of its own.
 *
 * Removing an item (its call finished first) is O(log n) and leaves the timer alone unless the queue
 * is now empty: a timer left armed for a removed head fires, finds nothing due, and re-arms for the
 * new head. Adding an item earlier than the armed time re-arms. Time comes from the injected clock and timers, so tests drive
 * it by hand (ManualTimers) and expiry happens exactly at the deadline.
 */

/** What the queue needs of an item: its deadline and two fields the queue owns. */
export interface Deadlined {
  readonly deadlineAtMs: number;
  /** The item's index in the heap, -1 when not queued. Owned by the queue. */
  deadlineSlot: number;
  /** Insertion order, for ties. Owned by the queue. */
  deadlineSeq: number;
}

/** The timer half of the injected time source (src/services/gateway/timers.ts satisfies it). */
export interface DeadlineTimers<H> {
  setTimeout(callback: () => void, delayMs: number): H;
  clearTimeout(handle: H): void;
}

export class DeadlineQueue<T extends Deadlined, H = unknown> {
  private readonly heap: T[] = [];
  private seq = 0;
  private timer: H | undefined = undefined;
  /** When the armed timer fires (ms, on the injected clock); Infinity when none is armed. */
  private armedAtMs = Infinity;
  private readonly fire = (): void => this.expireDue();

  constructor(
    private readonly timers: DeadlineTimers<H>,
    private readonly nowMs: () => number,
    /** Called once for each item whose deadline passed, in deadline order; the item is already removed. */
    private readonly onExpired: (item: T) => void,
  ) {}

  /** Items queued. */
  get size(): number {
    return this.heap.length;
  }

  /** Queues `item` until its deadline (it must not be queued already). */
  add(item: T): void {
    item.deadlineSeq = this.seq++;
    item.deadlineSlot = this.heap.length;
    this.heap.push(item);
    this.up(item.deadlineSlot);
    if (item.deadlineAtMs < this.armedAtMs) this.arm(item.deadlineAtMs);
  }

  /** Removes `item` if queued (idempotent). */
  remove(item: T): void {
    const i = item.deadlineSlot;
    if (i < 0) return;
    item.deadlineSlot = -1;
    const last = this.heap.pop() as T;
    if (this.heap.length === 0) this.disarm();
    if (last === item) return;
    this.heap[i] = last;
    last.deadlineSlot = i;
    this.down(i);
    this.up(last.deadlineSlot);
  }

  /** Stops the timer and forgets every item (shutdown). */
  clear(): void {
    for (const item of this.heap) item.deadlineSlot = -1;
    this.heap.length = 0;
    this.disarm();
  }

  private expireDue(): void {
    this.timer = undefined;
    this.armedAtMs = Infinity;
    const now = this.nowMs();
    for (;;) {
      const head = this.heap[0];
      if (head === undefined) return;
      if (head.deadlineAtMs > now) {
        this.arm(head.deadlineAtMs);
        return;
      }
      this.remove(head);
      this.onExpired(head);
    }
  }

  private arm(atMs: number): void {
    this.disarm();
    this.armedAtMs = atMs;
    this.timer = this.timers.setTimeout(this.fire, Math.max(0, atMs - this.nowMs()));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAtMs = Infinity;
  }

  private before(a: T, b: T): boolean {
    return a.deadlineAtMs < b.deadlineAtMs || (a.deadlineAtMs === b.deadlineAtMs && a.deadlineSeq < b.deadlineSeq);
  }

  private up(i: number): void {
    const heap = this.heap;
    const item = heap[i] as T;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p] as T;
      if (!this.before(item, parent)) break;
      heap[i] = parent;
      parent.deadlineSlot = i;
      i = p;
    }
    heap[i] = item;
    item.deadlineSlot = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i] as T;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(heap[r] as T, heap[l] as T) ? r : l;
      const child = heap[c] as T;
      if (!this.before(child, item)) break;
      heap[i] = child;
      child.deadlineSlot = i;
      i = c;
    }
    heap[i] = item;
    item.deadlineSlot = i;
  }
}
