/**
 * Workflow attributes: the registry's opaque `attributes` bytes, read by the workflow node to decide
 * where a workflow runs (reference chainlink-workflows.md §3).
 *
 *   {"confidential":true,"vault_don_secrets":[{"key":"API_KEY"},{"key":"SIGNING_KEY","namespace":"custom-ns"}]}
 *
 * `parseWorkflowAttributes` reproduces upstream `ParseWorkflowAttributes`, i.e. Go's
 * `json.Unmarshal(data, &WorkflowAttributes{})`, exactly (§3.2, §3.3):
 * - empty bytes → not confidential, no error (the DB default `''`, NULL, and what the CLI sends for
 *   ordinary workflows);
 * - `null` → the zero value, no error;
 * - object keys match field names case-insensitively (Go's Unicode simple folding, so U+212A KELVIN
 *   SIGN matches `k` and U+017F LONG S matches `s`), an exact match preferred; unknown keys ignored;
 * - duplicate keys: each is decoded in turn into the same struct, so the last one wins — and, as in
 *   Go, a repeated `vault_don_secrets` array decodes into the elements the previous one left, so a
 *   field the later element omits keeps the earlier element's value;
 * - `null` as a field's value leaves the field as it was; any other wrong type (e.g. `"true"` for
 *   `confidential`) is an error, reported after decoding everything else, as Go does;
 * - anything that is not JSON (truncated, trailing garbage, whitespace only, a byte-order mark) is
 *   an error, and syntax errors win over type errors.
 * Errors read `failed to parse workflow attributes: <Go's json error text>`. A malformed value fails
 * closed: the caller must not fall through to non-confidential execution (§3.2 `IsConfidential`).
 */
import { parseGoJson, type GoJsonValue } from "./go-json.js";

/** One secret the enclave should fetch before the guest runs (upstream `SecretIdentifier`). */
export interface SecretIdentifier {
  readonly key: string;
  /** As written; "" when absent. Use `secretNamespace` to apply the "main" default. */
  readonly namespace: string;
}

/** Upstream `WorkflowAttributes` (PR era). */
export interface WorkflowAttributes {
  readonly confidential: boolean;
  /** `null` where Go's slice is nil (absent or JSON `null`); `[]` for an empty JSON array. */
  readonly vaultDonSecrets: readonly SecretIdentifier[] | null;
}

export type ParsedWorkflowAttributes =
  | { readonly kind: "ok"; readonly attributes: WorkflowAttributes }
  | { readonly kind: "invalid"; readonly reason: string };

export const ATTRIBUTES_ERROR_PREFIX = "failed to parse workflow attributes: ";

/** The Vault DON's default namespace (upstream comment: VaultDON treats "main" as the default). */
export const DEFAULT_SECRET_NAMESPACE = "main";

const NOT_CONFIDENTIAL: WorkflowAttributes = Object.freeze({ confidential: false, vaultDonSecrets: null });

/** Upstream `ParseWorkflowAttributes`. */
export function parseWorkflowAttributes(data: Uint8Array | null | undefined): ParsedWorkflowAttributes {
  if (data === null || data === undefined || data.length === 0) return { kind: "ok", attributes: NOT_CONFIDENTIAL };
  const parsed = parseGoJson(data);
  if (parsed.kind === "syntax-error") return { kind: "invalid", reason: ATTRIBUTES_ERROR_PREFIX + parsed.message };
  const decoder = new AttributesDecoder();
  const attributes = decoder.decode(parsed.value);
  if (decoder.firstError !== undefined) return { kind: "invalid", reason: ATTRIBUTES_ERROR_PREFIX + decoder.firstError };
  return { kind: "ok", attributes };
}

/** Upstream `IsConfidential`: an error on malformed attributes, so callers fail loudly. */
export function isConfidential(
  data: Uint8Array | null | undefined,
): { readonly kind: "ok"; readonly confidential: boolean } | { readonly kind: "invalid"; readonly reason: string } {
  const parsed = parseWorkflowAttributes(data);
  return parsed.kind === "ok" ? { kind: "ok", confidential: parsed.attributes.confidential } : parsed;
}

/** The namespace a secret is fetched from: its own, or "main" when empty. */
export function secretNamespace(secret: SecretIdentifier): string {
  return secret.namespace === "" ? DEFAULT_SECRET_NAMESPACE : secret.namespace;
}

/**
 * The attributes `ccr workflow deploy` writes (upstream CLI: `vault_don_secrets` omitted when empty,
 * `namespace` omitted when empty; non-confidential workflows get empty bytes).
 */
export function encodeWorkflowAttributes(input: { confidential: boolean; secrets?: readonly SecretIdentifier[] }): Uint8Array {
  const secrets = input.secrets ?? [];
  if (!input.confidential) {
    if (secrets.length > 0) throw new Error("vault_don_secrets need a confidential workflow");
    return new Uint8Array(0);
  }
  const body: { confidential: true; vault_don_secrets?: Array<{ key: string; namespace?: string }> } = { confidential: true };
  if (secrets.length > 0) {
    body.vault_don_secrets = secrets.map((s) => (s.namespace === "" ? { key: s.key } : { key: s.key, namespace: s.namespace }));
  }
  return new TextEncoder().encode(JSON.stringify(body));
}

// --- decoding, as Go's decodeState does it -----------------------------------------------------

interface MutableSecret {
  key: string;
  namespace: string;
}

/** Go type names as `reflect.Type.String()` prints them in upstream (package `v2`). */
const TYPE_ATTRIBUTES = "v2.WorkflowAttributes";
const TYPE_SECRET = "v2.SecretIdentifier";
const TYPE_SECRETS = "[]v2.SecretIdentifier";

class AttributesDecoder {
  firstError: string | undefined;
  private confidential = false;
  /** The slice's elements (`length` of them are visible) and its backing array (Go reuses it). */
  private secrets: { length: number; backing: MutableSecret[] } | null = null;

  decode(value: GoJsonValue): WorkflowAttributes {
    if (value.kind === "object") {
      for (const [key, member] of value.entries) {
        switch (matchField(key, ATTRIBUTE_FIELDS)) {
          case "confidential":
            this.decodeConfidential(member);
            break;
          case "vault_don_secrets":
            this.decodeSecrets(member);
            break;
          default:
            break; // unknown keys are skipped
        }
      }
    } else if (value.kind !== "null") {
      this.saveError(`json: cannot unmarshal ${goKind(value)} into Go value of type ${TYPE_ATTRIBUTES}`);
    }
    const secrets = this.secrets === null ? null : this.secrets.backing.slice(0, this.secrets.length).map((s) => Object.freeze({ ...s }));
    return Object.freeze({ confidential: this.confidential, vaultDonSecrets: secrets === null ? null : Object.freeze(secrets) });
  }

  private decodeConfidential(value: GoJsonValue): void {
    if (value.kind === "bool") this.confidential = value.value;
    else if (value.kind !== "null") this.typeError(value, "WorkflowAttributes", "confidential", "bool");
  }

  private decodeSecrets(value: GoJsonValue): void {
    if (value.kind === "null") {
      this.secrets = null; // a nil slice: the backing array is gone too
      return;
    }
    if (value.kind !== "array") {
      this.typeError(value, "WorkflowAttributes", "vault_don_secrets", TYPE_SECRETS);
      return;
    }
    if (value.items.length === 0) {
      this.secrets = { length: 0, backing: [] }; // Go makes a new empty slice
      return;
    }
    const slice = this.secrets ?? { length: 0, backing: [] };
    value.items.forEach((item, index) => {
      // Within the old capacity Go decodes into the element already there, without zeroing it.
      const element = slice.backing[index] ?? (slice.backing[index] = { key: "", namespace: "" });
      this.decodeSecret(item, element);
    });
    slice.length = value.items.length;
    this.secrets = slice;
  }

  private decodeSecret(value: GoJsonValue, into: MutableSecret): void {
    if (value.kind === "null") return;
    if (value.kind !== "object") {
      this.typeError(value, "WorkflowAttributes", "vault_don_secrets", TYPE_SECRET);
      return;
    }
    for (const [key, member] of value.entries) {
      const field = matchField(key, SECRET_FIELDS);
      if (field === undefined) continue;
      if (member.kind === "string") into[field] = member.value;
      else if (member.kind !== "null") this.typeError(member, "SecretIdentifier", `vault_don_secrets.${field}`, "string");
    }
  }

  private typeError(value: GoJsonValue, struct: string, field: string, type: string): void {
    this.saveError(`json: cannot unmarshal ${goKind(value)} into Go struct field ${struct}.${field} of type ${type}`);
  }

  /** Go's `saveError`: the first error is kept and decoding goes on. */
  private saveError(message: string): void {
    this.firstError ??= message;
  }
}

const ATTRIBUTE_FIELDS = ["confidential", "vault_don_secrets"] as const;
const SECRET_FIELDS = ["key", "namespace"] as const;

/** Go's field lookup: the exact name, else the name equal under simple case folding. */
function matchField<F extends string>(key: string, fields: readonly F[]): F | undefined {
  const exact = fields.find((field) => field === key);
  if (exact !== undefined) return exact;
  const folded = foldName(key);
  return fields.find((field) => foldName(field) === folded);
}

/**
 * Go's `foldName` restricted to what can equal an ASCII field name: ASCII letters fold to upper
 * case, and the only non-ASCII runes whose simple-fold orbit contains an ASCII letter are U+212A
 * KELVIN SIGN (k) and U+017F LATIN SMALL LETTER LONG S (s). Other characters stay as they are
 * (and so never match an ASCII field name).
 */
function foldName(name: string): string {
  let out = "";
  for (const ch of name) {
    if (ch >= "a" && ch <= "z") out += ch.toUpperCase();
    else if (ch === "\u212a") out += "K";
    else if (ch === "\u017f") out += "S";
    else out += ch;
  }
  return out;
}

/** The JSON kind word Go puts in UnmarshalTypeError.Value. */
function goKind(value: GoJsonValue): string {
  switch (value.kind) {
    case "object":
      return "object";
    case "array":
      return "array";
    case "string":
      return "string";
    case "number":
      return "number";
    case "bool":
      return "bool";
    case "null":
      return "null";
  }
}
