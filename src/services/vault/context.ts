/**
 * What every Vault handler shares: options, store, clock, randomness, logger and metrics.
 */
import type { Logger } from "pino";
import type { Clock, RandomBytes } from "../../domain/clock.js";
import type { VaultStore } from "../../store/vault-store.js";
import type { VaultMetrics } from "./metrics.js";
import type { VaultOptions } from "./options.js";

export interface VaultContext {
  readonly options: VaultOptions;
  readonly store: VaultStore;
  readonly clock: Clock;
  readonly randomBytes: RandomBytes;
  readonly logger: Logger;
  readonly metrics: VaultMetrics;
}
