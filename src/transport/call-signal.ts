/**
 * A call's cancellation, without AbortController's cost. A real AbortSignal is an EventTarget with
 * two Maps, about 700 bytes for as long as its call lives; a server holding thousands of pending
 * calls (the gateway) pays that per call. `CallSignal` is the part of an AbortSignal a handler
 * listens to, so an AbortSignal satisfies it and code written against it also takes connect's
 * `ctx.signal`; `CallAbort` is a field and a listener list.
 */

export interface CallSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { readonly once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/** A CallSignal and its trigger in one object. Every listener runs at most once. */
export class CallAbort implements CallSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined = undefined;

  get signal(): CallSignal {
    return this;
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i >= 0) this.listeners?.splice(i, 1);
  }

  /** Aborts once with `reason`, running the listeners; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners !== undefined) for (const l of listeners) l();
  }
}
