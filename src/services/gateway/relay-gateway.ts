/**
 * The relay gateway's core: node streams in, enclave requests fanned out to every member at once,
 * signed answers tallied into an F+1 quorum (src/domain/quorum/tally.ts), one answer per request.
 *
 * Request path (each step refuses before any node does work):
 *   request id checks → global ingress bucket → binding hash (once) → edge check (attestation, names
 *   the sender) → sender bucket → in-flight cap → duplicate (sender, request id) → register → fan-out.
 * Fan-out only enqueues on each member's stream (node-link.ts), so no node can stall another.
 *
 * Completion is single-flight: whichever of quorum, unobtainable, deadline, client cancel or shutdown
 * comes first completes the request, removes it from the in-flight table exactly once, sends
 * RelayCancel to members still working on it, and records metrics once (upstream G1 double-send bug,
 * chainlink-relay.md §3.5).
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import pino, { type Logger } from "pino";
import type { Registry } from "prom-client";
import { Registry as PromRegistry } from "prom-client";
import {
  answerSignaturePayload,
  ConnectNodeResponseSchema,
  handshakePayload,
  QuorumCertificateSchema,
  relayBindingHash,
  relayMethodOf,
  relayResultHash,
  type ConnectNodeRequest,
  type ConnectNodeResponse,
  type NodeAnswer,
  type QuorumCertificate,
  type RelayMethodName,
  type RelayParams,
  type RelayResult,
  type SignedAnswer,
} from "../../contract/index.js";
import { systemClock, type Clock, type RandomBytes } from "../../domain/clock.js";
import { DeadlineQueue, type Deadlined } from "../../domain/deadline-queue.js";
import { ed25519PublicKeyFromRaw, ed25519Verify } from "../../domain/crypto/ed25519.js";
import { ccrError } from "../../domain/errors.js";
import { MemberState, QuorumTally } from "../../domain/quorum/tally.js";
import { IngressLimiter } from "../../domain/ratelimit/ingress-limiter.js";
import { TokenBucket } from "../../domain/ratelimit/token-bucket.js";
import { documentDigestEdge, type EdgeCheck, type EdgeVerdict } from "./edge.js";
import { GatewayMetrics, type QuorumFailureReason, type RequestOutcome } from "./metrics.js";
import { NodeLink, replacedError, type SendTarget } from "./node-link.js";
import type { GatewayConfig } from "./options.js";
import { systemTimers, type TimerHandle, type Timers } from "./timers.js";
import type { CallSignal } from "../../transport/call-signal.js";

/** Longest accepted request id (upstream gateway limit). */
export const MAX_REQUEST_ID_LENGTH = 200;

/** What is wrong with a request id (upstream's messages), or undefined when it is fine. */
export function requestIdProblem(requestId: string): string | undefined {
  if (requestId === "") return "request ID cannot be empty";
  if (requestId.length > MAX_REQUEST_ID_LENGTH) {
    return `request ID is too long: ${requestId.length}. max is ${MAX_REQUEST_ID_LENGTH} characters`;
  }
  return undefined;
}

/** The response header carrying the retry hint of a ResourceExhausted answer. */
export const RETRY_AFTER_HEADER = "retry-after-ms";

export interface RelayGatewayDeps {
  readonly config: Readonly<GatewayConfig>;
  /** The server's metrics registry (a private one when omitted). */
  readonly registry?: Registry;
  /** The edge attestation check; `documentDigestEdge` when omitted. */
  readonly edge?: EdgeCheck;
  readonly clock?: Clock;
  readonly timers?: Timers;
  readonly random?: RandomBytes;
  readonly logger?: Logger;
}

/** How the caller reached the gateway. */
export interface RelayCall {
  /**
   * Aborts when the client goes away (Connect: `ctx.signal`; the lean gRPC path: its lighter
   * CallSignal, which an AbortSignal also satisfies).
   */
  readonly signal?: CallSignal;
  /** The client's remaining deadline in ms, if it sent one (Connect: `ctx.timeoutMs()`). */
  readonly clientTimeoutMs?: number;
}

/** A relay's answer: the agreed result (possibly an agreed RelayError) and its F+1 certificate. */
export interface RelayAnswer {
  readonly result: RelayResult;
  readonly certificate: QuorumCertificate;
}

type Completion = { readonly kind: "answer"; readonly answer: RelayAnswer } | { readonly kind: "error"; readonly error: ConnectError };

/**
 * Where a relay's outcome goes, exactly once: `reply` with the mapped answer, or `fail`. The lean
 * gRPC path passes its call itself (LeanReplyCall), so a pending request holds no promise, reaction
 * or closure; `relay()` passes a promise's settle functions.
 */
export interface RelaySink<T> {
  reply(value: T): void;
  fail(error: unknown): void;
}

/** Turns the agreed answer into what the sink takes; may throw (an agreed RelayError is an error answer). */
export type RelayAnswerMap<T> = (answer: RelayAnswer) => T;

const sameAnswer: RelayAnswerMap<RelayAnswer> = (answer) => answer;

/** The requests in flight of one sender, by request id: ids are scoped per sender. */
interface SenderRequests {
  readonly senderId: string;
  readonly byId: Map<string, InFlightRelay>;
}

/**
 * One request in flight. Kept small, because the gateway holds thousands (issue 3: 10 000 in flight
 * under 150 MB): the tally, the binding hash, a few numbers and references; no timer (the deadline
 * queue holds its deadline), no closure (it listens to the call's signal as itself).
 */
class InFlightRelay implements SendTarget, Deadlined {
  done = false;
  sendFailures = 0;
  fanOutAtMs = 0;
  deadlineSlot = -1;
  deadlineSeq = 0;

  constructor(
    readonly gateway: RelayGateway,
    readonly sender: SenderRequests,
    readonly requestId: string,
    readonly relayId: number,
    readonly method: RelayMethodName,
    readonly bindingHash: Uint8Array,
    readonly tally: QuorumTally<RelayResult>,
    readonly startedAtMs: number,
    readonly deadlineAtMs: number,
    readonly signal: CallSignal | undefined,
    readonly sink: RelaySink<unknown>,
    readonly map: RelayAnswerMap<unknown>,
  ) {}

  /** The call's signal aborted (the entry is its own listener: CallSignal, DOM handleEvent). */
  handleEvent(): void {
    this.gateway.clientAborted(this);
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown }).then === "function";
}

const MAX_RELAY_ID = BigInt(Number.MAX_SAFE_INTEGER);

/** Relay ids on the node streams are uint64; ours are counted from 1 and stay far below 2^53. */
function relayIdOf(wire: bigint): number | undefined {
  return wire <= MAX_RELAY_ID ? Number(wire) : undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** The edge check itself failed (not a verdict): its ConnectError, or Internal. */
function edgeFailure(e: unknown): ConnectError {
  return e instanceof ConnectError ? e : ccrError("edge attestation check failed", Code.Internal, e);
}

function hex8(b: Uint8Array): string {
  return Buffer.from(b.subarray(0, 4)).toString("hex");
}

export class RelayGateway {
  readonly config: Readonly<GatewayConfig>;
  readonly metrics: GatewayMetrics;
  private readonly edge: EdgeCheck;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly random: RandomBytes;
  private readonly log: Logger;
  private readonly memberIndex = new Map<string, number>();
  private readonly memberKeys: readonly Uint8Array[];
  private readonly answerBuckets: TokenBucket[];
  private readonly ingress: IngressLimiter;
  private readonly links: (NodeLink | undefined)[];
  private readonly linkGeneration: number[];
  /** In flight, by sender then request id (ids are scoped per sender). */
  private readonly senders = new Map<string, SenderRequests>();
  /** In flight, by relay id: every request once. */
  private readonly byRelayId = new Map<number, InFlightRelay>();
  private readonly deadlines: DeadlineQueue<InFlightRelay, TimerHandle>;
  private nextRelayId = 1;
  private connectedCount = 0;
  private heartbeatTimer: TimerHandle | null = null;
  private closed = false;

  constructor(deps: RelayGatewayDeps) {
    const config = deps.config;
    this.config = config;
    this.edge = deps.edge ?? documentDigestEdge;
    this.clock = deps.clock ?? systemClock;
    this.timers = deps.timers ?? systemTimers;
    this.random = deps.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.log = deps.logger ?? pino({ level: "silent" });
    this.metrics = new GatewayMetrics(deps.registry ?? new PromRegistry(), config.members.map((m) => m.name));
    config.members.forEach((m, i) => this.memberIndex.set(m.publicKeyHex, i));
    this.memberKeys = config.members.map((m) => m.publicKey);
    // Fails at construction, not on the first answer, when a member key is not an ed25519 key.
    for (const m of config.members) ed25519PublicKeyFromRaw(m.publicKey);
    const now = this.clock.nowMs();
    this.answerBuckets = config.members.map(() => new TokenBucket(config.nodeAnswerRate, now));
    this.ingress = new IngressLimiter(config.ingress, now);
    this.links = config.members.map(() => undefined);
    this.linkGeneration = config.members.map(() => 0);
    this.deadlines = new DeadlineQueue<InFlightRelay, TimerHandle>(this.timers, () => this.clock.nowMs(), (entry) => this.expire(entry));
  }

  /** Requests in flight. */
  get inFlightCount(): number {
    return this.byRelayId.size;
  }

  /** Messages queued on node streams and not yet handed to the transport, over all members. */
  get queuedToNodes(): number {
    let n = 0;
    for (const link of this.links) n += link?.queued ?? 0;
    return n;
  }

  /** Per-sender ingress buckets held (bounded by ingress.maxSenders). */
  get senderBucketCount(): number {
    return this.ingress.senderBuckets;
  }

  /** Members with a live authenticated stream. */
  get connectedMembers(): number[] {
    const out: number[] = [];
    this.links.forEach((l, i) => {
      if (l !== undefined) out.push(i);
    });
    return out;
  }

  // ── enclave-facing ───────────────────────────────────────────────────────────────────────────────

  /** Relays one request; resolves with the agreed answer or rejects with a ConnectError. */
  relay(params: RelayParams, call: RelayCall = {}): Promise<RelayAnswer> {
    return new Promise<RelayAnswer>((resolve, reject) => {
      this.start(params, call, { reply: resolve, fail: reject }, sameAnswer);
    });
  }

  /**
   * Relays one request and answers `sink` exactly once: `reply(map(answer))` when F+1 members agree
   * (a `map` that throws answers `fail` with what it threw), `fail(ConnectError)` otherwise. Nothing
   * is returned and nothing thrown: every outcome goes to the sink.
   */
  start<T>(params: RelayParams, call: RelayCall, sink: RelaySink<T>, map: RelayAnswerMap<T>): void {
    const method = relayMethodOf(params);
    const startedAtMs = this.clock.nowMs();
    try {
      const requestId = params.value.requestId;
      if (this.closed) throw this.refuse(method, "shutdown", ccrError("gateway is shutting down", Code.Unavailable));
      const idProblem = requestIdProblem(requestId);
      if (idProblem !== undefined) throw this.refuse(method, "invalid", ccrError(idProblem, Code.InvalidArgument));
      const g = this.ingress.takeGlobal(startedAtMs);
      if (g.kind === "denied") {
        throw this.refuse(method, "rate_limited", this.exhausted("gateway request rate limit exceeded", g.retryAfterMs));
      }
      // The effective deadline: our own bound, or the client's minus a margin, whichever is sooner.
      let budgetMs = this.config.requestTimeoutMs;
      if (call.clientTimeoutMs !== undefined) budgetMs = Math.min(budgetMs, call.clientTimeoutMs - this.config.deadlineMarginMs);
      const deadlineAtMs = startedAtMs + budgetMs;
      // A copy on V8's heap: node:crypto's digest is a Buffer with a native backing store, held for
      // as long as the request is in flight.
      const bindingHash = new Uint8Array(relayBindingHash(params));
      let verdict: EdgeVerdict | PromiseLike<EdgeVerdict>;
      try {
        verdict = this.edge.check(params, bindingHash);
      } catch (e) {
        throw this.refuse(method, "edge_rejected", edgeFailure(e));
      }
      if (isPromiseLike(verdict)) {
        verdict.then(
          (v) => this.admit(params, call, sink, map, method, startedAtMs, deadlineAtMs, bindingHash, v),
          (e: unknown) => sink.fail(this.refuse(method, "edge_rejected", edgeFailure(e))),
        );
        return;
      }
      this.admit(params, call, sink, map, method, startedAtMs, deadlineAtMs, bindingHash, verdict);
    } catch (e) {
      sink.fail(e);
    }
  }

  /** After the edge check: the sender's checks, then registration and fan-out. */
  private admit<T>(
    params: RelayParams,
    call: RelayCall,
    sink: RelaySink<T>,
    map: RelayAnswerMap<T>,
    method: RelayMethodName,
    startedAtMs: number,
    deadlineAtMs: number,
    bindingHash: Uint8Array,
    verdict: EdgeVerdict,
  ): void {
    try {
      if (verdict.kind === "rejected") throw this.refuse(method, "edge_rejected", ccrError(verdict.reason, verdict.code));
      const senderId = verdict.senderId;
      const requestId = params.value.requestId;
      const now = this.clock.nowMs();
      const s = this.ingress.takeSender(senderId, now);
      if (s.kind === "denied") {
        throw this.refuse(method, "rate_limited", this.exhausted("request rate limit exceeded for this sender", s.retryAfterMs));
      }
      if (this.closed) throw this.refuse(method, "shutdown", ccrError("gateway is shutting down", Code.Unavailable));
      if (this.byRelayId.size >= this.config.maxInFlight) {
        throw this.refuse(
          method,
          "capacity",
          this.exhausted(`too many requests in flight (${this.config.maxInFlight})`, this.config.capacityRetryAfterMs),
        );
      }
      // Ids are scoped per sender: one caller cannot pre-claim another's ids.
      let sender = this.senders.get(senderId);
      if (sender?.byId.has(requestId) === true) {
        throw this.refuse(method, "duplicate_id", ccrError(`request ID already exists: ${requestId}`, Code.AlreadyExists));
      }
      if (call.signal?.aborted === true) throw this.refuse(method, "canceled", this.abortError(call.signal));
      const remainingMs = deadlineAtMs - now;
      if (remainingMs <= 0) {
        this.metrics.quorumFailure("expired");
        throw this.refuse(method, "expired", this.expiredError(0));
      }
      if (sender === undefined) {
        sender = { senderId, byId: new Map() };
        this.senders.set(senderId, sender);
      }
      const entry = new InFlightRelay(
        this,
        sender,
        requestId,
        this.nextRelayId++,
        method,
        bindingHash,
        new QuorumTally<RelayResult>(this.memberKeys, this.config.f),
        startedAtMs,
        deadlineAtMs,
        call.signal,
        sink as RelaySink<unknown>,
        map,
      );
      sender.byId.set(requestId, entry);
      this.byRelayId.set(entry.relayId, entry);
      this.metrics.setInFlight(this.byRelayId.size);
      this.deadlines.add(entry);
      call.signal?.addEventListener("abort", entry, { once: true });
      this.fanOut(entry, params, remainingMs);
    } catch (e) {
      sink.fail(e);
    }
  }

  private fanOut(entry: InFlightRelay, params: RelayParams, timeoutMs: number): void {
    entry.fanOutAtMs = this.clock.nowMs();
    // One message object for every stream: the transport serializes it per stream.
    const message = create(ConnectNodeResponseSchema, {
      // uint32 on the wire: a fractional or oversized value would fail serialization on every stream.
      message: { case: "request", value: { relayId: BigInt(entry.relayId), params, timeoutMs: Math.min(Math.max(0, Math.floor(timeoutMs)), 0xffffffff) } },
    });
    for (let i = 0; i < this.links.length; i++) {
      const link = this.links[i];
      if (link === undefined || !link.enqueue(message, entry)) {
        entry.tally.withdraw(i);
        entry.sendFailures++;
      }
    }
    this.evaluate(entry);
  }

  /** Checks the tally after a change and completes the request when it is decided. */
  private evaluate(entry: InFlightRelay): void {
    if (entry.done) return;
    const t = entry.tally;
    const required = t.requiredQuorum;
    if (t.maxBucket < required && t.maxBucket + t.remaining >= required) return; // still pending
    const o = t.outcome();
    if (o.kind === "reached") {
      const certificate = create(QuorumCertificateSchema, {
        resultHash: o.resultHash,
        signatures: o.signatures.map((s) => ({ signer: s.signer, signature: s.signature })),
      });
      const outcome: RequestOutcome = o.result.case === "error" ? "relay_error" : "ok";
      this.complete(entry, { kind: "answer", answer: { result: o.result, certificate } }, outcome, "quorum reached");
      return;
    }
    if (o.kind === "unobtainable") {
      // Upstream's fan-out rule: fail as "failed to forward" when too few members could even be sent
      // the request; otherwise the answers themselves made the quorum impossible.
      const forwardFailed = this.links.length - entry.sendFailures < required;
      const reason: QuorumFailureReason = forwardFailed ? "forward_failed" : "unobtainable";
      this.metrics.quorumFailure(reason);
      const message = forwardFailed
        ? "failed to forward user request to nodes"
        : `quorum unobtainable: requiredQuorum=${o.requiredQuorum}, maxBucket=${o.maxBucket}, remaining=${o.remaining}`;
      this.complete(entry, { kind: "error", error: ccrError(message, Code.Unavailable) }, reason, "quorum unobtainable");
    }
  }

  private expire(entry: InFlightRelay): void {
    if (entry.done) return;
    this.metrics.quorumFailure("expired");
    this.complete(entry, { kind: "error", error: this.expiredError(entry.tally.maxBucket) }, "expired", "deadline exceeded");
  }

  /** The client went away or its call's deadline passed. @internal (InFlightRelay.handleEvent) */
  clientAborted(entry: InFlightRelay): void {
    if (entry.done) return;
    const signal = entry.signal as CallSignal;
    const reason: unknown = signal.reason;
    if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) {
      // The transport's own deadline fired first (the margin was too small for this client).
      this.expire(entry);
      return;
    }
    this.complete(entry, { kind: "error", error: this.abortError(signal) }, "canceled", "client canceled");
  }

  /** Single-flight completion: the first caller wins, every later one is a no-op. */
  private complete(entry: InFlightRelay, completion: Completion, outcome: RequestOutcome, cancelReason: string): void {
    if (entry.done) return;
    entry.done = true;
    this.deadlines.remove(entry);
    entry.signal?.removeEventListener("abort", entry);
    const sender = entry.sender;
    sender.byId.delete(entry.requestId);
    if (sender.byId.size === 0) this.senders.delete(sender.senderId);
    this.byRelayId.delete(entry.relayId);
    this.metrics.setInFlight(this.byRelayId.size);
    this.metrics.request(entry.method, outcome, (this.clock.nowMs() - entry.startedAtMs) / 1000);

    const t = entry.tally;
    // Tell members still working on it to stop.
    let cancel: ConnectNodeResponse | undefined;
    for (let i = 0; i < this.links.length; i++) {
      if (t.stateOf(i) !== MemberState.pending) continue;
      const link = this.links[i];
      if (link === undefined) continue;
      cancel ??= create(ConnectNodeResponseSchema, {
        message: { case: "cancel", value: { relayId: BigInt(entry.relayId), reason: cancelReason } },
      });
      link.enqueue(cancel, null);
    }
    // Counted answers: in the winning bucket "ok", elsewhere "divergent".
    const winner = t.winner();
    const buckets = t.buckets;
    for (const b of buckets) {
      const label = b === winner || (winner === undefined && buckets.length === 1) ? "ok" : "divergent";
      for (const m of b.members) this.metrics.answer(m, label);
    }
    if (completion.kind === "error") {
      entry.sink.fail(completion.error);
      return;
    }
    let value: unknown;
    try {
      value = entry.map(completion.answer);
    } catch (e) {
      entry.sink.fail(e);
      return;
    }
    entry.sink.reply(value);
  }

  private refuse(method: RelayMethodName, outcome: RequestOutcome, error: ConnectError): ConnectError {
    this.metrics.request(method, outcome);
    return error;
  }

  private exhausted(what: string, retryAfterMs: number): ConnectError {
    return new ConnectError(
      `${what}; retry after ${retryAfterMs} ms`,
      Code.ResourceExhausted,
      { [RETRY_AFTER_HEADER]: String(retryAfterMs) },
    );
  }

  private expiredError(matching: number): ConnectError {
    return ccrError(`request expired: got ${matching}/${this.config.requiredQuorum} matching responses`, Code.DeadlineExceeded);
  }

  private abortError(signal: CallSignal): ConnectError {
    const reason: unknown = signal.reason;
    if (reason instanceof ConnectError && reason.code === Code.DeadlineExceeded) return this.expiredError(0);
    return ccrError("request canceled by the client", Code.Canceled, reason);
  }

  // ── node-facing ──────────────────────────────────────────────────────────────────────────────────

  /**
   * The ConnectNode handler: handshake, then the member's outbound queue down and answers up.
   * Handshake failures end the stream with PermissionDenied (non-member, wrong gateway or DON, bad or
   * late proof), InvalidArgument (protocol violation) or DeadlineExceeded (too slow).
   */
  async *connectNode(requests: AsyncIterable<ConnectNodeRequest>, ctx?: { readonly signal: CallSignal }): AsyncGenerator<ConnectNodeResponse> {
    const it = requests[Symbol.asyncIterator]();
    let link: NodeLink | undefined;
    try {
      if (this.closed) throw ccrError("gateway is shutting down", Code.Unavailable);
      const member = await this.handshakeHello(it, ctx?.signal);
      const nonce = this.random(32);
      const challengeMs = this.clock.nowMs();
      // The proof's deadline runs from the challenge, even if the transport is slow to pull again.
      const proof = this.handshakeProof(it, member, challengeMs, nonce, ctx?.signal);
      proof.catch(() => {});
      yield create(ConnectNodeResponseSchema, {
        message: {
          case: "challenge",
          value: { gatewayId: this.config.gatewayId, donId: this.config.donId, timestampMs: BigInt(challengeMs), nonce },
        },
      });
      await proof;
      if (this.closed) throw ccrError("gateway is shutting down", Code.Unavailable);
      this.metrics.handshake("accepted");
      // Registered before "accepted" is even written: the transport may pull the next message only
      // once the node reads, and a node that never reads must still count as connected (and fail).
      link = this.attach(member);
      link.enqueue(
        create(ConnectNodeResponseSchema, {
          message: { case: "accepted", value: { heartbeatIntervalMs: this.config.heartbeatIntervalMs } },
        }),
        null,
      );
      void this.readAnswers(it, link);
      yield* link.writer();
    } catch (e) {
      if (link === undefined) this.metrics.handshake("refused");
      throw e;
    } finally {
      if (link !== undefined) this.drop(link);
    }
  }

  private async handshakeHello(it: AsyncIterator<ConnectNodeRequest>, signal: CallSignal | undefined): Promise<number> {
    const first = await this.nextWithin(it, "hello", signal);
    if (first.message.case !== "hello") {
      throw ccrError("the first message on a node stream must be hello", Code.InvalidArgument);
    }
    const hello = first.message.value;
    if (hello.gatewayId !== this.config.gatewayId) {
      throw ccrError(`node hello is for gateway "${clip(hello.gatewayId)}", this is gateway "${this.config.gatewayId}"`, Code.PermissionDenied);
    }
    if (hello.donId !== this.config.donId) {
      throw ccrError(`node hello is for DON "${clip(hello.donId)}", this gateway serves DON "${this.config.donId}"`, Code.PermissionDenied);
    }
    const member = this.memberIndex.get(Buffer.from(hello.nodePublicKey).toString("hex"));
    if (hello.nodePublicKey.length !== 32 || member === undefined) {
      throw ccrError(
        `node key ${hex8(hello.nodePublicKey)}… is not a member of DON "${this.config.donId}"`,
        Code.PermissionDenied,
      );
    }
    return member;
  }

  private async handshakeProof(
    it: AsyncIterator<ConnectNodeRequest>,
    member: number,
    challengeMs: number,
    nonce: Uint8Array,
    signal: CallSignal | undefined,
  ): Promise<void> {
    const second = await this.nextWithin(it, "handshake proof", signal);
    if (second.message.case !== "proof") {
      throw ccrError("the second message on a node stream must be the handshake proof", Code.InvalidArgument);
    }
    const elapsed = this.clock.nowMs() - challengeMs;
    if (elapsed > this.config.handshakeToleranceMs) {
      throw ccrError(
        `handshake proof came ${elapsed} ms after the challenge (tolerance ${this.config.handshakeToleranceMs} ms)`,
        Code.PermissionDenied,
      );
    }
    const key = this.memberKeys[member] as Uint8Array;
    const payload = handshakePayload({
      gatewayId: this.config.gatewayId,
      donId: this.config.donId,
      timestampMs: challengeMs,
      nonce,
      nodePublicKey: key,
    });
    if (!ed25519Verify(key, payload, second.message.value.signature)) {
      throw ccrError("handshake proof signature does not verify against the node key", Code.PermissionDenied);
    }
  }

  /** The next stream message, within the handshake tolerance. */
  private nextWithin(it: AsyncIterator<ConnectNodeRequest>, what: string, signal: CallSignal | undefined): Promise<ConnectNodeRequest> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        this.timers.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const timer = this.timers.setTimeout(
        () =>
          settle(() =>
            reject(ccrError(`node sent no ${what} within ${this.config.handshakeToleranceMs} ms`, Code.DeadlineExceeded)),
          ),
        this.config.handshakeToleranceMs,
      );
      const onAbort = (): void => settle(() => reject(ccrError("node stream closed during the handshake", Code.Canceled)));
      signal?.addEventListener("abort", onAbort, { once: true });
      it.next().then(
        (r) =>
          settle(() =>
            r.done === true ? reject(ccrError(`node stream ended before the ${what}`, Code.InvalidArgument)) : resolve(r.value),
          ),
        (e: unknown) => settle(() => reject(e)),
      );
    });
  }

  /** Registers an authenticated stream; a newer stream of the same member replaces (ends) the older. */
  private attach(member: number): NodeLink {
    const generation = ++(this.linkGeneration[member] as number);
    const link = new NodeLink(member, generation, this.config.nodeQueueLimit, this.config.nodeSendTimeoutMs, this.clock, this.timers, {
      onSendFailed: (target, m) => this.onSendFailed(target as InFlightRelay, m),
    });
    const old = this.links[member];
    this.links[member] = link;
    if (old !== undefined) {
      old.close(replacedError());
      this.log.info({ node: this.config.members[member]?.name }, "node stream replaced by a newer one");
      this.onMemberLost(member);
    } else {
      this.connectedCount++;
      this.metrics.setConnected(this.connectedCount);
      this.log.info({ node: this.config.members[member]?.name }, "node stream connected");
    }
    this.ensureHeartbeats();
    return link;
  }

  /** Ends a link and, if it is the member's current one, forgets it (idempotent). */
  private drop(link: NodeLink, error?: ConnectError): void {
    link.close(error);
    if (this.links[link.member] !== link) return;
    this.links[link.member] = undefined;
    this.connectedCount--;
    this.metrics.setConnected(this.connectedCount);
    this.log.info({ node: this.config.members[link.member]?.name, reason: error?.rawMessage }, "node stream ended");
    this.onMemberLost(link.member);
  }

  /** Requests waiting on the member lose it: each may now be unobtainable. */
  private onMemberLost(member: number): void {
    for (const entry of this.byRelayId.values()) {
      if (entry.tally.withdraw(member)) this.evaluate(entry);
    }
  }

  private onSendFailed(entry: InFlightRelay, member: number): void {
    if (entry.done) return;
    if (entry.tally.withdraw(member)) {
      entry.sendFailures++;
      this.evaluate(entry);
    }
  }

  private async readAnswers(it: AsyncIterator<ConnectNodeRequest>, link: NodeLink): Promise<void> {
    try {
      for (;;) {
        const r = await it.next();
        if (r.done === true) break;
        if (!link.isOpen) break;
        this.onNodeMessage(link, r.value);
      }
      this.drop(link);
    } catch (e) {
      this.drop(link, e instanceof ConnectError ? e : ccrError("node stream failed", Code.Unavailable, e));
    }
  }

  private onNodeMessage(link: NodeLink, msg: ConnectNodeRequest): void {
    if (this.links[link.member] !== link) return; // a replaced stream's late messages
    link.lastHeardMs = this.clock.nowMs();
    switch (msg.message.case) {
      case "answer":
        this.onAnswer(link.member, msg.message.value);
        return;
      case "heartbeat":
        return;
      default:
        this.drop(link, ccrError("node sent a handshake message after the handshake", Code.InvalidArgument));
    }
  }

  private onAnswer(member: number, answer: NodeAnswer): void {
    const now = this.clock.nowMs();
    const id = relayIdOf(answer.relayId);
    const entry = id === undefined ? undefined : this.byRelayId.get(id);
    if ((this.answerBuckets[member] as TokenBucket).take(now).kind === "denied") {
      // Dropped; the member will not answer this request again, so it no longer counts as remaining.
      this.metrics.answer(member, "rate_limited");
      if (entry !== undefined && entry.tally.withdraw(member)) this.evaluate(entry);
      return;
    }
    if (entry === undefined) {
      this.metrics.answer(member, "late");
      return;
    }
    if (entry.tally.stateOf(member) !== MemberState.pending) {
      this.metrics.answer(member, "duplicate");
      return;
    }
    const outcome = answer.outcome;
    if (outcome.case === "signed") {
      const verdict = this.checkSigned(entry, member, outcome.value);
      if (verdict === "ok") {
        entry.tally.vote({
          member,
          resultHash: outcome.value.resultHash,
          signature: outcome.value.signature,
          result: outcome.value.result as RelayResult,
        });
        this.metrics.answerLatency(member, (now - entry.fanOutAtMs) / 1000);
      } else {
        this.metrics.answer(member, verdict);
        entry.tally.withdraw(member);
      }
    } else {
      this.metrics.answer(member, "failure");
      entry.tally.withdraw(member);
    }
    this.evaluate(entry);
  }

  /**
   * An answer counts only if its result hash, recomputed from this request's binding hash and the
   * answer's result, equals the one it carries, and the member's own key signed it.
   */
  private checkSigned(entry: InFlightRelay, member: number, signed: SignedAnswer): "ok" | "hash_mismatch" | "bad_signature" {
    if (signed.result.case === undefined) return "hash_mismatch";
    const hash = relayResultHash(entry.bindingHash, signed.result);
    if (!equalBytes(hash, signed.resultHash)) return "hash_mismatch";
    if (signed.signature.length !== 64) return "bad_signature";
    // libsodium (ed25519.ts): half the CPU of node:crypto, and this runs N times per request.
    const memberKey = this.config.members[member]?.publicKey;
    if (memberKey === undefined) return "bad_signature";
    return ed25519Verify(memberKey, answerSignaturePayload(hash), signed.signature) ? "ok" : "bad_signature";
  }

  // ── heartbeats and shutdown ──────────────────────────────────────────────────────────────────────

  private ensureHeartbeats(): void {
    if (this.heartbeatTimer !== null || this.closed) return;
    this.heartbeatTimer = this.timers.setTimeout(() => {
      this.heartbeatTimer = null;
      this.heartbeat();
    }, this.config.heartbeatIntervalMs);
  }

  /** Sends a heartbeat down every stream and drops streams silent for three intervals. */
  private heartbeat(): void {
    const now = this.clock.nowMs();
    const silentAfterMs = 3 * this.config.heartbeatIntervalMs;
    const beat = create(ConnectNodeResponseSchema, { message: { case: "heartbeat", value: { timestampMs: BigInt(now) } } });
    let live = 0;
    for (const link of this.links) {
      if (link === undefined) continue;
      if (now - link.lastHeardMs >= silentAfterMs) {
        this.drop(link, ccrError(`node stream silent for ${now - link.lastHeardMs} ms`, Code.DeadlineExceeded));
        continue;
      }
      link.enqueue(beat, null);
      live++;
    }
    if (live > 0) this.ensureHeartbeats();
  }

  /** Ends every node stream and answers every request in flight with Unavailable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer !== null) {
      this.timers.clearTimeout(this.heartbeatTimer);
      this.heartbeatTimer = null;
    }
    this.deadlines.clear();
    for (const entry of [...this.byRelayId.values()]) {
      this.complete(entry, { kind: "error", error: ccrError("gateway is shutting down", Code.Unavailable) }, "shutdown", "gateway shutting down");
    }
    for (const link of this.links) {
      if (link !== undefined) this.drop(link, ccrError("gateway is shutting down", Code.Unavailable));
    }
  }
}

/**
 * A client-supplied value quoted in an error: bounded, so the grpc-message trailer stays far below
 * the header-list limits of standard HTTP/2 clients (a 64 KiB id made the answer unreadable).
 */
function clip(value: string, maxChars = 128): string {
  return value.length <= maxChars ? value : `${value.slice(0, maxChars)}… (${value.length} chars)`;
}
