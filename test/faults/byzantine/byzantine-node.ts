/**
 * A Byzantine DON member: a fake node (test/support/fake-nodes.ts) holding a real member's key,
 * which for every relay request picks one misbehaviour at random (seeded):
 *
 *   altered                  a different result, correctly signed by its own key over that result
 *   altered-error            a RelayError ("permission denied"), correctly signed
 *   replayed-result          an earlier request's honest result, re-signed for this request (a
 *                            plausible answer: the right shape, someone else's data)
 *   non-member-key           an altered result signed by a key outside the DON
 *   wrong-payload-signature  its own key, but over the bare result hash (no domain separation)
 *   wrong-hash               carries one result, signs the hash of another
 *   replay-own-answer        its own valid signed answer from an earlier request, verbatim
 *   replay-honest-answer     an honest member's valid signed answer from an earlier request
 *   twice-same               the same signed altered answer twice (a member must count once)
 *   twice-different          two different signed altered answers
 *   fail                     an unsigned NodeFailure
 *   silent                   nothing
 *
 * It never answers honestly, so every vote it casts is a wrong one.
 */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  answerSignaturePayload,
  CapabilityResultSchema,
  NodeAnswerSchema,
  relayResultHash,
  type NodeAnswer,
  type RelayParams,
  type RelayRequest,
  type RelayResult,
  type SignedAnswer,
} from "../../../src/contract/index.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "../../../src/domain/crypto/ed25519.js";
import { divergentResult, relayErrorResult, signedAnswer, type AnswerPlan, type FakeNodeBehavior } from "../../support/fake-nodes.js";
import type { Prng } from "../fuzz/prng.js";
import type { AnswerHistory } from "./answer-history.js";

export const BYZANTINE_MOVES = [
  "altered",
  "altered-error",
  "replayed-result",
  "non-member-key",
  "wrong-payload-signature",
  "wrong-hash",
  "replay-own-answer",
  "replay-honest-answer",
  "twice-same",
  "twice-different",
  "fail",
  "silent",
] as const;
export type ByzantineMove = (typeof BYZANTINE_MOVES)[number];

/** A key no DON member holds. */
export const NON_MEMBER = ed25519SignerFromSeed(new Uint8Array(32).fill(0xbb));

/** An altered result unique to this request (so two altered answers never coincide by accident). */
export function alteredResult(params: RelayParams, signer: Ed25519Signer, salt: number): RelayResult {
  const base = divergentResult(params, signer);
  if (base.case === "capability") {
    return { case: "capability", value: create(CapabilityResultSchema, { payload: new TextEncoder().encode(`forged ${salt} for ${params.value.requestId}`) }) };
  }
  return base;
}

function signedWith(signer: Ed25519Signer, relayId: bigint, result: RelayResult, resultHash: Uint8Array, signature?: Uint8Array): NodeAnswer {
  return create(NodeAnswerSchema, {
    relayId,
    outcome: { case: "signed", value: { result, resultHash, signature: signature ?? signer.sign(answerSignaturePayload(resultHash)) } },
  });
}

export interface ByzantineBehaviorOptions {
  /** The member key the Byzantine node holds. */
  readonly signer: Ed25519Signer;
  readonly rng: Prng;
  /** Honest answers the enclave side received (for replays). */
  readonly history: AnswerHistory;
  /** Sends an extra answer on the node's stream (the first of a double answer). */
  readonly send: (answer: NodeAnswer) => void;
}

export interface ByzantineBehavior {
  readonly behavior: FakeNodeBehavior;
  /** How often each move was played. */
  readonly played: Readonly<Record<ByzantineMove, number>>;
}

export function byzantineBehavior(o: ByzantineBehaviorOptions): ByzantineBehavior {
  const played = Object.fromEntries(BYZANTINE_MOVES.map((m) => [m, 0])) as Record<ByzantineMove, number>;
  const ownAnswers: SignedAnswer[] = [];
  let salt = 0;

  const plan = (req: RelayRequest, bindingHash: Uint8Array): AnswerPlan => {
    const params = req.params as RelayParams;
    const relayId = req.relayId;
    const altered = (): NodeAnswer => signedAnswer(o.signer, relayId, bindingHash, alteredResult(params, o.signer, ++salt));
    const kind: RelayResult["case"] = params.case === "getSecrets" ? "secrets" : "capability";
    let move = o.rng.pick(BYZANTINE_MOVES);
    // Replays need something to replay; until the first answers exist, alter instead.
    if ((move === "replayed-result" || move === "replay-honest-answer") && o.history.pick(o.rng, kind, params.value.requestId) === undefined) move = "altered";
    if (move === "replay-own-answer" && ownAnswers.length === 0) move = "altered";
    played[move]++;

    const remember = (a: NodeAnswer): NodeAnswer => {
      if (a.outcome.case === "signed") {
        if (ownAnswers.length >= 64) ownAnswers.shift();
        ownAnswers.push(a.outcome.value);
      }
      return a;
    };

    switch (move) {
      case "altered":
        return { answer: remember(altered()) };
      case "altered-error":
        return { answer: remember(signedAnswer(o.signer, relayId, bindingHash, relayErrorResult(Code.PermissionDenied, "attestation: refused by this node"))) };
      case "replayed-result": {
        const old = o.history.pick(o.rng, kind, params.value.requestId)!;
        return { answer: remember(signedAnswer(o.signer, relayId, bindingHash, old.result)) };
      }
      case "non-member-key": {
        const result = alteredResult(params, o.signer, ++salt);
        return { answer: signedWith(NON_MEMBER, relayId, result, relayResultHash(bindingHash, result)) };
      }
      case "wrong-payload-signature": {
        const result = alteredResult(params, o.signer, ++salt);
        const hash = relayResultHash(bindingHash, result);
        return { answer: signedWith(o.signer, relayId, result, hash, o.signer.sign(hash)) };
      }
      case "wrong-hash": {
        const carried = alteredResult(params, o.signer, ++salt);
        const signedFor = alteredResult(params, o.signer, ++salt);
        return { answer: signedWith(o.signer, relayId, carried, relayResultHash(bindingHash, signedFor)) };
      }
      case "replay-own-answer": {
        const old = o.rng.pick(ownAnswers);
        return { answer: create(NodeAnswerSchema, { relayId, outcome: { case: "signed", value: old } }) };
      }
      case "replay-honest-answer": {
        const old = o.history.pick(o.rng, kind, params.value.requestId)!;
        const sig = o.rng.pick(old.certificate.signatures);
        return { answer: signedWith(o.signer, relayId, old.result, old.certificate.resultHash, sig.signature) };
      }
      case "twice-same": {
        const a = remember(altered());
        o.send(a);
        return { answer: a };
      }
      case "twice-different": {
        o.send(remember(altered()));
        return { answer: remember(altered()) };
      }
      case "fail":
        return "fail";
      case "silent":
        return "silent";
    }
  };

  return { behavior: plan, played };
}
