/**
 * The gateway's quorum over signed relay answers: a pure state machine (no I/O, no clock).
 *
 * Votes are bucketed by result hash; each DON member votes at most once (the first answer per node
 * wins, later ones are duplicates); a member that failed, lost its stream or sent an invalid answer is
 * withdrawn. The outcome is a tagged union:
 *   - reached:      some bucket holds F+1 distinct members — F+1 suffices because honest nodes produce
 *                   byte-identical results, so F+1 matching signatures include at least one honest node
 *                   (upstream libocr QuorumFPlusOne, chainlink-relay.md §4.1);
 *   - unobtainable: maxBucket + remaining < F+1, i.e. no bucket can still reach F+1 even if every
 *                   member still pending votes for it (upstream errQuorumUnobtainable);
 *   - pending:      otherwise.
 * When several buckets qualify (possible only when votes are evaluated as a batch), the smallest
 * result hash wins, so the choice never depends on arrival order (upstream G2 aggregator tie-break).
 *
 * Callers verify each vote's signature against the member's key over the recomputed result hash
 * BEFORE voting; the tally trusts what it is given.
 */

/** One member's signed vote. `result` is carried along untouched (the caller's result type). */
export interface SignedVote<R> {
  /** Index of the member in the DON's member list. */
  readonly member: number;
  /** The result hash the member signed (32 bytes). */
  readonly resultHash: Uint8Array;
  /** The member's signature over the answer payload for `resultHash`. */
  readonly signature: Uint8Array;
  readonly result: R;
}

/** One signature of a reached quorum. */
export interface QuorumSignature {
  readonly signer: Uint8Array;
  readonly signature: Uint8Array;
}

export type QuorumOutcome<R> =
  | {
      readonly kind: "reached";
      readonly resultHash: Uint8Array;
      readonly result: R;
      /** Exactly F+1 signatures of distinct members, sorted by signer bytes. */
      readonly signatures: readonly QuorumSignature[];
    }
  | { readonly kind: "pending"; readonly requiredQuorum: number; readonly maxBucket: number; readonly remaining: number }
  | { readonly kind: "unobtainable"; readonly requiredQuorum: number; readonly maxBucket: number; readonly remaining: number };

/** What happened to a vote. */
export type VoteAdmission = "counted" | "duplicate";

/** A bucket of votes for one result hash. */
export interface VoteBucket<R> {
  readonly resultHash: Uint8Array;
  /** The first vote's result (every vote in the bucket hashes to the same value). */
  readonly result: R;
  readonly members: number[];
  readonly signatures: Uint8Array[];
}

/** Per-member state. */
export const MemberState = Object.freeze({ pending: 0, voted: 1, withdrawn: 2 } as const);
export type MemberStateValue = (typeof MemberState)[keyof typeof MemberState];

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const noBuckets: readonly VoteBucket<never>[] = Object.freeze([]);

/**
 * The incremental tally for one request. Per-request state is small: one byte per member and one
 * bucket per distinct result (normally one), both allocated on the first vote or withdrawal, so a
 * request still waiting on every member (most of a gateway's in-flight table) holds neither.
 */
export class QuorumTally<R> {
  readonly requiredQuorum: number;
  /** Per-member MemberState; undefined while every member is pending. */
  private states: Uint8Array | undefined = undefined;
  private bucketList: VoteBucket<R>[] | undefined = undefined;
  private pendingCount: number;
  private maxBucketSize = 0;

  /**
   * @param members the DON members' public keys, in member-index order (distinct).
   * @param f the number of faulty members tolerated; a quorum is F+1.
   */
  constructor(
    private readonly members: readonly Uint8Array[],
    f: number,
  ) {
    if (!Number.isInteger(f) || f < 0) throw new RangeError(`f must be a non-negative integer, got ${f}`);
    this.requiredQuorum = f + 1;
    this.pendingCount = members.length;
  }

  get memberCount(): number {
    return this.members.length;
  }

  /** Members that may still vote. */
  get remaining(): number {
    return this.pendingCount;
  }

  /** The size of the largest bucket. */
  get maxBucket(): number {
    return this.maxBucketSize;
  }

  get buckets(): readonly VoteBucket<R>[] {
    return this.bucketList ?? noBuckets;
  }

  stateOf(member: number): MemberStateValue {
    this.checkMember(member);
    return (this.states?.[member] ?? MemberState.pending) as MemberStateValue;
  }

  private ownStates(): Uint8Array {
    return (this.states ??= new Uint8Array(this.members.length));
  }

  /** Counts the member's first vote; any later answer from the same member is a duplicate. */
  vote(v: SignedVote<R>): VoteAdmission {
    this.checkMember(v.member);
    const states = this.ownStates();
    if (states[v.member] !== MemberState.pending) return "duplicate";
    states[v.member] = MemberState.voted;
    this.pendingCount--;
    const list = (this.bucketList ??= []);
    let bucket: VoteBucket<R> | undefined;
    for (const b of list) {
      if (equalBytes(b.resultHash, v.resultHash)) {
        bucket = b;
        break;
      }
    }
    if (bucket === undefined) {
      bucket = { resultHash: v.resultHash, result: v.result, members: [], signatures: [] };
      list.push(bucket);
    }
    bucket.members.push(v.member);
    bucket.signatures.push(v.signature);
    if (bucket.members.length > this.maxBucketSize) this.maxBucketSize = bucket.members.length;
    return "counted";
  }

  /**
   * The member will not (validly) vote: it failed, lost its stream, could not be sent the request, or
   * sent an invalid answer (which uses up its one answer). Returns false when it had already voted or
   * been withdrawn.
   */
  withdraw(member: number): boolean {
    this.checkMember(member);
    const states = this.ownStates();
    if (states[member] !== MemberState.pending) return false;
    states[member] = MemberState.withdrawn;
    this.pendingCount--;
    return true;
  }

  /** The winning bucket (smallest hash among those with F+1 members), if any. */
  winner(): VoteBucket<R> | undefined {
    if (this.maxBucketSize < this.requiredQuorum) return undefined;
    let best: VoteBucket<R> | undefined;
    for (const b of this.buckets) {
      if (b.members.length < this.requiredQuorum) continue;
      if (best === undefined || compareBytes(b.resultHash, best.resultHash) < 0) best = b;
    }
    return best;
  }

  outcome(): QuorumOutcome<R> {
    const win = this.winner();
    if (win !== undefined) {
      return { kind: "reached", resultHash: win.resultHash, result: win.result, signatures: this.certify(win) };
    }
    const counts = { requiredQuorum: this.requiredQuorum, maxBucket: this.maxBucketSize, remaining: this.pendingCount };
    return this.maxBucketSize + this.pendingCount < this.requiredQuorum
      ? { kind: "unobtainable", ...counts }
      : { kind: "pending", ...counts };
  }

  /** F+1 signatures of the bucket, chosen and ordered by signer bytes (deterministic). */
  private certify(bucket: VoteBucket<R>): QuorumSignature[] {
    const sigs = bucket.members.map((m, i) => ({
      signer: this.members[m] as Uint8Array,
      signature: bucket.signatures[i] as Uint8Array,
    }));
    sigs.sort((a, b) => compareBytes(a.signer, b.signer));
    return sigs.slice(0, this.requiredQuorum);
  }

  private checkMember(member: number): void {
    if (!Number.isInteger(member) || member < 0 || member >= this.members.length) {
      throw new RangeError(`member index ${member} is outside the DON (0..${this.members.length - 1})`);
    }
  }
}

/**
 * The pure-function form: the outcome of a set of votes and withdrawals. For votes from distinct
 * members, the order of `votes` never changes the outcome.
 */
export function aggregateVotes<R>(
  members: readonly Uint8Array[],
  f: number,
  votes: Iterable<SignedVote<R>>,
  withdrawn: Iterable<number> = [],
): QuorumOutcome<R> {
  const tally = new QuorumTally<R>(members, f);
  for (const v of votes) tally.vote(v);
  for (const m of withdrawn) tally.withdraw(m);
  return tally.outcome();
}
