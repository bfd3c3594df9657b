/**
 * One relay node's link to one gateway: dial `Gateway.ConnectNode`, complete the challenge–response
 * handshake, then serve relay requests arriving on the stream, each on its own (no head-of-line
 * blocking: upstream N5 fixed a synchronous read loop), each with its own deadline, honouring
 * RelayCancel. When the stream ends or fails the link redials with capped exponential backoff plus
 * jitter; a successful handshake resets the backoff.
 *
 * Handshake (gateway.proto): node → NodeHello{node key, DON id, gateway id}; gateway →
 * HandshakeChallenge{gateway id, DON id, timestamp, nonce}; the node refuses a challenge for another
 * gateway or DON, or with a timestamp outside its clock tolerance (a proof is useful only to the
 * gateway it names, and only now), then signs `handshakePayload`; gateway → HandshakeAccepted.
 *
 * Liveness: the node sends a Heartbeat every `heartbeat_interval_ms`; a dead gateway connection is
 * detected by HTTP/2 PINGs on the transport (see `createGatewayTransport`), so the node does not
 * depend on the gateway's own heartbeats.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  ConnectNodeRequestSchema,
  type ConnectNodeRequest,
  type Gateway,
  type HandshakeChallenge,
  type NodeAnswer,
  type RelayRequest,
} from "../../contract/index.js";
import { handshakePayload } from "../../contract/relay-hash.js";
import type { Clock } from "../../domain/clock.js";
import type { Ed25519Signer } from "../../domain/crypto/ed25519.js";
import { Code, ConnectError } from "../../domain/errors.js";
import { AsyncQueue } from "./async-queue.js";
import { backoffDelayMs } from "./backoff.js";
import type { RelayNodeMetrics } from "./metrics.js";
import type { GatewayEndpoint, RelayNodeConfig } from "./options.js";
import type { RelayNodeLogger } from "./ports.js";
import type { RelayHandler } from "./relay-handler.js";
import { effectiveTimeoutMs, RequestScope } from "./request-scope.js";

/** Nonce bounds: the proto says 32 bytes; upstream required at least AuthMinChallengeLen. */
const MIN_NONCE_BYTES = 16;
const MAX_NONCE_BYTES = 64;

export type GatewayLinkState = "idle" | "connecting" | "ready" | "backoff" | "closed";

export interface GatewayLinkDeps {
  readonly gateway: GatewayEndpoint;
  readonly client: Client<typeof Gateway>;
  readonly handler: RelayHandler;
  readonly config: Readonly<RelayNodeConfig>;
  readonly signer: Ed25519Signer;
  readonly clock: Clock;
  /** [0, 1); Math.random in production. */
  readonly random: () => number;
  readonly metrics: RelayNodeMetrics;
  readonly logger: RelayNodeLogger;
}

/** Why a session ended; for logs. */
class LinkError extends Error {}

class StreamClosed extends Error {
  constructor() {
    super("gateway stream closed");
  }
}

class Cancelled extends Error {
  constructor(readonly reason: string) {
    super(`cancelled by gateway: ${reason}`);
  }
}

export class GatewayLink {
  private linkState: GatewayLinkState = "idle";
  private readonly closing = new AbortController();
  private loop: Promise<void> | null = null;
  private readyWaiters: (() => void)[] = [];
  /** Sessions that reached HandshakeAccepted since start. */
  private sessions = 0;

  constructor(private readonly deps: GatewayLinkDeps) {}

  get gatewayId(): string {
    return this.deps.gateway.gatewayId;
  }

  get state(): GatewayLinkState {
    return this.linkState;
  }

  /** How many times the handshake has completed (1 after the first connect, +1 per reconnect). */
  get completedHandshakes(): number {
    return this.sessions;
  }

  start(): void {
    if (this.loop !== null || this.closing.signal.aborted) return;
    this.loop = this.run();
  }

  /** Stops redialing, closes the stream, aborts in-flight requests; resolves when all is quiet. */
  async close(): Promise<void> {
    this.closing.abort(new LinkError("relay node closing"));
    this.linkState = "closed";
    await this.loop;
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  /**
   * Resolves once more than `afterHandshakes` handshakes have completed and the link is ready (e.g.
   * `whenReady(1)` waits for the first reconnect), or when the link closes.
   */
  whenReady(afterHandshakes = 0): Promise<void> {
    if (this.sessions > afterHandshakes && this.linkState === "ready") return Promise.resolve();
    if (this.closing.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closing.signal.aborted || this.sessions > afterHandshakes) resolve();
        else this.readyWaiters.push(check);
      };
      this.readyWaiters.push(check);
    });
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closing.signal.aborted) {
      this.linkState = "connecting";
      const reachedReady = await this.session();
      if (this.closing.signal.aborted) break;
      if (reachedReady) attempt = 0;
      const delayMs = backoffDelayMs(attempt, this.deps.config.reconnect, this.deps.random);
      attempt++;
      this.linkState = "backoff";
      this.deps.logger.info({ gatewayId: this.gatewayId, delayMs, attempt }, "gateway link: reconnecting after delay");
      try {
        await sleep(delayMs, undefined, { signal: this.closing.signal });
      } catch {
        break; // closing
      }
    }
    this.linkState = "closed";
  }

  /** One stream, from hello to its end. True when the handshake completed. */
  private async session(): Promise<boolean> {
    const { config, gateway, logger, metrics, clock } = this.deps;
    const session = new AbortController();
    const onClosing = (): void => session.abort(this.closing.signal.reason);
    this.closing.signal.addEventListener("abort", onClosing, { once: true });
    const outbound = new AsyncQueue<ConnectNodeRequest>();
    const inFlight = new Map<bigint, RequestScope>();
    let ready = false;
    let heartbeat: NodeJS.Timeout | undefined;
    const handshakeTimer = setTimeout(
      () => session.abort(new LinkError(`handshake not completed within ${config.handshakeTimeoutMs} ms`)),
      config.handshakeTimeoutMs,
    );

    outbound.push(
      create(ConnectNodeRequestSchema, {
        message: {
          case: "hello",
          value: { nodePublicKey: this.deps.signer.publicKey, donId: config.don.donId, gatewayId: gateway.gatewayId },
        },
      }),
    );

    // Ends the session from our side: abort the call first, so leaving the for-await (which asks the
    // response stream to finish) never waits on a gateway that is itself waiting for us.
    const fail: (reason: string) => never = (reason) => {
      const error = new LinkError(reason);
      outbound.close();
      session.abort(error);
      throw error;
    };

    try {
      const responses = this.deps.client.connectNode(outbound, { signal: session.signal });
      let phase: "challenge" | "accepted" | "ready" = "challenge";
      for await (const msg of responses) {
        const m = msg.message;
        if (phase === "ready") {
          if (m.case === "request") this.dispatch(m.value, inFlight, outbound);
          else if (m.case === "cancel") inFlight.get(m.value.relayId)?.abort(new Cancelled(m.value.reason));
          else if (m.case === "challenge" || m.case === "accepted") fail(`unexpected ${m.case} after the handshake`);
          // Heartbeats need no reply; a message kind this node does not know (a newer gateway) is
          // skipped rather than treated as fatal.
        } else if (phase === "challenge") {
          if (m.case !== "challenge") fail(`expected a handshake challenge, got ${m.case ?? "an empty message"}`);
          const refusal = this.checkChallenge(m.value);
          if (refusal !== null) fail(refusal);
          const signature = this.deps.signer.sign(
            handshakePayload({
              gatewayId: m.value.gatewayId,
              donId: m.value.donId,
              timestampMs: m.value.timestampMs,
              nonce: m.value.nonce,
              nodePublicKey: this.deps.signer.publicKey,
            }),
          );
          outbound.push(create(ConnectNodeRequestSchema, { message: { case: "proof", value: { signature } } }));
          phase = "accepted";
        } else {
          if (m.case !== "accepted") fail(`expected HandshakeAccepted, got ${m.case ?? "an empty message"}`);
          clearTimeout(handshakeTimer);
          const intervalMs = m.value.heartbeatIntervalMs > 0 ? m.value.heartbeatIntervalMs : config.defaultHeartbeatIntervalMs;
          heartbeat = setInterval(() => {
            outbound.push(
              create(ConnectNodeRequestSchema, {
                message: { case: "heartbeat", value: { timestampMs: BigInt(clock.nowMs()) } },
              }),
            );
          }, intervalMs);
          phase = "ready";
          ready = true;
          this.sessions++;
          this.linkState = "ready";
          metrics.setGatewayConnected(gateway.gatewayId, true);
          logger.info({ gatewayId: gateway.gatewayId, heartbeatIntervalMs: intervalMs }, "gateway link: connected");
          for (const wake of this.readyWaiters.splice(0)) wake();
        }
      }
      if (!this.closing.signal.aborted) logger.warn({ gatewayId: gateway.gatewayId }, "gateway link: stream ended by the gateway");
    } catch (err) {
      if (!this.closing.signal.aborted) {
        const reason = err instanceof LinkError ? err.message : session.signal.reason instanceof LinkError ? session.signal.reason.message : ConnectError.from(err).message;
        const code = err instanceof ConnectError ? Code[err.code] : undefined;
        logger.warn({ gatewayId: gateway.gatewayId, code, reason }, "gateway link: stream failed");
      }
    } finally {
      clearTimeout(handshakeTimer);
      if (heartbeat !== undefined) clearInterval(heartbeat);
      this.closing.signal.removeEventListener("abort", onClosing);
      outbound.close();
      session.abort(new StreamClosed());
      for (const scope of inFlight.values()) scope.abort(new StreamClosed());
      inFlight.clear();
      metrics.setInFlight(gateway.gatewayId, 0);
      if (ready) metrics.setGatewayConnected(gateway.gatewayId, false);
    }
    return ready;
  }

  private checkChallenge(ch: HandshakeChallenge): string | null {
    const { config, gateway, clock } = this.deps;
    if (ch.gatewayId !== gateway.gatewayId) {
      return `challenge names gateway ${JSON.stringify(ch.gatewayId)}, expected ${JSON.stringify(gateway.gatewayId)}`;
    }
    if (ch.donId !== config.don.donId) {
      return `challenge names DON ${JSON.stringify(ch.donId)}, expected ${JSON.stringify(config.don.donId)}`;
    }
    const skewMs = Number(ch.timestampMs) - clock.nowMs();
    if (!(Math.abs(skewMs) <= config.handshakeClockToleranceMs)) {
      return `challenge timestamp is ${skewMs} ms off this node's clock (tolerance ${config.handshakeClockToleranceMs} ms)`;
    }
    if (ch.nonce.length < MIN_NONCE_BYTES || ch.nonce.length > MAX_NONCE_BYTES) {
      return `challenge nonce must be ${MIN_NONCE_BYTES}..${MAX_NONCE_BYTES} bytes, got ${ch.nonce.length}`;
    }
    return null;
  }

  /** Starts one request without waiting for it: answers go up the stream as they complete. */
  private dispatch(req: RelayRequest, inFlight: Map<bigint, RequestScope>, outbound: AsyncQueue<ConnectNodeRequest>): void {
    const { config, gateway, logger, metrics } = this.deps;
    const relayId = req.relayId;
    const params = req.params;
    if (params.case === undefined) {
      this.answer(outbound, relayId, { case: "failure", value: { code: Code.InvalidArgument, message: "relay request has no params" } });
      return;
    }
    if (inFlight.has(relayId)) {
      // The gateway's ids are unique per stream; a repeat is a gateway bug. Keep working on the first.
      logger.warn({ gatewayId: gateway.gatewayId, relayId: relayId.toString() }, "gateway link: duplicate relay id ignored");
      return;
    }
    if (inFlight.size >= config.maxInFlightPerGateway) {
      this.answer(outbound, relayId, { case: "failure", value: { code: Code.ResourceExhausted, message: "relay node overloaded" } });
      return;
    }
    const timeoutMs = effectiveTimeoutMs(req.timeoutMs, config.maxRequestTimeoutMs);
    const scope = new RequestScope(timeoutMs);
    inFlight.set(relayId, scope);
    metrics.setInFlight(gateway.gatewayId, inFlight.size);
    void this.deps.handler.handle(params, scope.signal, timeoutMs).then((outcome) => {
      scope.dispose();
      // Only remove our own entry (a closed session has already cleared the map).
      if (inFlight.get(relayId) === scope) {
        inFlight.delete(relayId);
        metrics.setInFlight(gateway.gatewayId, inFlight.size);
      }
      // The gateway cancelled (or the stream is gone): it wants no answer.
      const reason: unknown = scope.signal.reason;
      if (reason instanceof Cancelled || reason instanceof StreamClosed) return;
      switch (outcome.kind) {
        case "signed":
          // Sent even if the deadline passed meanwhile: a late signed answer is still valid.
          this.answer(outbound, relayId, { case: "signed", value: outcome.answer });
          break;
        case "failure":
          this.answer(outbound, relayId, { case: "failure", value: { code: outcome.code, message: outcome.message } });
          break;
        case "aborted":
          // A cancelled request needs no answer; a timed-out one tells the gateway not to wait for us.
          if (outcome.timedOut) {
            this.answer(outbound, relayId, {
              case: "failure",
              value: { code: Code.DeadlineExceeded, message: "relay node deadline exceeded" },
            });
          }
          break;
      }
    });
  }

  private answer(outbound: AsyncQueue<ConnectNodeRequest>, relayId: bigint, outcome: NodeAnswerOutcome): void {
    outbound.push(create(ConnectNodeRequestSchema, { message: { case: "answer", value: { relayId, outcome } } }));
  }
}

type NodeAnswerOutcome =
  | { case: "signed"; value: Extract<NodeAnswer["outcome"], { case: "signed" }>["value"] }
  | { case: "failure"; value: { code: number; message: string } };
