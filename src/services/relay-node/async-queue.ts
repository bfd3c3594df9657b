/**
 * A push-fed async iterable: the node's outbound half of the ConnectNode stream. Connect consumes
 * it as the HTTP/2 stream accepts writes; answers are pushed as they complete, in any order, so no
 * request waits behind another.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private closed = false;

  /** Queues `item`; false (and dropped) once the queue is closed. */
  push(item: T): boolean {
    if (this.closed) return false;
    const waiter = this.waiting;
    if (waiter !== null) {
      this.waiting = null;
      waiter({ value: item, done: false });
    } else {
      this.items.push(item);
    }
    return true;
  }

  /** Ends the iteration after the queued items. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiter = this.waiting;
    if (waiter !== null) {
      this.waiting = null;
      waiter({ value: undefined, done: true });
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: () => {
        this.close();
        this.items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      // Connect aborts a request stream by throwing into it (makeIterableAbortable requires this):
      // behave like a generator that does not catch — end, and rethrow.
      throw: (err: unknown) => {
        this.close();
        this.items.length = 0;
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      },
    };
  }
}
