/**
 * A tiny Capability implementation for the runtime's tests: the service under test is the runtime,
 * not the capability.
 *
 *   echo@1       → echoes the payload
 *   boom@1       → throws a plain Error (a bug): must reach the client as Internal "internal error"
 *   missing@1    → ConnectError NotFound (an expected error)
 *   slow@1       → signals `slowStarted`, then waits for `releaseSlow` (ignores its signal on purpose)
 *   log-secret@1 → logs secret-bearing fields through callLogger(ctx)
 * List is left unimplemented (answers Unimplemented).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Capability } from "../../../src/contract/index.js";
import { callLogger, implement, type ServiceRegistration } from "../../../src/transport/index.js";

export class Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  constructor() {
    this.promise = new Promise<T>((resolve) => {
      this.resolve = resolve;
    });
  }
}

export const secretMarker = "hunter2-very-secret-value";

export interface FakeCapability {
  readonly registration: ServiceRegistration;
  slowStarted: Deferred;
  releaseSlow: Deferred;
  /** Request headers seen by the last call. */
  lastHeaders: Headers | undefined;
}

export function fakeCapability(): FakeCapability {
  const fake: FakeCapability = {
    slowStarted: new Deferred(),
    releaseSlow: new Deferred(),
    lastHeaders: undefined,
    registration: implement(Capability, {
      async execute(request, ctx) {
        fake.lastHeaders = ctx.requestHeader;
        switch (request.capabilityId) {
          case "echo@1":
            return { payload: request.payload };
          case "boom@1":
            throw new Error("kaboom: the database is on fire");
          case "missing@1":
            throw new ConnectError(`capability "${request.capabilityId}" is not registered`, Code.NotFound);
          case "slow@1":
            fake.slowStarted.resolve();
            await fake.releaseSlow.promise;
            return { payload: new TextEncoder().encode("slow done") };
          case "log-secret@1":
            callLogger(ctx).info(
              {
                value: secretMarker,
                request: { privateKey: secretMarker, nested: { seed: secretMarker } },
                headers: { authorization: `Bearer ${secretMarker}` },
              },
              "handling a secret",
            );
            return { payload: new Uint8Array() };
          default:
            throw new ConnectError(`unknown capability ${request.capabilityId}`, Code.NotFound);
        }
      },
    }),
  };
  return fake;
}
