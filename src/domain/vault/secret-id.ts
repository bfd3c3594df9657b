/**
 * Secret identifiers as the Vault accepts them (proto/ccr/v1/secrets.proto): a key of 1–128
 * characters and a namespace of 1–64 characters, both from [A-Za-z0-9_.-]; an unset or empty
 * namespace means "main". The small alphabet keeps identifiers safe to print in logs and error
 * messages and gives each identifier exactly one spelling.
 */
import { DEFAULT_NAMESPACE } from "../relay-layouts.js";

export const SECRET_KEY_MAX_LENGTH = 128;
export const SECRET_NAMESPACE_MAX_LENGTH = 64;
const ALPHABET = /^[A-Za-z0-9_.-]+$/;

export interface SecretIdInput {
  readonly key: string;
  readonly namespace?: string | undefined;
}

/** A validated identifier with its effective namespace. */
export interface SecretName {
  readonly namespace: string;
  readonly key: string;
}

export type ParsedSecretId = { kind: "ok"; id: SecretName } | { kind: "invalid"; reason: string };

/** Checks `key` and `namespace`; the reason names the limit that was broken. */
export function parseSecretId(input: SecretIdInput): ParsedSecretId {
  const namespace = input.namespace === undefined || input.namespace === "" ? DEFAULT_NAMESPACE : input.namespace;
  const keyProblem = checkPart("key", input.key, SECRET_KEY_MAX_LENGTH);
  if (keyProblem !== undefined) return { kind: "invalid", reason: keyProblem };
  const namespaceProblem = checkPart("namespace", namespace, SECRET_NAMESPACE_MAX_LENGTH);
  if (namespaceProblem !== undefined) return { kind: "invalid", reason: namespaceProblem };
  return { kind: "ok", id: { namespace, key: input.key } };
}

/** A namespace filter as ListSecrets takes it: empty means every namespace. */
export function checkNamespaceFilter(namespace: string): string | undefined {
  return namespace === "" ? undefined : checkPart("namespace", namespace, SECRET_NAMESPACE_MAX_LENGTH);
}

function checkPart(what: string, value: string, max: number): string | undefined {
  if (value.length === 0) return `secret ${what} must not be empty`;
  if (value.length > max) return `secret ${what} must be at most ${max} characters, got ${value.length}`;
  if (!ALPHABET.test(value)) return `secret ${what} may contain only A-Z, a-z, 0-9, "_", "." and "-"`;
  return undefined;
}

/** "namespace/key", how identifiers appear in messages and logs. */
export function describeSecretId(id: SecretName): string {
  return `${id.namespace}/${id.key}`;
}
