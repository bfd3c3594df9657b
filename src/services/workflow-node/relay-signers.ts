/**
 * Who vouched for a confidential execution's data: the distinct signers of the relay receipts the
 * enclave returned (confidential_workflows.proto `relay_receipts`), as the workflow node records
 * them (`workflow_executions.relay_signers`, ed25519 public keys in lowercase hex, sorted).
 *
 * The enclave verified every certificate against the DON config before use. This node does not know
 * the DON, but it re-checks what it can cheaply: each signature must verify over its receipt's
 * `result_hash` (answer payload, docs/relay-protocol.md), so a key is recorded only if it really
 * signed an answer — never because a response merely named it. A signature that fails is not
 * counted (and reported, for a warning). At most MAX_RELAY_RECEIPTS receipts are read: the contract's
 * bound, so a response that exceeds it cannot make this node verify without limit.
 */
import { answerSignaturePayload, type RelayReceipt } from "../../contract/index.js";
import { ed25519Verify } from "../../domain/crypto/ed25519.js";

/** The most receipts an Execute answer carries (confidential_workflows.proto). */
export const MAX_RELAY_RECEIPTS = 256;

export interface RelaySigners {
  /** Distinct signers whose signature verified, lowercase hex, sorted. */
  readonly signers: string[];
  /** Signatures that did not verify over their receipt's result hash (not counted). */
  readonly invalidSignatures: number;
  /** Receipts past MAX_RELAY_RECEIPTS (not read). */
  readonly ignoredReceipts: number;
}

export function relaySigners(receipts: readonly RelayReceipt[]): RelaySigners {
  const signers = new Set<string>();
  let invalidSignatures = 0;
  for (const receipt of receipts.slice(0, MAX_RELAY_RECEIPTS)) {
    const certificate = receipt.certificate;
    if (certificate === undefined) continue;
    const payload = answerSignaturePayload(certificate.resultHash);
    for (const sig of certificate.signatures) {
      if (ed25519Verify(sig.signer, payload, sig.signature)) signers.add(Buffer.from(sig.signer).toString("hex"));
      else invalidSignatures++;
    }
  }
  return { signers: [...signers].sort(), invalidSignatures, ignoredReceipts: Math.max(0, receipts.length - MAX_RELAY_RECEIPTS) };
}
