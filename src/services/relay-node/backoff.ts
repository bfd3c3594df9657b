/**
 * Reconnect delays: capped exponential backoff with jitter. When a gateway restarts, every node of
 * every DON redials it; drawing part of each delay at random spreads those dials out.
 */
import type { BackoffConfig } from "./options.js";

/**
 * The delay before reconnect attempt `attempt` (0 = first retry):
 * base = min(maxDelayMs, initialDelayMs · multiplier^attempt), minus a random share of at most
 * jitterRatio of it. `random` returns a number in [0, 1) (Math.random in production).
 */
export function backoffDelayMs(attempt: number, config: BackoffConfig, random: () => number): number {
  const exp = config.initialDelayMs * Math.pow(config.multiplier, Math.max(0, attempt));
  const base = Math.min(config.maxDelayMs, exp);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(0, Math.round(base * (1 - config.jitterRatio * r)));
}
