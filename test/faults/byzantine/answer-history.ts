/**
 * Certified answers the enclave side has received, kept (bounded) so Byzantine parties can replay
 * them later: an old honest result, its result hash and its honest signatures are exactly what a
 * replaying node or gateway has to work with.
 */
import type { QuorumCertificate, RelayResult } from "../../../src/contract/index.js";
import type { Prng } from "../fuzz/prng.js";

export interface RecordedAnswer {
  readonly requestId: string;
  readonly result: RelayResult;
  readonly certificate: QuorumCertificate;
}

/** A ring buffer per result kind. */
export class AnswerHistory {
  private readonly rings = new Map<RelayResult["case"], RecordedAnswer[]>();
  private readonly next = new Map<RelayResult["case"], number>();

  constructor(private readonly capacity = 256) {}

  record(answer: RecordedAnswer): void {
    const kind = answer.result.case;
    let ring = this.rings.get(kind);
    if (ring === undefined) {
      ring = [];
      this.rings.set(kind, ring);
    }
    if (ring.length < this.capacity) {
      ring.push(answer);
      return;
    }
    const i = this.next.get(kind) ?? 0;
    ring[i] = answer;
    this.next.set(kind, (i + 1) % this.capacity);
  }

  /** A recorded answer of this kind for another request, if any. */
  pick(rng: Prng, kind: RelayResult["case"], notRequestId: string): RecordedAnswer | undefined {
    const ring = this.rings.get(kind);
    if (ring === undefined || ring.length === 0) return undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const a = rng.pick(ring);
      if (a.requestId !== notRequestId) return a;
    }
    return undefined;
  }
}
