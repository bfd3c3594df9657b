/**
 * What one execution's guest gets from the enclave host: the runtime's HostCalls (docs/wasm-abi.md),
 * served through the relay.
 *
 *  - get_secrets: answered from the secrets fetched before the guest started (vault_don_secrets, one
 *    round trip); anything else the guest asks for goes through the gateway, and is then kept for
 *    the rest of the execution (only in this object, which dies with the execution).
 *  - call_capability: one ExecuteCapability per call, with reference id `<execution_id>:<n>`, n the
 *    call's index in the execution (0, 1, …). Deterministic on purpose: the Capability service
 *    memoizes by (workflow, execution, reference id, capability, method, payload hash), so every
 *    relay node asking for one call gets identical bytes, and an execution the workflow node runs
 *    again (a retry after a timeout, a restarted enclave) maps each call to the same memo entry
 *    instead of repeating its side effect (an HTTP POST) within the memo window. A random id would
 *    make every retry a new call. Guests are deterministic (no entropy import), so call n of a
 *    re-run is call n of the first run; if it is not, its payload hash differs and it is a new entry.
 *  - log: to the host logger with the workflow and execution ids (rate and size limits are the
 *    runtime's). The host itself never logs a secret; a guest that logs one has the value replaced
 *    by "[redacted secret]" — every plaintext this execution received of at least
 *    MIN_REDACTED_SECRET_CHARS characters, verbatim (a transformed copy, e.g. hex, cannot be
 *    recognised: best effort, not a substitute for guests that never log secrets).
 *  - now: the injected clock.
 * Every relay answer whose certificate verified leaves a receipt in the execution's RelayReceipts
 * (relay-receipts.ts), in call order, whether the guest then gets a value or an error from it.
 * Without an execution id (the subscribe phase) there is nothing a relay node would authorize, so
 * secret and capability calls are answered with an error at once.
 */
import type { Logger } from "pino";
import type { Clock } from "../../domain/clock.js";
import type { CapabilityRequest, CapabilityResponse, GuestLogLevel, HostCalls, SecretAnswer, SecretsRequest, SecretsResponse } from "../../wasm/guest-abi.js";
import type { ExecutionIdentity, RelayClient, SecretId, SecretItem } from "./relay-client.js";
import type { RelayReceipts } from "./relay-receipts.js";

/** relay.proto: 1–64 secrets per GetSecretsRequest. */
export const MAX_SECRETS_PER_RELAY_CALL = 64;

/** Shorter values are not redacted from guest logs: they would blank out ordinary text. */
export const MIN_REDACTED_SECRET_CHARS = 4;
export const REDACTED_SECRET = "[redacted secret]";

export const NO_EXECUTION_ID = "no execution id (subscribe phase): secrets and capability calls need an execution";

function slot(id: SecretId): string {
  return `${id.namespace}\u0000${id.key}`;
}

function toAnswer(item: SecretItem): SecretAnswer {
  return item.kind === "secret"
    ? { kind: "secret", id: item.key, namespace: item.namespace, value: item.value }
    : { kind: "error", id: item.key, namespace: item.namespace, error: item.error };
}

/** Distinct ids in first-seen order. */
function distinct(ids: readonly SecretId[]): SecretId[] {
  const seen = new Set<string>();
  return ids.filter((id) => {
    const s = slot(id);
    if (seen.has(s)) return false;
    seen.add(s);
    return true;
  });
}

/**
 * Fetches `ids` through the relay, 64 per round trip, into `into`, recording each certified
 * answer's receipt in `receipts`. A failed round trip becomes a per-secret error for each of its
 * ids: the guest sees why when it asks.
 */
export async function fetchSecretsInto(
  relay: RelayClient,
  identity: ExecutionIdentity,
  ids: readonly SecretId[],
  into: Map<string, SecretItem>,
  receipts: RelayReceipts,
  signal: AbortSignal,
): Promise<void> {
  const wanted = distinct(ids).filter((id) => !into.has(slot(id)));
  for (let at = 0; at < wanted.length; at += MAX_SECRETS_PER_RELAY_CALL) {
    const batch = wanted.slice(at, at + MAX_SECRETS_PER_RELAY_CALL);
    const fetched = await relay.getSecrets(identity, batch, signal);
    if (fetched.receipt !== undefined) receipts.record(fetched.receipt);
    if (fetched.kind === "ok") for (const item of fetched.items) into.set(slot(item), item);
    else for (const id of batch) into.set(slot(id), { kind: "error", key: id.key, namespace: id.namespace, error: fetched.error });
  }
}

export interface ExecutionHostDeps {
  readonly relay: RelayClient;
  readonly identity: ExecutionIdentity;
  /** Secrets fetched before the run ("namespace\0key" → item); the host adds what the guest fetches later. */
  readonly secrets: Map<string, SecretItem>;
  /** The execution's receipts (the pre-start fetch's already in it); the host adds the guest's calls'. */
  readonly receipts: RelayReceipts;
  /** A logger already bound to the workflow and execution ids. */
  readonly logger: Logger;
  readonly clock: Clock;
}

export class ExecutionHost implements HostCalls {
  private nextCallIndex = 0;

  constructor(private readonly deps: ExecutionHostDeps) {}

  /** Capability calls made so far. */
  get capabilityCalls(): number {
    return this.nextCallIndex;
  }

  async callCapability(request: CapabilityRequest, signal: AbortSignal): Promise<CapabilityResponse> {
    const { identity, relay } = this.deps;
    if (identity.executionId === "") return { kind: "error", error: NO_EXECUTION_ID };
    const referenceId = `${identity.executionId}:${this.nextCallIndex++}`;
    const outcome = await relay.executeCapability(identity, referenceId, request, signal);
    if (outcome.receipt !== undefined) this.deps.receipts.record(outcome.receipt);
    return outcome.kind === "ok" ? outcome.response : { kind: "error", error: outcome.error };
  }

  async getSecrets(request: SecretsRequest, signal: AbortSignal): Promise<SecretsResponse> {
    const { identity, relay, secrets, receipts } = this.deps;
    const ids = request.requests.map((r) => ({ key: r.id, namespace: r.namespace === "" ? "main" : r.namespace }));
    if (identity.executionId === "") {
      return { responses: ids.map((id) => ({ kind: "error", id: id.key, namespace: id.namespace, error: NO_EXECUTION_ID })) };
    }
    await fetchSecretsInto(relay, identity, ids, secrets, receipts, signal);
    return {
      responses: ids.map((id) => {
        const item = secrets.get(slot(id));
        return item === undefined ? { kind: "error", id: id.key, namespace: id.namespace, error: "secret was not fetched" } : toAnswer(item);
      }),
    };
  }

  log(level: GuestLogLevel, message: string): void {
    let line = message;
    for (const item of this.deps.secrets.values()) {
      if (item.kind === "secret" && item.value.length >= MIN_REDACTED_SECRET_CHARS && line.includes(item.value)) {
        line = line.split(item.value).join(REDACTED_SECRET);
      }
    }
    this.deps.logger[level]({ source: "guest" }, line);
  }

  nowMs(): number {
    return this.deps.clock.nowMs();
  }
}
