/**
 * One authenticated node stream's outbound side: a bounded FIFO queue whose writer is the async
 * iterable the ConnectNode handler returns to the transport.
 *
 * Why a queue: a fan-out only enqueues (synchronous, never awaits a node), so a node that accepts no
 * writes can never stall the others (upstream #23293, where one blocked WebSocket held the whole
 * fan-out until the client's deadline). Connect pulls the next message only after the previous write
 * drained, so an item counts as sent when the writer is asked for the one after it.
 *
 * Bounds: the queue holds at most `limit` messages (a full queue fails that node for that request at
 * once), and every relay request must be sent within `sendTimeoutMs` of being queued, otherwise that
 * node counts as failed for that request (`onSendFailed`). One timer per link watches the oldest item.
 * Requests that completed while queued are skipped, not sent.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectNodeResponse } from "../../contract/index.js";
import type { Clock } from "../../domain/clock.js";
import type { TimerHandle, Timers } from "./timers.js";

/** What a queued relay request belongs to (the in-flight entry). */
export interface SendTarget {
  readonly done: boolean;
}

export interface NodeLinkHooks {
  /** A relay request could not be sent to this node in time; it counts as failed for that request. */
  onSendFailed(target: SendTarget, member: number): void;
}

interface OutboundItem {
  readonly message: ConnectNodeResponse;
  /** The relay request this message carries; null for cancels and heartbeats, or once accounted. */
  target: SendTarget | null;
  readonly enqueuedAtMs: number;
}

/** Compact the queue array once this many consumed slots sit at its front. */
const COMPACT_AFTER = 1024;

export class NodeLink {
  /** When the node last sent anything (handshake, answer or heartbeat). */
  lastHeardMs: number;
  private items: OutboundItem[] = [];
  private head = 0;
  /** Yielded to the transport, not yet confirmed written. */
  private outstanding: OutboundItem | null = null;
  private wake: (() => void) | null = null;
  /** undefined: open; null: closed cleanly; else closed with this error. */
  private closedWith: ConnectError | null | undefined = undefined;
  private sendTimer: TimerHandle | null = null;

  constructor(
    readonly member: number,
    readonly generation: number,
    private readonly limit: number,
    private readonly sendTimeoutMs: number,
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly hooks: NodeLinkHooks,
  ) {
    this.lastHeardMs = clock.nowMs();
  }

  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  /** Messages queued and not yet handed to the transport. */
  get queued(): number {
    return this.items.length - this.head;
  }

  /**
   * Queues a message. Returns false when the link is closed or the queue is full; for a relay request
   * that means the node failed for that request (the caller accounts for it).
   */
  enqueue(message: ConnectNodeResponse, target: SendTarget | null): boolean {
    if (this.closedWith !== undefined || this.items.length - this.head >= this.limit) return false;
    this.items.push({ message, target, enqueuedAtMs: this.clock.nowMs() });
    if (target !== null && this.sendTimer === null) this.armSendTimer(this.sendTimeoutMs);
    const w = this.wake;
    if (w !== null) {
      this.wake = null;
      w();
    }
    return true;
  }

  /** Ends the stream: the writer stops at once (throwing `error` if given) and queued items are dropped. */
  close(error?: ConnectError): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = error ?? null;
    this.items = [];
    this.head = 0;
    this.outstanding = null;
    if (this.sendTimer !== null) {
      this.timers.clearTimeout(this.sendTimer);
      this.sendTimer = null;
    }
    const w = this.wake;
    if (w !== null) {
      this.wake = null;
      w();
    }
  }

  /** The stream's outbound messages, for the ConnectNode handler to return to the transport. */
  async *writer(): AsyncGenerator<ConnectNodeResponse> {
    try {
      for (;;) {
        // Connect asks for the next message only after the previous one was written.
        this.outstanding = null;
        if (this.closedWith !== undefined) {
          if (this.closedWith !== null) throw this.closedWith;
          return;
        }
        const item = this.dequeue();
        if (item !== undefined) {
          this.outstanding = item;
          yield item.message;
          continue;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.close();
    }
  }

  private dequeue(): OutboundItem | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head] as OutboundItem;
      this.items[this.head] = undefined as unknown as OutboundItem;
      this.head++;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      } else if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      // A request that completed while queued is not worth sending.
      if (item.target !== null && item.target.done) continue;
      return item;
    }
    return undefined;
  }

  private armSendTimer(delayMs: number): void {
    this.sendTimer = this.timers.setTimeout(() => {
      this.sendTimer = null;
      this.expireSends();
    }, delayMs);
  }

  /** Fails every relay request that has waited `sendTimeoutMs` unsent, then re-arms for the oldest left. */
  private expireSends(): void {
    if (this.closedWith !== undefined) return;
    const now = this.clock.nowMs();
    const cutoff = now - this.sendTimeoutMs;
    const out = this.outstanding;
    if (out !== null && out.target !== null && out.enqueuedAtMs <= cutoff) {
      const t = out.target;
      out.target = null;
      if (!t.done) this.hooks.onSendFailed(t, this.member);
    }
    while (this.head < this.items.length) {
      const item = this.items[this.head] as OutboundItem;
      if (item.enqueuedAtMs > cutoff) break;
      this.items[this.head] = undefined as unknown as OutboundItem;
      this.head++;
      if (item.target !== null && !item.target.done) this.hooks.onSendFailed(item.target, this.member);
      if (this.closedWith !== undefined) return;
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    // Re-arm for the oldest relay request still waiting (the outstanding one first: it is older).
    let oldest: number | undefined;
    if (this.outstanding !== null && this.outstanding.target !== null) oldest = this.outstanding.enqueuedAtMs;
    else {
      for (let i = this.head; i < this.items.length; i++) {
        const item = this.items[i] as OutboundItem;
        if (item.target !== null) {
          oldest = item.enqueuedAtMs;
          break;
        }
      }
    }
    if (oldest !== undefined) this.armSendTimer(Math.max(1, oldest + this.sendTimeoutMs - now));
  }
}

/** The error a replaced stream ends with. */
export function replacedError(): ConnectError {
  return new ConnectError("stream replaced by a newer authenticated stream of the same node", Code.Aborted);
}
