/**
 * A small fake of the gateway's side of `Gateway.ConnectNode`, speaking the handshake exactly as
 * gateway.proto describes it (and verifying the node's proof), so the node's link can be tested in
 * memory (createRouterTransport) and over a real socket (connectNodeAdapter), before and independent
 * of the real gateway.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  ConnectNodeResponseSchema,
  Gateway,
  type ConnectNodeRequest,
  type ConnectNodeResponse,
  type NodeAnswer,
} from "../../../src/contract/index.js";
import { handshakePayload, type RelayParams } from "../../../src/contract/relay-hash.js";
import { ed25519Verify } from "../../../src/domain/crypto/ed25519.js";
import { AsyncQueue } from "../../../src/services/relay-node/async-queue.js";

export interface FakeGatewayOptions {
  readonly gatewayId: string;
  readonly donId: string;
  readonly members: readonly Uint8Array[];
  readonly nowMs: () => number;
  readonly heartbeatIntervalMs?: number;
  /** Never answer the hello (a hung gateway): the node's handshake timeout must fire. */
  readonly stallHandshake?: boolean;
  /** Tamper with the challenge (tests of the node's refusals). */
  readonly challenge?: (c: { gatewayId: string; donId: string; timestampMs: bigint; nonce: Uint8Array }) => {
    gatewayId: string;
    donId: string;
    timestampMs: bigint;
    nonce: Uint8Array;
  };
}

export class FakeSession {
  readonly outbound = new AsyncQueue<ConnectNodeResponse>();
  readonly answers: NodeAnswer[] = [];
  heartbeats = 0;
  nodeKey: Uint8Array | undefined;
  proofReceived = false;
  accepted = false;
  ended = false;
  private waiters: (() => void)[] = [];

  request(relayId: bigint, params: RelayParams, timeoutMs = 10_000): void {
    this.outbound.push(
      create(ConnectNodeResponseSchema, {
        message: { case: "request", value: { relayId, params: params as never, timeoutMs } },
      }),
    );
  }

  cancel(relayId: bigint, reason = "client canceled"): void {
    this.outbound.push(create(ConnectNodeResponseSchema, { message: { case: "cancel", value: { relayId, reason } } }));
  }

  /** Ends the stream from the gateway's side. */
  end(): void {
    this.outbound.close();
  }

  answerFor(relayId: bigint): NodeAnswer | undefined {
    return this.answers.find((a) => a.relayId === relayId);
  }

  /** Resolves once `predicate` holds (checked on every message from the node). */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (predicate()) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export class FakeGateway {
  readonly sessions: FakeSession[] = [];
  private sessionWaiters: (() => void)[] = [];

  constructor(readonly options: FakeGatewayOptions) {}

  readonly routes = (router: ConnectRouter): void => {
    router.service(Gateway, { connectNode: (requests, ctx) => this.serve(requests, ctx) });
  };

  /** The n-th (0-based) accepted session, once it exists. */
  async acceptedSession(n: number): Promise<FakeSession> {
    for (;;) {
      const accepted = this.sessions.filter((s) => s.accepted);
      if (accepted.length > n) return accepted[n]!;
      await new Promise<void>((resolve) => this.sessionWaiters.push(resolve));
    }
  }

  /** Resolves when at least `n` sessions have been opened (accepted or not). */
  async openedSessions(n: number): Promise<void> {
    while (this.sessions.length < n) {
      await new Promise<void>((resolve) => this.sessionWaiters.push(resolve));
    }
  }

  private wakeSessions(): void {
    for (const w of this.sessionWaiters.splice(0)) w();
  }

  private async *serve(requests: AsyncIterable<ConnectNodeRequest>, ctx: HandlerContext): AsyncGenerator<ConnectNodeResponse> {
    const session = new FakeSession();
    this.sessions.push(session);
    this.wakeSessions();
    const it = requests[Symbol.asyncIterator]();
    try {
      const first = await it.next();
      if (first.done || first.value.message.case !== "hello") throw new ConnectError("expected hello", Code.InvalidArgument);
      const hello = first.value.message.value;
      session.nodeKey = hello.nodePublicKey;
      const isMember = this.options.members.some((m) => Buffer.compare(m, hello.nodePublicKey) === 0);
      if (!isMember || hello.gatewayId !== this.options.gatewayId || hello.donId !== this.options.donId) {
        throw new ConnectError("not a member", Code.PermissionDenied);
      }
      if (this.options.stallHandshake === true) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        return;
      }
      const real = {
        gatewayId: this.options.gatewayId,
        donId: this.options.donId,
        timestampMs: BigInt(this.options.nowMs()),
        nonce: new Uint8Array(32).map((_, i) => (i * 7 + this.sessions.length) & 0xff),
      };
      const sent = this.options.challenge ? this.options.challenge(real) : real;
      yield create(ConnectNodeResponseSchema, { message: { case: "challenge", value: sent } });

      const second = await it.next();
      if (second.done || second.value.message.case !== "proof") throw new ConnectError("expected proof", Code.InvalidArgument);
      session.proofReceived = true;
      const payload = handshakePayload({ ...real, nodePublicKey: hello.nodePublicKey });
      if (!ed25519Verify(hello.nodePublicKey, payload, second.value.message.value.signature)) {
        throw new ConnectError("bad proof", Code.PermissionDenied);
      }
      session.accepted = true;
      this.wakeSessions();
      yield create(ConnectNodeResponseSchema, {
        message: { case: "accepted", value: { heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 60_000 } },
      });

      // Read answers in the background while yielding whatever the test sends.
      void (async () => {
        try {
          for (;;) {
            const next = await it.next();
            if (next.done) break;
            const m = next.value.message;
            if (m.case === "answer") session.answers.push(m.value);
            else if (m.case === "heartbeat") session.heartbeats++;
            session.notify();
          }
        } catch {
          // stream torn down
        }
        session.end();
      })();
      for await (const msg of session.outbound) {
        if (ctx.signal.aborted) break;
        yield msg;
      }
    } finally {
      session.ended = true;
      session.outbound.close();
      session.notify();
      this.wakeSessions();
    }
  }
}
