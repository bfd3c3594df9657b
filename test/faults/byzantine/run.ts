/**
 * The Byzantine suite's load loop and its bookkeeping: a bounded closed loop of enclave requests
 * (echo capability calls, and one in four a secrets fetch), each answer classified on the enclave
 * side as accepted-correct, accepted-wrong or rejected (with the relay client's failure label).
 */
import type { ExecutionIdentity } from "../../../src/services/confidential-workflows/relay-client.js";
import type { Prng } from "../fuzz/prng.js";
import type { EnclaveSender } from "./enclave-side.js";

export type Path = "direct" | "tampered";

export interface Tally {
  requests: number;
  acceptedCorrect: number;
  acceptedWrong: number;
  rejected: number;
  rejectedBy: Record<string, number>;
  /** Accepted answers whose certificate (as the enclave counted it) includes the Byzantine member. */
  byzantineVouched: number;
  wrongExamples: string[];
  /** The first few refusals, with their reasons. */
  rejectedExamples: string[];
}

const newTally = (): Tally => ({ requests: 0, acceptedCorrect: 0, acceptedWrong: 0, rejected: 0, rejectedBy: {}, byzantineVouched: 0, wrongExamples: [], rejectedExamples: [] });

export interface LoadOptions {
  /** Enclave identities and the path each one's calls take (the real gateway, or the tampering one). */
  readonly senders: readonly { readonly sender: EnclaveSender; readonly path: Path }[];
  readonly requests: number;
  readonly concurrency: number;
  readonly rng: Prng;
  /** The stored secret every secrets request asks for (plus a missing one). */
  readonly secret: { readonly namespace: string; readonly key: string; readonly value: string };
  /** The Byzantine member's public key, hex. */
  readonly byzantineKeyHex: string;
  /** A new execution identity every this many calls per sender (default 10). */
  readonly callsPerExecution?: number;
  /** One request in this many fetches secrets (default 4). */
  readonly secretsEvery?: number;
}

export interface LoadResult {
  readonly durationMs: number;
  readonly tallies: Record<Path, Tally>;
}

type Verdict = "accepted-correct" | "accepted-wrong" | `rejected:${string}`;

export async function runEnclaveLoad(o: LoadOptions): Promise<LoadResult> {
  const callsPerExecution = o.callsPerExecution ?? 10;
  const secretsEvery = o.secretsEvery ?? 4;
  const tallies: Record<Path, Tally> = { direct: newTally(), tampered: newTally() };
  const identities: ExecutionIdentity[] = o.senders.map((s) => s.sender.newIdentity());
  const used: number[] = o.senders.map(() => 0);
  const never = new AbortController().signal;
  const encoder = new TextEncoder();

  const one = async (i: number): Promise<void> => {
    const s = i % o.senders.length;
    const { sender, path } = o.senders[s]!;
    if (used[s]! >= callsPerExecution) {
      identities[s] = sender.newIdentity();
      used[s] = 0;
    }
    used[s] = used[s]! + 1;
    const identity = identities[s]!;
    let verdict: Verdict;
    let signers: readonly Uint8Array[] = [];
    let detail = "";
    if (i % secretsEvery === 0) {
      const out = await sender.client.getSecrets(
        identity,
        [
          { key: o.secret.key, namespace: o.secret.namespace },
          { key: `missing-${i}`, namespace: o.secret.namespace },
        ],
        never,
      );
      if (out.kind === "failed") {
        verdict = `rejected:${out.failure}`;
        detail = out.error;
      } else {
        signers = out.receipt.certificate?.signatures.map((x) => x.signer) ?? [];
        const [first, second] = out.items;
        const correct = out.items.length === 2 && first?.kind === "secret" && first.value === o.secret.value && second?.kind === "error";
        verdict = correct ? "accepted-correct" : "accepted-wrong";
        detail = JSON.stringify(out.items.map((x) => (x.kind === "secret" ? { ...x, value: x.value === o.secret.value ? "(the stored value)" : "(another value)" } : x)));
      }
    } else {
      // echo@1.0.0 takes UTF-8 JSON; a random nonce makes every answer unique to its request.
      const payload = encoder.encode(JSON.stringify({ call: i, nonce: Buffer.from(o.rng.bytes(o.rng.int(4, 32))).toString("hex") }));
      const out = await sender.client.executeCapability(identity, `ref-${i}`, { id: "echo@1.0.0", method: "Execute", payload }, never);
      if (out.kind === "failed") {
        verdict = `rejected:${out.failure}`;
        detail = out.error;
      } else {
        signers = out.receipt.certificate?.signatures.map((x) => x.signer) ?? [];
        const correct = out.response.kind === "payload" && Buffer.from(out.response.payload).equals(payload);
        verdict = correct ? "accepted-correct" : "accepted-wrong";
        detail = out.response.kind === "payload" ? `payload ${Buffer.from(out.response.payload).toString("utf8").slice(0, 120)}` : `error ${out.response.error}`;
      }
    }
    const t = tallies[path];
    t.requests++;
    if (verdict === "accepted-correct") t.acceptedCorrect++;
    else if (verdict === "accepted-wrong") {
      t.acceptedWrong++;
      if (t.wrongExamples.length < 5) t.wrongExamples.push(`request ${i}: ${detail.slice(0, 300)}`);
    } else {
      t.rejected++;
      t.rejectedBy[verdict] = (t.rejectedBy[verdict] ?? 0) + 1;
      if (t.rejectedExamples.length < 5) t.rejectedExamples.push(`request ${i}: ${detail.slice(0, 200)}`);
    }
    if (signers.some((k) => Buffer.from(k).toString("hex") === o.byzantineKeyHex)) t.byzantineVouched++;
  };

  const startedAt = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      for (let i = next++; i < o.requests; i = next++) await one(i);
    }),
  );
  return { durationMs: performance.now() - startedAt, tallies };
}
