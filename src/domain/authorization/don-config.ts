/**
 * The relay DON's own config, and the check that an enclave's claimed config equals it.
 *
 * Upstream CL112-01 (PRIV-458): the enclave verifies answers against the signer set and F it was
 * given; if a relay node signed answers for a request naming another set, an attacker who controls
 * that set could forge the quorum. So each node refuses any request whose claimed config is not
 * exactly its own — the same signer SET (order-free, no duplicates) and the same F. (Upstream accepts
 * a higher F; issue 4 asks for equality, which is also what the enclave's verification assumes.)
 */
import type { EnclaveConfig } from "../../contract/index.js";

export interface DonConfig {
  readonly donId: string;
  /** Members' raw 32-byte ed25519 public keys, sorted bytewise. */
  readonly signers: readonly Uint8Array[];
  readonly f: number;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/**
 * Builds a frozen DON config: signers copied and sorted. Throws on duplicates or bad keys, and when
 * N < 3F+1 (a DON that cannot tolerate F faults must not pretend to).
 */
export function createDonConfig(input: { donId: string; signers: readonly Uint8Array[]; f: number }): DonConfig {
  if (input.donId === "") throw new Error("donId is required");
  if (!Number.isSafeInteger(input.f) || input.f < 0) throw new Error("f must be a non-negative integer");
  const signers = input.signers.map((s, i) => {
    if (!(s instanceof Uint8Array) || s.length !== 32) throw new Error(`signers[${i}] must be a 32-byte ed25519 public key`);
    return Uint8Array.from(s);
  });
  signers.sort(compareBytes);
  for (let i = 1; i < signers.length; i++) {
    if (compareBytes(signers[i - 1]!, signers[i]!) === 0) throw new Error(`signer ${hex(signers[i]!)} is listed twice`);
  }
  if (signers.length < 3 * input.f + 1) {
    throw new Error(`a DON with f=${input.f} needs at least ${3 * input.f + 1} signers, got ${signers.length}`);
  }
  return Object.freeze({ donId: input.donId, signers: Object.freeze(signers), f: input.f });
}

export type DonConfigVerdict = { readonly kind: "match" } | { readonly kind: "mismatch"; readonly reason: string };

const MATCH: DonConfigVerdict = Object.freeze({ kind: "match" });

/**
 * Compares a claimed config with the node's own; the reason says what differs, in upstream's order
 * (F, then count, then members). The claimed signers are assumed 32 bytes each (params validation).
 */
export function checkEnclaveConfig(claimed: EnclaveConfig, own: DonConfig): DonConfigVerdict {
  if (claimed.f !== own.f) {
    const relation = claimed.f < own.f ? "below" : "above";
    return { kind: "mismatch", reason: `enclave config F ${claimed.f} is ${relation} this DON's F ${own.f}` };
  }
  if (claimed.signers.length !== own.signers.length) {
    return {
      kind: "mismatch",
      reason: `enclave config signers count mismatch: enclave reports ${claimed.signers.length}, expected ${own.signers.length}`,
    };
  }
  // Sort a shallow copy (N is small), then compare with our sorted list: same length, no
  // duplicates and every claimed key a member ⇒ the same set.
  const sorted = claimed.signers.slice().sort(compareBytes);
  for (let i = 1; i < sorted.length; i++) {
    if (compareBytes(sorted[i - 1]!, sorted[i]!) === 0) {
      return { kind: "mismatch", reason: `enclave config signer mismatch: ${hex(sorted[i]!)} is listed twice` };
    }
  }
  for (let i = 0; i < sorted.length; i++) {
    if (compareBytes(own.signers[i]!, sorted[i]!) === 0) continue;
    const theirs = sorted[i]!;
    // The first difference in two sorted lists of equal length: either theirs is not ours, or the
    // key of ours at this position is absent from theirs.
    const member = own.signers.some((s) => compareBytes(s, theirs) === 0);
    return {
      kind: "mismatch",
      reason: member
        ? `enclave config signer mismatch: ${hex(own.signers[i]!)} is missing`
        : `enclave config signer mismatch: ${hex(theirs)} is not a member of this DON`,
    };
  }
  return MATCH;
}
