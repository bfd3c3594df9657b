/**
 * One request's lifetime: aborted by its own deadline (reason `RequestDeadlineExceeded`), by the
 * parent (a RelayCancel, the stream closing, the unary caller going away), or explicitly. The signal
 * reaches the Vault/Capability call, so an abandoned request stops costing anything.
 */
import { RequestDeadlineExceeded } from "./relay-handler.js";

export class RequestScope {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onParentAbort: (() => void) | undefined;

  constructor(
    timeoutMs: number,
    private readonly parent?: AbortSignal,
  ) {
    this.timer = setTimeout(() => this.controller.abort(new RequestDeadlineExceeded(timeoutMs)), timeoutMs);
    if (parent !== undefined) {
      if (parent.aborted) {
        this.controller.abort(parent.reason);
      } else {
        this.onParentAbort = () => this.controller.abort(parent.reason);
        parent.addEventListener("abort", this.onParentAbort, { once: true });
      }
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    this.controller.abort(reason);
  }

  /** Stops the timer and unhooks from the parent; call once the request is answered. */
  dispose(): void {
    clearTimeout(this.timer);
    if (this.onParentAbort !== undefined) this.parent?.removeEventListener("abort", this.onParentAbort);
  }
}

/** min(requested, max); 0 or absent means "no deadline given" (max); a passed deadline, 1 ms. */
export function effectiveTimeoutMs(requestedMs: number | undefined, maxMs: number): number {
  if (requestedMs === undefined || requestedMs === 0) return maxMs;
  return Math.max(1, Math.min(requestedMs, maxMs));
}
