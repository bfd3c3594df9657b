/**
 * Direct calls of the relay nodes' attestation verifier (src/domain/attestation) on malformed
 * documents: `verifyDocument`, `checkRequest` in binding mode (a) for the binding hash the document
 * was made for, and `checkRequest` in mode (b) with a random session signature. The verifier must
 * never throw on document bytes, must refuse every document the generator marks as must-reject,
 * and must refuse every mode (b) request (no document here carries the session key that signed).
 */
import type { AttestationVerdict, AttestationVerifier } from "../../../src/domain/attestation/index.js";
import type { DocumentFactory } from "./attestation-gen.js";
import type { Prng } from "./prng.js";

export interface DirectVerifyReport {
  readonly documents: number;
  readonly calls: number;
  /** Calls that threw instead of returning a verdict (must be 0). */
  readonly threw: number;
  /** Verdicts "ok" for documents or requests that must be refused (must be 0). */
  readonly wronglyAccepted: number;
  /** Documents accepted that may be (neutral encodings, valid documents). */
  readonly acceptedAllowed: number;
  readonly rejectionsByCode: Readonly<Record<string, number>>;
  readonly examples: readonly string[];
}

export function runDirectVerify(verifier: AttestationVerifier, docs: DocumentFactory, rng: Prng, count: number): DirectVerifyReport {
  let calls = 0;
  let threw = 0;
  let wronglyAccepted = 0;
  let acceptedAllowed = 0;
  const rejectionsByCode: Record<string, number> = {};
  const examples: string[] = [];
  const note = (text: string): void => {
    if (examples.length < 10) examples.push(text);
  };
  const call = (what: string, variant: string, bytes: Uint8Array, fn: () => AttestationVerdict): AttestationVerdict | undefined => {
    calls++;
    try {
      const v = fn();
      if (v.kind === "rejected") rejectionsByCode[v.code] = (rejectionsByCode[v.code] ?? 0) + 1;
      return v;
    } catch (error) {
      threw++;
      // The whole document, so the throw reproduces from the report alone.
      note(`${what} threw on ${variant} (${error instanceof Error ? error.message : String(error)}): hex:${Buffer.from(bytes).toString("hex")}`);
      return undefined;
    }
  };
  for (let i = 0; i < count; i++) {
    const bindingHash = rng.bytes(32);
    const doc = docs.malformed(rng, bindingHash);
    const nowMs = Date.now();
    const d = call("verifyDocument", doc.variant, doc.bytes, () => verifier.verifyDocument(doc.bytes));
    if (d?.kind === "ok") {
      if (doc.mustReject) {
        wronglyAccepted++;
        note(`verifyDocument accepted ${doc.variant}: hex:${Buffer.from(doc.bytes.subarray(0, 400)).toString("hex")}`);
      } else acceptedAllowed++;
    }
    const a = call("checkRequest(user_data)", doc.variant, doc.bytes, () => verifier.checkRequest(doc.bytes, { mode: "user_data", bindingHash, requestTimestampMs: nowMs }));
    if (a?.kind === "ok" && doc.requestMustReject) {
      wronglyAccepted++;
      note(`checkRequest(user_data) accepted ${doc.variant}`);
    }
    const b = call("checkRequest(session_signature)", doc.variant, doc.bytes, () =>
      verifier.checkRequest(doc.bytes, { mode: "session_signature", bindingHash: rng.bytes(32), requestTimestampMs: nowMs, sessionSignature: rng.bytes(rng.pick([64, 0, 63, 65])) }),
    );
    if (b?.kind === "ok") {
      wronglyAccepted++;
      note(`checkRequest(session_signature) accepted ${doc.variant} with a random session signature`);
    }
  }
  return { documents: count, calls, threw, wronglyAccepted, acceptedAllowed, rejectionsByCode, examples };
}
