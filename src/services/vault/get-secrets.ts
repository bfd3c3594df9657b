/**
 * GetSecrets: relay nodes read secrets, each sealed to the attested enclave's X25519 key.
 *
 * Checks, in order (docs/vault.md, "GetSecrets"):
 * 1. shape → InvalidArgument (owner, workflow_id, execution_id, 1–64 secrets, 32-byte keys, 64-byte
 *    signature); a malformed secret *identifier* is not a request error but that item's INVALID_ID;
 * 2. the node key is a configured DON member → PermissionDenied otherwise;
 * 3. timestamp_ms within maxClockSkewMs of the Vault's clock → Unauthenticated otherwise;
 * 4. node_signature over the request layout (src/domain/vault/node-request.ts) → Unauthenticated.
 *
 * There is no replay cache: a replayed request can only obtain boxes sealed to the enclave key it
 * names, which only that enclave can open, and the memo answers it with bytes already given out.
 *
 * Then the memo: the answer is keyed by the logical request — (owner, workflow_id, execution_id,
 * secret ids in order, enclave key), not the node key nor the timestamp — so every relay node asking
 * within the TTL gets the same bytes, and concurrent identical requests share one computation.
 */
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  CanonicalWriter,
  SecretErrorKind,
  SecretResultSchema,
  VaultGetSecretsResponseSchema,
  effectiveNamespace,
  type SecretResult,
  type VaultGetSecretsRequest,
  type VaultGetSecretsResponse,
} from "../../contract/index.js";
import { X25519_KEY_LENGTH, sealSecret } from "../../domain/crypto/secret-box.js";
import { Code, ccrError } from "../../domain/errors.js";
import { Memo } from "../../domain/memo/memo.js";
import { openAtRest } from "../../domain/vault/at-rest.js";
import { verifyVaultNodeRequest } from "../../domain/vault/node-request.js";
import { describeSecretId, parseSecretId, type SecretName } from "../../domain/vault/secret-id.js";
import type { StoredSecretRow } from "../../store/vault-store.js";
import type { VaultContext } from "./context.js";
import { requireOwner } from "./writes.js";

export type SecretsMemo = Memo<VaultGetSecretsResponse>;

export function createSecretsMemo(ctx: Pick<VaultContext, "options" | "clock">): SecretsMemo {
  return new Memo<VaultGetSecretsResponse>({
    ttlMs: ctx.options.memo.ttlMs,
    maxEntries: ctx.options.memo.maxEntries,
    maxWeight: ctx.options.memo.maxBytes,
    weigh: responseBytes,
    clock: ctx.clock,
  });
}

function responseBytes(response: VaultGetSecretsResponse): number {
  let n = 64;
  for (const r of response.results) {
    n += 64 + (r.id?.key.length ?? 0) + (r.id?.namespace?.length ?? 0);
    if (r.outcome.case === "encrypted") n += r.outcome.value.encapsulatedKey.length + r.outcome.value.ciphertext.length;
    else if (r.outcome.case === "error") n += r.outcome.value.message.length;
  }
  return n;
}

/** The memo key of a request: SHA-256 of its logical content (hex). */
export function secretsMemoKey(req: VaultGetSecretsRequest): string {
  const w = new CanonicalWriter("ccr.v1.vault.memo")
    .str(req.owner.toLowerCase())
    .str(req.workflowId)
    .str(req.executionId)
    .u64(req.secrets.length);
  for (const s of req.secrets) w.str(s.key).str(effectiveNamespace(s));
  w.bytes(req.enclavePublicKey);
  return createHash("sha256").update(w.finish()).digest("hex");
}

function hexPrefix(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 8)).toString("hex");
}

/** Steps 1–4 above; returns the owner in EIP-55 form. */
export function authorizeNodeRequest(ctx: VaultContext, req: VaultGetSecretsRequest): string {
  const owner = requireOwner(req.owner);
  if (req.workflowId === "") throw ccrError("workflow_id is required", Code.InvalidArgument);
  if (req.executionId === "") throw ccrError("execution_id is required", Code.InvalidArgument);
  if (req.secrets.length === 0 || req.secrets.length > ctx.options.maxSecretsPerRequest) {
    throw ccrError(`secrets must have 1–${ctx.options.maxSecretsPerRequest} entries, got ${req.secrets.length}`, Code.InvalidArgument);
  }
  if (req.enclavePublicKey.length !== X25519_KEY_LENGTH) {
    throw ccrError(`enclave_public_key must be a ${X25519_KEY_LENGTH}-byte X25519 public key, got ${req.enclavePublicKey.length} bytes`, Code.InvalidArgument);
  }
  if (req.nodePublicKey.length !== 32) {
    throw ccrError(`node_public_key must be a 32-byte ed25519 public key, got ${req.nodePublicKey.length} bytes`, Code.InvalidArgument);
  }
  if (req.nodeSignature.length !== 64) {
    throw ccrError(`node_signature must be a 64-byte ed25519 signature, got ${req.nodeSignature.length} bytes`, Code.InvalidArgument);
  }
  if (!ctx.options.donMembers.has(Buffer.from(req.nodePublicKey).toString("hex"))) {
    throw ccrError(`node key ${hexPrefix(req.nodePublicKey)}… is not a member of the configured DON`, Code.PermissionDenied);
  }
  const skewMs = Number(req.timestampMs) - ctx.clock.nowMs();
  if (Math.abs(skewMs) > ctx.options.maxClockSkewMs) {
    throw ccrError(
      `timestamp_ms is ${skewMs} ms off the vault's clock (allowed ±${ctx.options.maxClockSkewMs} ms); check the node's clock and sign a fresh request`,
      Code.Unauthenticated,
    );
  }
  if (!verifyVaultNodeRequest(req)) {
    throw ccrError("node_signature does not verify over the request (layout in docs/vault.md)", Code.Unauthenticated);
  }
  return owner;
}

function secretError(id: { key: string; namespace: string }, kind: SecretErrorKind, message: string): SecretResult {
  return create(SecretResultSchema, { id, outcome: { case: "error", value: { kind, message } } });
}

/** Computes the answer (no memo): per-item results in request order. */
export async function computeSecrets(ctx: VaultContext, owner: string, req: VaultGetSecretsRequest): Promise<VaultGetSecretsResponse> {
  const parsed = req.secrets.map((s) => parseSecretId(s));
  const wanted: SecretName[] = [];
  const seen = new Set<string>();
  for (const p of parsed) {
    if (p.kind !== "ok") continue;
    const k = describeSecretId(p.id);
    if (!seen.has(k)) {
      seen.add(k);
      wanted.push(p.id);
    }
  }
  const rows = new Map<string, StoredSecretRow>();
  for (const row of await ctx.store.getMany(owner, wanted)) rows.set(describeSecretId(row), row);

  const results: SecretResult[] = [];
  for (const [i, p] of parsed.entries()) {
    const asked = req.secrets[i]!;
    if (p.kind === "invalid") {
      ctx.metrics.items.inc({ outcome: "invalid_id" });
      results.push(secretError({ key: asked.key, namespace: effectiveNamespace(asked) }, SecretErrorKind.INVALID_ID, `invalid secret id: ${p.reason}`));
      continue;
    }
    const row = rows.get(describeSecretId(p.id));
    if (row === undefined) {
      ctx.metrics.items.inc({ outcome: "not_found" });
      results.push(secretError(p.id, SecretErrorKind.NOT_FOUND, `secret not found: ${describeSecretId(p.id)}`));
      continue;
    }
    const opened = openAtRest(ctx.options.keyring, row, row);
    if (opened.kind !== "ok") {
      const cause = opened.kind === "unknown-key" ? `key id "${opened.keyId}" is not in the keyring` : opened.reason;
      throw ccrError(`secret ${describeSecretId(p.id)} cannot be decrypted; the operator must check the vault keyring`, Code.Internal, new Error(cause));
    }
    let sealed;
    try {
      sealed = sealSecret(req.enclavePublicKey, opened.plaintext, { owner, namespace: p.id.namespace, key: p.id.key }, ctx.randomBytes(X25519_KEY_LENGTH));
    } catch (error) {
      throw ccrError("enclave_public_key is not a usable X25519 public key", Code.InvalidArgument, error);
    } finally {
      opened.plaintext.fill(0);
    }
    ctx.metrics.items.inc({ outcome: "encrypted" });
    results.push(
      create(SecretResultSchema, {
        id: { key: p.id.key, namespace: p.id.namespace },
        outcome: { case: "encrypted", value: { encapsulatedKey: sealed.encapsulatedKey, ciphertext: sealed.ciphertext } },
      }),
    );
  }
  return create(VaultGetSecretsResponseSchema, { results });
}

export async function getSecrets(ctx: VaultContext, memo: SecretsMemo, req: VaultGetSecretsRequest): Promise<VaultGetSecretsResponse> {
  const owner = authorizeNodeRequest(ctx, req);
  const { value, source } = await memo.getOrCompute(secretsMemoKey(req), () => computeSecrets(ctx, owner, req));
  ctx.metrics.memo.inc({ result: source });
  ctx.logger.debug(
    { owner, workflowId: req.workflowId, executionId: req.executionId, secrets: req.secrets.length, node: hexPrefix(req.nodePublicKey), memo: source },
    "secrets served",
  );
  return value;
}
