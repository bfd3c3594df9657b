/**
 * Honest relay nodes for the cheap path of the Byzantine suite: fake nodes (test/support/fake-nodes.ts)
 * holding the deployment's real member keys, answering every relay request with the answer a real
 * node would give, signed exactly as a real node signs it. They skip the checks a real node makes
 * (attestation, authorization: the real gateway's edge check still runs) and stand in for the Vault
 * and the Capability service:
 *
 *   - echo@1.0.0: a serialized `ccr.sdk.v1.CapabilityResponse` whose payload is the call's payload;
 *   - secrets: the stored secret sealed to the enclave's key (the real secret box), a NOT_FOUND error
 *     for any other key.
 *
 * One shared memo per request id, as the real Vault and Capability memoize per request, so all
 * honest nodes sign byte-identical results (the secret box is randomized). A small random delay
 * before each answer (seeded) varies the order in which the gateway sees honest and Byzantine votes.
 */
import { randomBytes } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CapabilityResultSchema,
  SecretErrorKind,
  SecretsResultSchema,
  sdk,
  type RelayParams,
  type RelayRequest,
  type RelayResult,
} from "../../../src/contract/index.js";
import { sealSecret } from "../../../src/domain/crypto/secret-box.js";
import type { AnswerPlan, FakeNodeBehavior } from "../../support/fake-nodes.js";
import type { Prng } from "../fuzz/prng.js";

export interface StoredSecret {
  readonly owner: string;
  readonly namespace: string;
  readonly key: string;
  readonly value: string;
}

/** What every honest node answers for a request (memoized, like the real services). */
export class HonestOracle {
  private readonly memo = new Map<string, RelayResult>();

  constructor(private readonly secret: StoredSecret) {}

  result(params: RelayParams): RelayResult {
    const id = params.value.requestId;
    let r = this.memo.get(id);
    if (r === undefined) {
      r = this.compute(params);
      this.memo.set(id, r);
      // Bounded: requests are answered within milliseconds; old entries are never asked again.
      if (this.memo.size > 4096) this.memo.delete(this.memo.keys().next().value as string);
    }
    return r;
  }

  private compute(params: RelayParams): RelayResult {
    if (params.case === "executeCapability") {
      const call = fromBinary(sdk.CapabilityRequestSchema, params.value.payload);
      const response = create(sdk.CapabilityResponseSchema, { response: { case: "payload", value: call.payload } });
      return { case: "capability", value: create(CapabilityResultSchema, { payload: toBinary(sdk.CapabilityResponseSchema, response) }) };
    }
    const req = params.value;
    return {
      case: "secrets",
      value: create(SecretsResultSchema, {
        secrets: req.secrets.map((s) => {
          const namespace = s.namespace === "" ? "main" : s.namespace;
          const id = { key: s.key, namespace };
          if (req.owner.toLowerCase() !== this.secret.owner.toLowerCase() || namespace !== this.secret.namespace || s.key !== this.secret.key) {
            return { id, outcome: { case: "error" as const, value: { kind: SecretErrorKind.NOT_FOUND, message: `secret not found: ${namespace}/${s.key}` } } };
          }
          const sealed = sealSecret(req.enclavePublicKey, new TextEncoder().encode(this.secret.value), { owner: req.owner, namespace, key: s.key }, new Uint8Array(randomBytes(32)));
          return { id, outcome: { case: "encrypted" as const, value: sealed } };
        }),
      }),
    };
  }
}

/** An honest node's behaviour: the oracle's result, after a small random delay. */
export function honestBehavior(oracle: HonestOracle, rng: Prng): FakeNodeBehavior {
  return async (req: RelayRequest): Promise<AnswerPlan> => {
    const params = req.params as RelayParams;
    const delay = rng.below(4); // 0–3 ms; 0 answers at once
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    return { result: oracle.result(params) };
  };
}
