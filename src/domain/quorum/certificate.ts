/**
 * Quorum certificate verification: what the enclave (and the gateway, per answer) checks before
 * using a relay answer.
 *
 * F+1 suffices: honest nodes return byte-identical results, so F+1 distinct members signing the same
 * result hash include at least one honest node (upstream QuorumFPlusOne). The result hash binds the
 * result to the request's binding hash, so a certificate can only vouch for this request's answer.
 */
import { answerSignaturePayload } from "../relay-layouts.js";
import type { EnclaveConfig, QuorumCertificate } from "../../contract/index.js";
import { ed25519Verify } from "../crypto/ed25519.js";

export type CertificateVerdict =
  | { kind: "valid"; signers: Uint8Array[] }
  | { kind: "invalid"; reason: string };

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/**
 * Checks that `certificate` holds at least F+1 valid signatures from distinct members of `config`
 * over `expectedResultHash` (recomputed by the caller from the request and the result it received).
 */
export function verifyQuorumCertificate(
  certificate: QuorumCertificate | undefined,
  expectedResultHash: Uint8Array,
  config: Pick<EnclaveConfig, "signers" | "f">,
): CertificateVerdict {
  if (certificate === undefined) return { kind: "invalid", reason: "quorum certificate missing" };
  if (Buffer.compare(certificate.resultHash, expectedResultHash) !== 0) {
    return { kind: "invalid", reason: "quorum certificate is for another result or request" };
  }
  const members = new Set(config.signers.map(hex));
  const required = config.f + 1;
  const counted = new Map<string, Uint8Array>();
  const payload = answerSignaturePayload(expectedResultHash);
  for (const sig of certificate.signatures) {
    const id = hex(sig.signer);
    if (!members.has(id) || counted.has(id)) continue;
    if (!ed25519Verify(sig.signer, payload, sig.signature)) continue;
    counted.set(id, sig.signer);
  }
  if (counted.size < required) {
    return {
      kind: "invalid",
      reason: `quorum certificate has ${counted.size} valid member signatures, need ${required}`,
    };
  }
  return { kind: "valid", signers: [...counted.values()] };
}
