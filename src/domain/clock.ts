/**
 * Time and randomness are parameters, never ambient: every component that needs "now" or random
 * bytes takes them from here, so tests can pin both and assert exact values.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

export type RandomBytes = (length: number) => Uint8Array;

export const systemClock: Clock = Object.freeze({ nowMs: () => Date.now() });

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private currentMs = 0) {}
  nowMs(): number {
    return this.currentMs;
  }
  advance(ms: number): void {
    this.currentMs += ms;
  }
  set(ms: number): void {
    this.currentMs = ms;
  }
}
