/**
 * A call's cancellation, without AbortController's cost. A real AbortSignal is an EventTarget with
 * two Maps, about 700 bytes for as long as its call lives; a server holding thousands of pending
 * calls (the gateway) pays that per call. `CallSignal` is the part of an AbortSignal a handler
 * listens to, so an AbortSignal satisfies it and code written against it also takes connect's
 * `ctx.signal`; `CallAbort` is a field and a listener slot.
 *
 * Listeners may be functions or objects with `handleEvent()`, as for any EventTarget (DOM §2.7): a
 * long-lived per-call object (the gateway's in-flight entry) can listen as itself instead of
 * allocating a closure for every call.
 */

/** An abort listener: a function, or an object whose `handleEvent()` is called. */
export type CallAbortListener = (() => void) | { handleEvent(): void };

export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: CallAbortListener, options?: { readonly once?: boolean }): void;
  removeEventListener(type: "abort", listener: CallAbortListener): void;
}

function run(listener: CallAbortListener): void {
  if (typeof listener === "function") listener();
  else listener.handleEvent();
}

/** A CallSignal and its trigger in one object. Every listener runs at most once. */
export class CallAbort implements CallSignal {
  aborted = false;
  reason: unknown = undefined;
  /** One listener is the common case (the handler's), so it is held without an array. */
  private listeners: CallAbortListener | CallAbortListener[] | undefined = undefined;

  get signal(): CallSignal {
    return this;
  }

  addEventListener(_type: "abort", listener: CallAbortListener): void {
    if (this.aborted) return;
    const l = this.listeners;
    if (l === undefined) this.listeners = listener;
    else if (Array.isArray(l)) l.push(listener);
    else this.listeners = [l, listener];
  }

  removeEventListener(_type: "abort", listener: CallAbortListener): void {
    const l = this.listeners;
    if (l === listener) {
      this.listeners = undefined;
    } else if (Array.isArray(l)) {
      const i = l.indexOf(listener);
      if (i >= 0) l.splice(i, 1);
    }
  }

  /** Aborts once with `reason`, running the listeners; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const l = this.listeners;
    this.listeners = undefined;
    if (l === undefined) return;
    if (Array.isArray(l)) for (const x of l) run(x);
    else run(l);
  }
}
