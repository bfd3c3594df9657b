/**
 * The real edge check: the relay nodes' attestation verifier (src/domain/attestation), run once at
 * the gateway before fan-out. A forged, stale or replayed request is refused here instead of costing
 * every node a verification (CL112-03); the nodes still decide for themselves with their own verifier.
 *
 * The sender — the identity that scopes request ids and per-sender rate limits — is the attested
 * enclave: its session key in binding mode (b), else the document's module id.
 */
import { Code } from "@connectrpc/connect";
import type { RelayParams } from "../../contract/index.js";
import type { AttestationVerifier } from "../../domain/attestation/index.js";
import type { EdgeCheck, EdgeVerdict } from "./edge.js";

export function attestationEdge(verifier: AttestationVerifier): EdgeCheck {
  return Object.freeze({
    async check(params: RelayParams, bindingHash: Uint8Array): Promise<EdgeVerdict> {
      const attestation = params.value.attestation;
      if (attestation === undefined || attestation.document.length === 0) {
        return { kind: "rejected", code: Code.PermissionDenied, reason: "attestation: missing attestation document" };
      }
      const requestTimestampMs = Number(params.value.timestampMs);
      // Off the event loop on a new document (its P-384 signatures run on the thread pool), so a new
      // session does not stall every other request the gateway is relaying.
      const verdict =
        attestation.sessionSignature.length === 0
          ? await verifier.checkRequestAsync(attestation.document, { mode: "user_data", bindingHash, requestTimestampMs })
          : await verifier.checkRequestAsync(attestation.document, {
              mode: "session_signature",
              bindingHash,
              requestTimestampMs,
              sessionSignature: attestation.sessionSignature,
            });
      if (verdict.kind === "rejected") {
        // A full replay cache says nothing about the request: retry later.
        const code = verdict.code === "replay_cache_full" ? Code.ResourceExhausted : Code.PermissionDenied;
        return { kind: "rejected", code, reason: verdict.reason };
      }
      const keys = verdict.document.sessionKeys;
      const senderId =
        keys !== null
          ? `session:${Buffer.from(keys.sessionPublicKey).toString("hex")}`
          : `module:${verdict.document.moduleId}`;
      return { kind: "ok", senderId };
    },
  });
}
