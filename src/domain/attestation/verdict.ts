/**
 * Verdicts of the attestation verifier. Each rejection has a closed `code` (a metric label) and a
 * `reason` an enclave operator can act on, always prefixed "attestation: ". Reasons are built only
 * from public facts (field names, sizes, times, certificate positions); they never echo request
 * data, keys or user_data.
 */
import type { EnclaveSessionKeys } from "./session-keys.js";

export const ATTESTATION_REJECTION_CODES = [
  "malformed",
  "untrusted_root",
  "chain_invalid",
  "leaf_key_not_p384",
  "signature_invalid",
  "debug_pcrs",
  "pcr_not_allowed",
  "certificate_not_valid",
  "document_too_old",
  "document_from_future",
  "binding_mismatch",
  "no_session_keys",
  "session_signature_invalid",
  "request_timestamp_out_of_window",
  "replayed_request",
  "replay_cache_full",
] as const;

export type AttestationRejectionCode = (typeof ATTESTATION_REJECTION_CODES)[number];

/** Whether the document cache answered ("hit") or a full verification ran ("miss"). */
export type CacheOutcome = "hit" | "miss";

/** A document that passed every time-independent check, as cached by the verifier. */
export interface VerifiedDocument {
  /** Lowercase hex SHA-256 of the document bytes (the cache key; safe to log). */
  readonly digestHex: string;
  readonly moduleId: string;
  readonly timestampMs: number;
  /** Index → lowercase hex. */
  readonly pcrs: Readonly<Record<number, string>>;
  /** Treat as read-only. */
  readonly publicKey: Uint8Array | null;
  /** Treat as read-only. */
  readonly userData: Uint8Array | null;
  /** Treat as read-only. */
  readonly nonce: Uint8Array | null;
  /** Present when `public_key` is a ccr-enclave-keys-v1 block (binding mode b). */
  readonly sessionKeys: EnclaveSessionKeys | null;
  /** The document is usable until this instant: min(timestamp + max age, earliest certificate expiry). */
  readonly usableUntilMs: number;
}

export type AttestationVerdict =
  | { readonly kind: "ok"; readonly document: VerifiedDocument; readonly cache: CacheOutcome }
  | {
      readonly kind: "rejected";
      readonly code: AttestationRejectionCode;
      readonly reason: string;
      readonly cache: CacheOutcome;
    };

export type AttestationRejected = Extract<AttestationVerdict, { kind: "rejected" }>;

export function rejected(code: AttestationRejectionCode, detail: string, cache: CacheOutcome): AttestationRejected {
  return Object.freeze({ kind: "rejected", code, reason: `attestation: ${detail}`, cache });
}
