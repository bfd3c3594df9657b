/**
 * Adapts the attestation module's verifier (src/domain/attestation, docs/attestation.md) to the relay
 * node's AttestationPort: picks the binding mode from the request (an empty session signature means
 * mode (a), user_data = binding hash), and adds the relay-side checks the verifier leaves to it.
 */
import {
  createAttestationPolicy,
  createAttestationVerifier,
  type AttestationPolicyOptions,
  type AttestationVerifier,
} from "../../domain/attestation/index.js";
import type { Clock } from "../../domain/clock.js";
import type { AttestationCheck, AttestationCheckInput, AttestationPort } from "./ports.js";

const MISSING: AttestationCheck = Object.freeze({
  kind: "rejected",
  code: "missing",
  reason: "attestation: missing attestation document",
  cache: "miss",
});

export function attestationPortFromVerifier(verifier: AttestationVerifier): AttestationPort {
  return {
    devMode: verifier.policy.devMode,
    async verify(input: AttestationCheckInput): Promise<AttestationCheck> {
      const attestation = input.attestation;
      if (attestation === undefined || attestation.document.length === 0) return MISSING;
      const requestTimestampMs = Number(input.requestTimestampMs);
      // The async check: a new document's P-384 signatures run on the thread pool, in parallel,
      // while the event loop keeps serving other requests; a cached document needs no thread.
      const verdict =
        attestation.sessionSignature.length === 0
          ? await verifier.checkRequestAsync(attestation.document, { mode: "user_data", bindingHash: input.bindingHash, requestTimestampMs })
          : await verifier.checkRequestAsync(attestation.document, {
              mode: "session_signature",
              bindingHash: input.bindingHash,
              requestTimestampMs,
              sessionSignature: attestation.sessionSignature,
            });
      if (verdict.kind === "rejected") {
        // The replay cache being full says nothing about the request; other nodes may accept it.
        return verdict.code === "replay_cache_full" ? { ...verdict, nodeLocal: true } : verdict;
      }
      // Secrets are sealed to enclave_public_key; when the document attests the enclave's
      // encryption key, only that key may receive them (docs/attestation.md §4, mode b).
      const keys = verdict.document.sessionKeys;
      if (
        input.enclavePublicKey !== undefined &&
        keys !== null &&
        Buffer.compare(Buffer.from(keys.encryptionPublicKey), Buffer.from(input.enclavePublicKey)) !== 0
      ) {
        return {
          kind: "rejected",
          code: "encryption_key_mismatch",
          reason: "attestation: enclave_public_key is not the attested encryption key",
          cache: verdict.cache,
        };
      }
      return verdict;
    },
  };
}

/** The production wiring: a verifier built from the node's policy options and clock. */
export function createAttestationPort(options: AttestationPolicyOptions, clock: Clock): AttestationPort {
  return attestationPortFromVerifier(createAttestationVerifier({ policy: createAttestationPolicy(options), clock }));
}
