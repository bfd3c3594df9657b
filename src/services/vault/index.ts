/**
 * The Vault service (issue 5; contract proto/ccr/v1/vault.proto; docs/vault.md): owner-signed
 * writes, secrets sealed at rest, and reads for DON members sealed to the enclave's key, memoized so
 * every relay node gets identical bytes.
 *
 *   const vault = createVaultService({ options: resolveVaultOptions(cfg), store, logger });
 *   const server = createServer({ services: [implement(Vault, vault.implementation)], logger });
 *   vault.registerMetricsOn(server.metrics.registry);
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { Vault, type VaultGetSecretsRequest } from "../../contract/index.js";
import { systemClock, type Clock, type RandomBytes } from "../../domain/clock.js";
import { Code, ConnectError, ccrError } from "../../domain/errors.js";
import type { VaultStore } from "../../store/vault-store.js";
import { leanUnary, type LeanUnaryRoute } from "../../transport/lean-unary.js";
import { callLoggerKey } from "../../transport/logger.js";
import type { VaultContext } from "./context.js";
import { createSecretsMemo, getSecrets } from "./get-secrets.js";
import { createVaultMetrics } from "./metrics.js";
import type { VaultOptions } from "./options.js";
import type { NoncePruner } from "./owner-auth.js";
import { deleteSecret, listSecrets, putSecret } from "./writes.js";

export { resolveVaultOptions, type VaultOptions, type VaultOptionsInput, VAULT_CONTRACT_LIMITS } from "./options.js";
export { rotateVaultKeys, type RotateVaultKeysDeps, type RotateVaultKeysResult } from "./rotate-keys.js";
export { secretsMemoKey } from "./get-secrets.js";
// The layouts a client needs, re-exported for callers that already depend on the service; the relay
// node imports them from src/domain/vault/ (services never import each other).
export { signOwnerRequest, ownerRequestDigest, ownerRequestLayout, type OwnerRequest } from "../../domain/vault/owner-request.js";
export { signVaultNodeRequest, vaultNodeRequestPayload, verifyVaultNodeRequest } from "../../domain/vault/node-request.js";
export { openSecret, sealSecret } from "../../domain/crypto/secret-box.js";

export interface VaultServiceDeps {
  readonly options: VaultOptions;
  readonly store: VaultStore;
  readonly logger: Logger;
  /**
   * Where the service's metrics go (once per service instance). Optional because the server's
   * registry exists only after `createServer`, which takes this service: then call
   * `registerMetricsOn(server.metrics.registry)` instead.
   */
  readonly registry?: Registry;
  readonly clock?: Clock;
  readonly randomBytes?: RandomBytes;
}

export interface VaultService {
  readonly service: typeof Vault;
  readonly implementation: ServiceImpl<typeof Vault>;
  /**
   * `GetSecrets` (the relay nodes' read, N calls per relayed secrets request) for the transport's
   * lean gRPC path (`createServer({ leanUnary })`, src/transport/lean-unary.ts): the same answers as
   * `implementation.getSecrets`, without connect-node's per-call machinery. The owner-signed writes
   * stay on connect only.
   */
  readonly leanRoutes: readonly LeanUnaryRoute[];
  /** Adds the service's metrics to `registry` (e.g. `server.metrics.registry`). */
  registerMetricsOn(registry: Registry): void;
}

const defaultRandomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

/** The call's logger when the ccr transport serves the call, else the service's own. */
function withCallLogger(ctx: VaultContext, hctx: HandlerContext | undefined): VaultContext {
  const callLog = hctx?.values.get(callLoggerKey);
  return callLog === undefined || callLog === callLoggerKey.defaultValue ? ctx : { ...ctx, logger: callLog };
}

export function createVaultService(deps: VaultServiceDeps): VaultService {
  const ctx: VaultContext = Object.freeze({
    options: deps.options,
    store: deps.store,
    clock: deps.clock ?? systemClock,
    randomBytes: deps.randomBytes ?? defaultRandomBytes,
    logger: deps.logger.child({ svc: "vault" }),
    metrics: createVaultMetrics(deps.registry),
  });
  const memo = createSecretsMemo(ctx);
  const pruner: NoncePruner = { lastPruneMs: Number.NEGATIVE_INFINITY };

  /**
   * Counts and times every call, and hands the handler a context whose logger is the call's own
   * (`callLogger(ctx)`: rpc and request id bound) when served by the ccr transport. Errors are logged
   * once, by the transport's call observer; anything that is not a ConnectError leaves as a bare
   * Internal "internal error" with the original kept as its cause.
   */
  function instrument<Req, Res>(
    method: string,
    handler: (c: VaultContext, req: Req) => Promise<Res>,
  ): (req: Req, hctx: HandlerContext | undefined) => Promise<Res> {
    return async (req, hctx) => {
      const end = ctx.metrics.duration.startTimer({ method });
      try {
        const res = await handler(withCallLogger(ctx, hctx), req);
        ctx.metrics.calls.inc({ method, code: "OK" });
        return res;
      } catch (error) {
        const connectError = error instanceof ConnectError ? error : ccrError("internal error", Code.Internal, error);
        ctx.metrics.calls.inc({ method, code: Code[connectError.code] });
        throw connectError;
      } finally {
        end();
      }
    };
  }

  const implementation: ServiceImpl<typeof Vault> = {
    putSecret: instrument("PutSecret", (c, req) => putSecret(c, pruner, req)),
    deleteSecret: instrument("DeleteSecret", (c, req) => deleteSecret(c, pruner, req)),
    listSecrets: instrument("ListSecrets", (c, req) => listSecrets(c, pruner, req)),
    getSecrets: instrument("GetSecrets", (c, req) => getSecrets(c, memo, req)),
  };
  // No HandlerContext on the lean path: the service's own logger is used (the transport logs the call).
  const leanGetSecrets = instrument("GetSecrets", (c, req: VaultGetSecretsRequest) => getSecrets(c, memo, req));
  const leanRoutes = Object.freeze([leanUnary(Vault.method.getSecrets, (req) => leanGetSecrets(req, undefined))]);
  return Object.freeze({ service: Vault, implementation, leanRoutes, registerMetricsOn: (registry: Registry) => ctx.metrics.registerOn(registry) });
}
