/**
 * What the relay node needs from its collaborators, as small interfaces (ports), so the handler can
 * be tested with fakes and wired to the real modules by the composition root. Vault and Capability
 * are each one unary method: the node's default clients are grpc-js channels (dependency-clients.ts),
 * and a connect `Client<typeof Vault>` / `Client<typeof Capability>` satisfies the same ports
 * (tests back those with `createRouterTransport`).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  Attestation,
  CapabilityExecuteRequestSchema,
  CapabilityExecuteResponse,
  VaultGetSecretsRequestSchema,
  VaultGetSecretsResponse,
} from "../../contract/index.js";

/** Per-call options of a dependency call; a subset of connect's `CallOptions`. */
export interface DependencyCallOptions {
  /** Aborting cancels the call on the wire (RST_STREAM), so the server stops working on it. */
  readonly signal?: AbortSignal;
  /** The time left of the relay request, sent as the call's deadline (`grpc-timeout`). */
  readonly timeoutMs?: number;
}

/**
 * Failures reject with a ConnectError whose code is the server's (gRPC status numbers are Connect
 * codes) and whose raw message is the server's message.
 */
export interface VaultPort {
  getSecrets(request: MessageInitShape<typeof VaultGetSecretsRequestSchema>, options?: DependencyCallOptions): Promise<VaultGetSecretsResponse>;
}

export interface CapabilityPort {
  execute(request: MessageInitShape<typeof CapabilityExecuteRequestSchema>, options?: DependencyCallOptions): Promise<CapabilityExecuteResponse>;
}

export interface AttestationCheckInput {
  /** The request's attestation field, as received (may be absent). */
  readonly attestation: Attestation | undefined;
  /** The request's binding hash (`relayBindingHash`): user_data in mode (a), signed in mode (b). */
  readonly bindingHash: Uint8Array;
  /** The request's own timestamp, checked against the freshness window. */
  readonly requestTimestampMs: bigint;
  /** The node's clock. */
  readonly nowMs: number;
  /**
   * The key secrets will be encrypted to (secrets requests only). When the document attests session
   * keys, it must be the attested encryption key (docs/attestation.md §4).
   */
  readonly enclavePublicKey: Uint8Array | undefined;
}

export type AttestationCacheOutcome = "hit" | "miss";

/** Structurally a subset of the attestation module's `AttestationVerdict`. */
export type AttestationCheck =
  | { readonly kind: "ok"; readonly cache: AttestationCacheOutcome }
  | {
      readonly kind: "rejected";
      /** A closed set (metric label), e.g. "pcr_not_allowed". */
      readonly code: string;
      /** Operator-actionable, prefixed "attestation: ", never secret material. */
      readonly reason: string;
      readonly cache: AttestationCacheOutcome;
      /**
       * A node-local condition (e.g. the replay cache is full), not a verdict about the request:
       * answered as an unsigned NodeFailure (ResourceExhausted) so it never counts toward a quorum.
       */
      readonly nodeLocal?: boolean;
    };

export interface AttestationPort {
  /** Dev roots and debug PCRs accepted (exported as a gauge, logged at start). */
  readonly devMode: boolean;
  verify(input: AttestationCheckInput): AttestationCheck | Promise<AttestationCheck>;
}

/** Minimal structured logger (pino's Logger satisfies it). Never pass secret material. */
export interface RelayNodeLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: RelayNodeLogger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});
