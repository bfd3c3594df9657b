/**
 * The Vault's options: validated once, frozen, every error naming the option at fault. The lead's
 * config layer (src/config/) reads files and the environment and hands the values here.
 */
import { Code, ccrError } from "../../domain/errors.js";
import { resolveVaultKeyring, type VaultKeyring } from "../../domain/vault/keyring.js";

/** Limits the contract fixes (proto/ccr/v1/vault.proto); options may only tighten them. */
export const VAULT_CONTRACT_LIMITS = Object.freeze({
  maxValueBytes: 16 * 1024,
  maxSecretsPerRequest: 64,
  maxSignatureLifetimeMs: 60 * 60 * 1000,
  maxNonceLength: 64,
});

export interface VaultOptionsInput {
  /** The master keys: {activeKeyId, keys: {id: base64 or hex of 32 bytes}} (see domain/vault/keyring.ts). */
  readonly keyring: unknown;
  /** ed25519 public keys (32 bytes; hex or base64 strings or bytes) of the DON members allowed to GetSecrets. */
  readonly donMembers: ReadonlyArray<string | Uint8Array>;
  /** How far a node's timestamp_ms may be from the Vault's clock, either way. Default 30 000. */
  readonly maxClockSkewMs?: number;
  /** How far ahead an owner's expires_at_ms may be. Default and maximum 3 600 000 (1 hour). */
  readonly maxSignatureLifetimeMs?: number;
  /** Largest secret value. Default and maximum 16 384. */
  readonly maxValueBytes?: number;
  /** Most secrets in one GetSecrets. Default and maximum 64. */
  readonly maxSecretsPerRequest?: number;
  /** The GetSecrets memo: identical requests within ttlMs get identical bytes. */
  readonly memo?: {
    /** Default 60 000: long enough for every node of a fan-out, short enough that updates show soon. */
    readonly ttlMs?: number;
    /** Default 10 000 responses. */
    readonly maxEntries?: number;
    /** Default 64 MiB of ciphertext. */
    readonly maxBytes?: number;
  };
  /** How often, at most, expired write nonces are deleted. Default 60 000. */
  readonly noncePruneIntervalMs?: number;
  /** Rows re-sealed per batch by a key rotation. Default 100. */
  readonly rotationBatchSize?: number;
}

export interface VaultOptions {
  readonly keyring: VaultKeyring;
  /** Hex of each member's ed25519 public key. */
  readonly donMembers: ReadonlySet<string>;
  readonly maxClockSkewMs: number;
  readonly maxSignatureLifetimeMs: number;
  readonly maxValueBytes: number;
  readonly maxSecretsPerRequest: number;
  readonly memo: { readonly ttlMs: number; readonly maxEntries: number; readonly maxBytes: number };
  readonly noncePruneIntervalMs: number;
  readonly rotationBatchSize: number;
}

function invalid(message: string): Error {
  return ccrError(message, Code.InvalidArgument);
}

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

function decodeMember(value: string | Uint8Array, index: number): string {
  let bytes: Uint8Array | undefined;
  if (value instanceof Uint8Array) bytes = value;
  else if (/^(0x)?[0-9a-fA-F]{64}$/.test(value.trim())) bytes = Buffer.from(value.trim().replace(/^0x/, ""), "hex");
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value.trim())) bytes = Buffer.from(value.trim(), value.includes("-") || value.includes("_") ? "base64url" : "base64");
  if (bytes === undefined || bytes.length !== 32) {
    throw invalid(`vault.donMembers[${index}] must be a 32-byte ed25519 public key (64 hex digits or base64)`);
  }
  return Buffer.from(bytes).toString("hex");
}

export function resolveVaultOptions(input: VaultOptionsInput): VaultOptions {
  const keyring = resolveVaultKeyring(input.keyring, "vault.keyring");
  if (!Array.isArray(input.donMembers) || input.donMembers.length === 0) {
    throw invalid("vault.donMembers must list at least one relay node's ed25519 public key");
  }
  const donMembers = new Set(input.donMembers.map(decodeMember));
  const memo = input.memo ?? {};
  return Object.freeze({
    keyring,
    donMembers,
    maxClockSkewMs: integer("vault.maxClockSkewMs", input.maxClockSkewMs, 30_000, 0, 10 * 60_000),
    maxSignatureLifetimeMs: integer(
      "vault.maxSignatureLifetimeMs",
      input.maxSignatureLifetimeMs,
      VAULT_CONTRACT_LIMITS.maxSignatureLifetimeMs,
      1_000,
      VAULT_CONTRACT_LIMITS.maxSignatureLifetimeMs,
    ),
    maxValueBytes: integer("vault.maxValueBytes", input.maxValueBytes, VAULT_CONTRACT_LIMITS.maxValueBytes, 1, VAULT_CONTRACT_LIMITS.maxValueBytes),
    maxSecretsPerRequest: integer(
      "vault.maxSecretsPerRequest",
      input.maxSecretsPerRequest,
      VAULT_CONTRACT_LIMITS.maxSecretsPerRequest,
      1,
      VAULT_CONTRACT_LIMITS.maxSecretsPerRequest,
    ),
    memo: Object.freeze({
      ttlMs: integer("vault.memo.ttlMs", memo.ttlMs, 60_000, 0, 24 * 3_600_000),
      maxEntries: integer("vault.memo.maxEntries", memo.maxEntries, 10_000, 1, 10_000_000),
      maxBytes: integer("vault.memo.maxBytes", memo.maxBytes, 64 * 1024 * 1024, 1024, 2 ** 40),
    }),
    noncePruneIntervalMs: integer("vault.noncePruneIntervalMs", input.noncePruneIntervalMs, 60_000, 0, 24 * 3_600_000),
    rotationBatchSize: integer("vault.rotationBatchSize", input.rotationBatchSize, 100, 1, 10_000),
  });
}
