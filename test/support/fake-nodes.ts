/**
 * In-process fake relay nodes: each dials the gateway's ConnectNode stream over any Connect transport
 * (in-memory router or a real socket), completes the ed25519 handshake, and answers relay requests
 * at once with answers signed exactly as a real node signs them:
 *   signature = ed25519(answerSignaturePayload(relayResultHash(relayBindingHash(params), result))).
 * Behaviours model honest, Byzantine (divergent, forged, wrong hash), failing, silent and blocked
 * nodes. Reused by the gateway tests and bench/gateway.ts.
 */
import { createHash } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import {
  answerSignaturePayload,
  CapabilityResultSchema,
  ConnectNodeRequestSchema,
  NodeAnswerSchema,
  RelayErrorSchema,
  SecretsResultSchema,
  Gateway,
  handshakePayload,
  relayBindingHash,
  relayResultHash,
  SecretErrorKind,
  type ConnectNodeRequest,
  type ConnectNodeResponse,
  type NodeAnswer,
  type RelayParams,
  type RelayRequest,
  type RelayResult,
} from "../../src/contract/index.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "../../src/domain/crypto/ed25519.js";

/** A deterministic signer for test member `i` (seed = 32 bytes of 0x40+i). */
export function testSigner(i: number): Ed25519Signer {
  return ed25519SignerFromSeed(new Uint8Array(32).fill(0x40 + i));
}

function sha256(...parts: (Uint8Array | string)[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * What an honest node answers: identical bytes at every honest node for the same request. Secrets
 * "encrypt" to hashes of the binding hash and the key; a secret named `missing*` is not found; the
 * capability echoes the payload.
 */
export function honestResult(params: RelayParams, bindingHash: Uint8Array = relayBindingHash(params)): RelayResult {
  if (params.case === "getSecrets") {
    return {
      case: "secrets",
      value: create(SecretsResultSchema, {
        secrets: params.value.secrets.map((s) => {
          const id = { key: s.key, namespace: s.namespace === undefined || s.namespace === "" ? "main" : s.namespace };
          return s.key.startsWith("missing")
            ? { id, outcome: { case: "error" as const, value: { kind: SecretErrorKind.NOT_FOUND, message: `secret not found: ${id.namespace}/${id.key}` } } }
            : {
                id,
                outcome: {
                  case: "encrypted" as const,
                  value: { encapsulatedKey: sha256("ek", bindingHash, s.key), ciphertext: sha256("ct", bindingHash, s.key) },
                },
              };
        }),
      }),
    };
  }
  return { case: "capability", value: create(CapabilityResultSchema, { payload: params.value.payload }) };
}

/** A RelayResult carrying an agreed error. */
export function relayErrorResult(code: Code, message: string): RelayResult {
  return { case: "error", value: create(RelayErrorSchema, { code, message }) };
}

/** The answer an honest node with `signer` sends for `result`. */
export function signedAnswer(signer: Ed25519Signer, relayId: bigint, bindingHash: Uint8Array, result: RelayResult): NodeAnswer {
  const resultHash = relayResultHash(bindingHash, result);
  return create(NodeAnswerSchema, {
    relayId,
    outcome: { case: "signed", value: { result, resultHash, signature: signer.sign(answerSignaturePayload(resultHash)) } },
  });
}

export type AnswerPlan =
  /** Sign the honest result. */
  | "honest"
  /** Sign a different, valid-looking result (a Byzantine node). */
  | "divergent"
  /** Honest result and hash, but a signature by another key. */
  | "forged-signature"
  /** Honest result, but a result hash of another result (signed). */
  | "wrong-hash"
  /** A NodeFailure (Unavailable). */
  | "fail"
  /** No answer at all. */
  | "silent"
  /** Sign this result. */
  | { readonly result: RelayResult }
  /** Send exactly this. */
  | { readonly answer: NodeAnswer };

export type FakeNodeBehavior = AnswerPlan | ((req: RelayRequest, bindingHash: Uint8Array) => AnswerPlan | Promise<AnswerPlan>);

export interface FakeNodeOptions {
  readonly transport: Transport;
  readonly signer: Ed25519Signer;
  readonly gatewayId: string;
  readonly donId: string;
  readonly behavior?: FakeNodeBehavior;
  /** Never read the gateway's messages after the handshake (a node that accepts no writes). */
  readonly blocked?: boolean;
  /** Answer each gateway heartbeat with one (default true). */
  readonly heartbeats?: boolean;
  /** Send these in the hello instead (to test refusals). */
  readonly hello?: { readonly gatewayId?: string; readonly donId?: string; readonly publicKey?: Uint8Array };
  /** Sign the handshake with this key instead (to test refusals). */
  readonly proofSigner?: Ed25519Signer;
  /** Keep every relay request in `requests` (default true; benchmarks turn it off). */
  readonly recordRequests?: boolean;
  /** Runs after the challenge arrives, before the proof is sent (to test late proofs). */
  readonly beforeProof?: () => void | Promise<void>;
}

/** A push-fed async iterable: the node's outgoing stream. */
class Outbox implements AsyncIterable<ConnectNodeRequest> {
  private readonly items: ConnectNodeRequest[] = [];
  private wake: (() => void) | null = null;
  private ended = false;

  push(m: ConnectNodeRequest): void {
    if (this.ended) return;
    this.items.push(m);
    this.wake?.();
    this.wake = null;
  }

  end(): void {
    this.ended = true;
    this.wake?.();
    this.wake = null;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ConnectNodeRequest> {
    for (;;) {
      const m = this.items.shift();
      if (m !== undefined) {
        yield m;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

export type HandshakeOutcome = { readonly kind: "accepted"; readonly heartbeatIntervalMs: number } | { readonly kind: "refused"; readonly error: ConnectError };

export class FakeNode {
  /** Relay requests received, in order. */
  readonly requests: RelayRequest[] = [];
  /** RelayCancel messages received: relay id → reason. */
  readonly cancels = new Map<bigint, string>();
  heartbeatsReceived = 0;
  /** How the stream ended (undefined while open). */
  ended: ConnectError | "closed" | undefined;
  readonly handshake: Promise<HandshakeOutcome>;
  private readonly client: Client<typeof Gateway>;
  private readonly outbox = new Outbox();
  private readonly abort = new AbortController();
  private readonly listeners = new Set<() => void>();
  private readonly loop: Promise<void>;

  constructor(readonly options: FakeNodeOptions) {
    this.client = createClient(Gateway, options.transport);
    let settle!: (o: HandshakeOutcome) => void;
    this.handshake = new Promise((r) => (settle = r));
    this.loop = this.run(settle);
  }

  get publicKey(): Uint8Array {
    return this.options.signer.publicKey;
  }

  /** Resolves once `predicate` holds (checked after every message the node receives). */
  waitFor(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) {
          this.listeners.delete(check);
          resolve();
        }
      };
      this.listeners.add(check);
    });
  }

  /** Closes the node's side of the stream and waits for the stream to end. */
  async stop(): Promise<void> {
    this.outbox.end();
    this.abort.abort();
    await this.loop;
  }

  send(m: MessageInitShape<typeof ConnectNodeRequestSchema>["message"]): void {
    this.outbox.push(create(ConnectNodeRequestSchema, { message: m }));
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private async run(settle: (o: HandshakeOutcome) => void): Promise<void> {
    const o = this.options;
    let handshakeDone = false;
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      this.send({
        case: "hello",
        value: {
          nodePublicKey: o.hello?.publicKey ?? o.signer.publicKey,
          donId: o.hello?.donId ?? o.donId,
          gatewayId: o.hello?.gatewayId ?? o.gatewayId,
        },
      });
      const stream = this.client.connectNode(this.outbox, { signal: this.abort.signal });
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done === true || first.value.message.case !== "challenge") throw new ConnectError("expected a challenge", Code.Internal);
      const ch = first.value.message.value;
      await o.beforeProof?.();
      const proofSigner = o.proofSigner ?? o.signer;
      this.send({
        case: "proof",
        value: {
          signature: proofSigner.sign(
            handshakePayload({
              gatewayId: ch.gatewayId,
              donId: ch.donId,
              timestampMs: ch.timestampMs,
              nonce: ch.nonce,
              nodePublicKey: o.hello?.publicKey ?? o.signer.publicKey,
            }),
          ),
        },
      });
      const second = await it.next();
      if (second.done === true || second.value.message.case !== "accepted") throw new ConnectError("expected accepted", Code.Internal);
      handshakeDone = true;
      const intervalMs = second.value.message.value.heartbeatIntervalMs;
      settle({ kind: "accepted", heartbeatIntervalMs: intervalMs });
      if (o.heartbeats !== false && intervalMs > 0) {
        // A node heartbeats on its own schedule too, so a long queue of requests ahead of the
        // gateway's heartbeat never makes a live node look silent.
        heartbeat = setInterval(() => this.send({ case: "heartbeat", value: { timestampMs: BigInt(Date.now()) } }), intervalMs);
        heartbeat.unref();
      }
      this.notify();
      if (o.blocked === true) {
        // Accept no writes: never pull again, until stopped.
        await new Promise<void>((resolve) => this.abort.signal.addEventListener("abort", () => resolve(), { once: true }));
        this.ended = "closed";
        return;
      }
      for (;;) {
        const r = await it.next();
        if (r.done === true) break;
        this.onMessage(r.value);
        this.notify();
      }
      this.ended = "closed";
    } catch (e) {
      const err = ConnectError.from(e);
      this.ended = err;
      if (!handshakeDone) settle({ kind: "refused", error: err });
    } finally {
      if (heartbeat !== undefined) clearInterval(heartbeat);
      this.outbox.end();
      if (!handshakeDone) settle({ kind: "refused", error: new ConnectError("stream ended during the handshake", Code.Unknown) });
      this.notify();
    }
  }

  private onMessage(m: ConnectNodeResponse): void {
    switch (m.message.case) {
      case "request": {
        const req = m.message.value;
        if (this.options.recordRequests !== false) this.requests.push(req);
        void this.answer(req);
        return;
      }
      case "cancel":
        this.cancels.set(m.message.value.relayId, m.message.value.reason);
        return;
      case "heartbeat":
        this.heartbeatsReceived++;
        if (this.options.heartbeats !== false) this.send({ case: "heartbeat", value: { timestampMs: m.message.value.timestampMs } });
        return;
      default:
        return;
    }
  }

  private async answer(req: RelayRequest): Promise<void> {
    if (req.params.case === undefined) return;
    const params = req.params as RelayParams;
    const bindingHash = relayBindingHash(params);
    const b = this.options.behavior ?? "honest";
    const plan = typeof b === "function" ? await b(req, bindingHash) : b;
    const answer = planAnswer(plan, this.options.signer, req.relayId, params, bindingHash);
    if (answer !== undefined) this.send({ case: "answer", value: answer });
  }
}

const STRANGER = ed25519SignerFromSeed(new Uint8Array(32).fill(0xee));

/** The answer a plan produces (undefined for "silent"). */
export function planAnswer(
  plan: AnswerPlan,
  signer: Ed25519Signer,
  relayId: bigint,
  params: RelayParams,
  bindingHash: Uint8Array,
): NodeAnswer | undefined {
  if (plan === "silent") return undefined;
  if (plan === "fail") {
    return create(NodeAnswerSchema, { relayId, outcome: { case: "failure", value: { code: Code.Unavailable, message: "vault unreachable" } } });
  }
  if (typeof plan === "object" && "answer" in plan) return plan.answer;
  if (typeof plan === "object") return signedAnswer(signer, relayId, bindingHash, plan.result);
  const honest = honestResult(params, bindingHash);
  switch (plan) {
    case "honest":
      return signedAnswer(signer, relayId, bindingHash, honest);
    case "divergent":
      return signedAnswer(signer, relayId, bindingHash, divergentResult(params, signer));
    case "forged-signature":
      return signedAnswer(STRANGER, relayId, bindingHash, honest);
    case "wrong-hash": {
      const other = divergentResult(params, signer);
      const resultHash = relayResultHash(bindingHash, other);
      return create(NodeAnswerSchema, {
        relayId,
        outcome: { case: "signed", value: { result: honest, resultHash, signature: signer.sign(answerSignaturePayload(resultHash)) } },
      });
    }
  }
}

/** A result only this signer produces (a Byzantine node's own answer). */
export function divergentResult(params: RelayParams, signer: Ed25519Signer): RelayResult {
  const tag = Buffer.from(signer.publicKey).toString("hex").slice(0, 8);
  if (params.case === "getSecrets") {
    return {
      case: "secrets",
      value: create(SecretsResultSchema, {
        secrets: params.value.secrets.map((s) => ({
          id: { key: s.key, namespace: "main" },
          outcome: { case: "encrypted" as const, value: { encapsulatedKey: sha256("evil", tag), ciphertext: sha256("evil-ct", tag, s.key) } },
        })),
      }),
    };
  }
  return { case: "capability", value: create(CapabilityResultSchema, { payload: new TextEncoder().encode(`forged by ${tag}`) }) };
}

export interface FakeDon {
  readonly nodes: FakeNode[];
  /** Members' public keys, in member order. */
  readonly keys: Uint8Array[];
  /** Resolves when every node's handshake succeeded (rejects otherwise). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts one fake node per behaviour, as members 0..n-1 (signers `testSigner(i)`). */
export function startFakeDon(options: {
  /** One transport for all nodes, or one per node (separate connections, as separate processes have). */
  readonly transport: Transport | ((member: number) => Transport);
  readonly gatewayId: string;
  readonly donId: string;
  readonly behaviors: readonly FakeNodeBehavior[];
  readonly blocked?: readonly number[];
}): FakeDon {
  const nodes = options.behaviors.map(
    (behavior, i) =>
      new FakeNode({
        transport: typeof options.transport === "function" ? options.transport(i) : options.transport,
        signer: testSigner(i),
        gatewayId: options.gatewayId,
        donId: options.donId,
        behavior,
        blocked: options.blocked?.includes(i) ?? false,
      }),
  );
  return {
    nodes,
    keys: nodes.map((n) => n.publicKey),
    async ready() {
      const outcomes = await Promise.all(nodes.map((n) => n.handshake));
      const refused = outcomes.find((o) => o.kind === "refused");
      if (refused !== undefined && refused.kind === "refused") throw refused.error;
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
