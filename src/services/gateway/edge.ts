/**
 * The edge check: the gateway runs the relay node's (cached) attestation check once before fanning a
 * request out, so a forged or stale request is refused at the edge instead of costing every node a
 * verification (issue 3, CL112-03). The nodes still decide for themselves.
 *
 * It also names the sender: the attested enclave identity that scopes request ids and per-sender
 * rate limits, so one caller cannot pre-claim another's ids.
 *
 * The real check (wired by the composition root) uses the attestation verifier in
 * src/domain/attestation/. Without one, `documentDigestEdge` is the documented fallback: it only
 * requires an attestation document and names the sender by the document's SHA-256. In binding mode (a)
 * every request carries a fresh document, so per-sender scoping then degrades to per-request scoping;
 * deployments should configure the real check.
 */
import { createHash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import type { RelayParams } from "../../contract/index.js";

export type EdgeVerdict =
  | { readonly kind: "ok"; readonly senderId: string }
  | { readonly kind: "rejected"; readonly code: Code; readonly reason: string };

export interface EdgeCheck {
  /** Decides whether `params` may fan out, and who sent it. `bindingHash` is the request's binding hash. */
  check(params: RelayParams, bindingHash: Uint8Array): Promise<EdgeVerdict> | EdgeVerdict;
}

/** Sender id of the fallback: "doc:" + lowercase hex SHA-256 of the attestation document. */
export function documentSenderId(document: Uint8Array): string {
  return "doc:" + createHash("sha256").update(document).digest("hex");
}

/** The fallback edge check used when none is configured (see the module comment). */
export const documentDigestEdge: EdgeCheck = Object.freeze({
  check(params: RelayParams): EdgeVerdict {
    const doc = params.value.attestation?.document;
    if (doc === undefined || doc.length === 0) {
      return { kind: "rejected", code: Code.InvalidArgument, reason: "attestation.document is required" };
    }
    return { kind: "ok", senderId: documentSenderId(doc) };
  },
});
