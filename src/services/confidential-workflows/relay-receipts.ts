/**
 * Relay receipts (confidential_workflows.proto `RelayReceipt`): for every relay answer an execution
 * used, which DON members vouched for it. The enclave returns them with the execution's result so
 * the workflow node can record who signed the data the workflow ran on (issue 8, `ccr demo`).
 *
 * A receipt is made only where the answer's certificate verified (relay-client.ts): a successful
 * answer, an agreed RelayError, or an answer the enclave then refused as malformed — in each case
 * F+1 members signed exactly what the enclave received. Its certificate holds only the signatures
 * the enclave counted (valid, distinct DON members), so a caller reading the signers never sees a
 * stranger's key or a padding signature the gateway added.
 *
 * Bounded: one execution keeps at most MAX_RELAY_RECEIPTS receipts, the first ones in call order; a
 * guest that makes more relay calls runs on, its later receipts are counted as dropped (the host
 * logs a warning and counts them in `ccr_enclave_relay_receipts_dropped_total`). The bound keeps the
 * response small: at F = 1 a receipt is about 260 bytes, so 256 of them are ~66 KB.
 */
import { create } from "@bufbuild/protobuf";
import {
  answerSignaturePayload,
  QuorumCertificateSchema,
  RelayReceiptSchema,
  type NodeSignature,
  type QuorumCertificate,
  type RelayMethodName,
  type RelayReceipt,
} from "../../contract/index.js";
import { ed25519Verify } from "../../domain/crypto/ed25519.js";

/** The most receipts one execution returns (the contract's bound). */
export const MAX_RELAY_RECEIPTS = 256;

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** One execution's receipts, in call order, bounded. Dies with the execution. */
export class RelayReceipts {
  private readonly kept: RelayReceipt[] = [];
  private droppedCount = 0;

  constructor(private readonly max: number = MAX_RELAY_RECEIPTS) {}

  record(receipt: RelayReceipt): void {
    if (this.kept.length < this.max) this.kept.push(receipt);
    else this.droppedCount++;
  }

  /** Receipts past the bound, not kept. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** The kept receipts, in call order (a copy). */
  list(): RelayReceipt[] {
    return [...this.kept];
  }
}

/**
 * The receipt of a verified answer: `certificate` reduced to the signatures of `counted` (the
 * members `verifyQuorumCertificate` counted over `resultHash`), one per member, sorted by signer
 * bytes as relay.proto orders certificates.
 */
export function relayReceipt(
  method: RelayMethodName,
  requestId: string,
  certificate: QuorumCertificate,
  resultHash: Uint8Array,
  counted: readonly Uint8Array[],
): RelayReceipt {
  const wanted = new Set(counted.map(hex));
  const occurrences = new Map<string, number>();
  for (const sig of certificate.signatures) {
    const id = hex(sig.signer);
    occurrences.set(id, (occurrences.get(id) ?? 0) + 1);
  }
  const payload = answerSignaturePayload(resultHash);
  const kept = new Map<string, NodeSignature>();
  for (const sig of certificate.signatures) {
    const id = hex(sig.signer);
    if (!wanted.has(id) || kept.has(id)) continue;
    // A counted member's only entry is the one the verifier accepted; only a member listed more
    // than once (a gateway padding the certificate) needs its entries checked again to pick the
    // valid one.
    if ((occurrences.get(id) ?? 0) > 1 && !ed25519Verify(sig.signer, payload, sig.signature)) continue;
    kept.set(id, sig);
  }
  const signatures = [...kept.values()]
    .sort((a, b) => Buffer.compare(a.signer, b.signer))
    .map((sig) => ({ signer: sig.signer, signature: sig.signature }));
  return create(RelayReceiptSchema, {
    method,
    requestId,
    certificate: create(QuorumCertificateSchema, { resultHash: certificate.resultHash, signatures }),
  });
}
