import { describe, expect, it } from "vitest";
import { aggregateVotes, MemberState, QuorumTally, type SignedVote } from "../../../src/domain/quorum/tally.js";

/** Member keys 0x01…, 0x02…: member i's key sorts before member j's when i < j, unless reversed. */
function keys(n: number, reversed = false): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new Uint8Array(32).fill(reversed ? n - i : i + 1));
}

function hash(b: number): Uint8Array {
  return new Uint8Array(32).fill(b);
}

function vote(member: number, h: number, result = `r${h}`): SignedVote<string> {
  return { member, resultHash: hash(h), signature: new Uint8Array(64).fill(member), result };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  // A small deterministic LCG shuffle (Fisher–Yates), so a failure is reproducible.
  const out = [...xs];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("quorum tally (F+1 over signed result hashes)", () => {
  it("is pending until F+1 distinct members sign the same hash, then reached with exactly F+1 signatures", () => {
    const t = new QuorumTally<string>(keys(4), 1);
    expect(t.vote(vote(0, 9))).toBe("counted");
    expect(t.outcome()).toEqual({ kind: "pending", requiredQuorum: 2, maxBucket: 1, remaining: 3 });
    t.vote(vote(2, 9));
    const o = t.outcome();
    expect(o.kind).toBe("reached");
    if (o.kind !== "reached") return;
    expect(o.result).toBe("r9");
    expect(o.resultHash).toEqual(hash(9));
    expect(o.signatures.map((s) => s.signer[0])).toEqual([1, 3]);
    expect(o.signatures.map((s) => s.signature[0])).toEqual([0, 2]);
  });

  it("orders certificate signatures by signer bytes, not arrival", () => {
    const t = new QuorumTally<string>(keys(4, true), 1); // member 0 has the largest key
    t.vote(vote(0, 5));
    t.vote(vote(3, 5));
    const o = t.outcome();
    expect(o.kind === "reached" && o.signatures.map((s) => s.signer[0])).toEqual([1, 4]);
  });

  it("counts only the first answer per member", () => {
    const t = new QuorumTally<string>(keys(4), 1);
    expect(t.vote(vote(1, 7))).toBe("counted");
    expect(t.vote(vote(1, 7))).toBe("duplicate");
    expect(t.vote(vote(1, 8))).toBe("duplicate");
    expect(t.outcome()).toEqual({ kind: "pending", requiredQuorum: 2, maxBucket: 1, remaining: 3 });
    expect(t.withdraw(1)).toBe(false);
    expect(t.stateOf(1)).toBe(MemberState.voted);
  });

  it("a withdrawn member (failure, lost stream, invalid answer) cannot vote later", () => {
    const t = new QuorumTally<string>(keys(4), 1);
    expect(t.withdraw(2)).toBe(true);
    expect(t.withdraw(2)).toBe(false);
    expect(t.vote(vote(2, 1))).toBe("duplicate");
    expect(t.remaining).toBe(3);
  });

  it("is unobtainable as soon as maxBucket + remaining < F+1, with the upstream numbers", () => {
    const t = new QuorumTally<string>(keys(4), 1);
    t.vote(vote(0, 1));
    t.vote(vote(1, 2));
    t.withdraw(2);
    expect(t.outcome().kind).toBe("pending"); // member 3 could still join a bucket of 1
    t.vote(vote(3, 3));
    expect(t.outcome()).toEqual({ kind: "unobtainable", requiredQuorum: 2, maxBucket: 1, remaining: 0 });
  });

  it("upstream quorumUnobtainable: 4 distinct results with F=1", () => {
    expect(aggregateVotes(keys(4), 1, [vote(0, 1), vote(1, 2), vote(2, 3), vote(3, 4)])).toEqual({
      kind: "unobtainable",
      requiredQuorum: 2,
      maxBucket: 1,
      remaining: 0,
    });
  });

  it("with F=0 one vote is a quorum; with every member gone it is unobtainable", () => {
    expect(aggregateVotes(keys(1), 0, [vote(0, 1)]).kind).toBe("reached");
    expect(aggregateVotes(keys(1), 0, [], [0])).toEqual({ kind: "unobtainable", requiredQuorum: 1, maxBucket: 0, remaining: 0 });
  });

  it("F Byzantine votes never outvote F+1 honest ones (F=2, N=7)", () => {
    const votes = [vote(0, 0xee, "forged"), vote(1, 0xee, "forged"), vote(2, 0x10), vote(3, 0x10), vote(4, 0x10)];
    for (let seed = 0; seed < 50; seed++) {
      const o = aggregateVotes(keys(7), 2, shuffled(votes, seed));
      expect(o.kind === "reached" && o.result).toBe("r16");
    }
  });

  it("breaks ties by the smallest result hash, whatever the arrival order (100 shuffles)", () => {
    // Two buckets both reach F+1 = 2 (possible only when evaluated as a batch): hash 0x20 and 0x07.
    const votes = [vote(0, 0x20), vote(1, 0x20), vote(2, 0x07), vote(3, 0x07), vote(4, 0x30)];
    const winners = new Set<string>();
    for (let seed = 1; seed <= 100; seed++) {
      const o = aggregateVotes(keys(5), 1, shuffled(votes, seed));
      expect(o.kind).toBe("reached");
      if (o.kind === "reached") winners.add(`${o.result}:${o.signatures.map((s) => s.signer[0]).join(",")}`);
    }
    expect([...winners]).toEqual(["r7:3,4"]);
  });

  it("rejects member indices outside the DON", () => {
    const t = new QuorumTally<string>(keys(2), 0);
    expect(() => t.vote(vote(2, 1))).toThrow("member index 2 is outside the DON (0..1)");
    expect(() => t.withdraw(-1)).toThrow(RangeError);
  });
});
