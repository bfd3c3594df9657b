/**
 * Workflow ids and the registry's metadata checks.
 *
 * The id is upstream `pkgworkflows.GenerateWorkflowID` (reference chainlink-workflows.md §4.2 step 5):
 * SHA-256 over owner bytes ‖ name ‖ binary ‖ config ‖ secretsURL, plain concatenation with no
 * lengths, then byte 0 replaced by the version byte 0x00. The owner is its 20 raw bytes; name and
 * secrets URL are their UTF-8 bytes; binary is the artifact exactly as stored (what the binary URL
 * serves) and config the config artifact's bytes. Registry v2 carries no secrets, so upstream always
 * passes "" for the secrets URL; it is kept as a parameter because the id is defined over it.
 *
 * The concatenation is ambiguous (name "ab" + binary "c…" equals name "a" + binary "bc…"); it is
 * reproduced because ids must match upstream's, and the id is never the only check: the node also
 * re-derives it from the artifacts it actually fetched (workflowID mismatch) and the enclave checks
 * the binary's own SHA-256.
 *
 * The metadata limits are the WorkflowRegistry 2.0.0 contract defaults (chainlink-evm
 * `WorkflowRegistry.sol` `DEFAULT_MAX_*`), checked in the contract's order and counted in bytes.
 */
import { createHash } from "node:crypto";

/** Upstream `versionByte`. */
export const WORKFLOW_ID_VERSION_BYTE = 0x00;

export const MAX_WORKFLOW_NAME_BYTES = 64;
export const MAX_WORKFLOW_TAG_BYTES = 32;
export const MAX_WORKFLOW_URL_BYTES = 200;
export const MAX_WORKFLOW_ATTRIBUTES_BYTES = 1024;

const WORKFLOW_ID_HEX = /^[0-9a-f]{64}$/;
const OWNER_HEX = /^(0x)?[0-9a-fA-F]{40}$/;

export interface WorkflowIdInput {
  /** The owner: 20 raw bytes, or its hex with or without 0x. */
  readonly owner: Uint8Array | string;
  readonly name: string;
  readonly binary: Uint8Array;
  readonly config: Uint8Array;
  /** "" for registry v2 workflows. */
  readonly secretsUrl?: string;
}

/** The 32-byte workflow id. */
export function deriveWorkflowId(input: WorkflowIdInput): Uint8Array {
  const sha = createHash("sha256")
    .update(ownerBytes(input.owner))
    .update(input.name, "utf8")
    .update(input.binary)
    .update(input.config)
    .update(input.secretsUrl ?? "", "utf8")
    .digest();
  sha[0] = WORKFLOW_ID_VERSION_BYTE;
  return new Uint8Array(sha);
}

/** The workflow id as ccr writes it everywhere: 64 lowercase hex digits, no 0x. */
export function deriveWorkflowIdHex(input: WorkflowIdInput): string {
  return Buffer.from(deriveWorkflowId(input)).toString("hex");
}

/** Accepts 64 hex digits, with or without 0x, any case; answers the canonical form or undefined. */
export function normalizeWorkflowId(value: string): string | undefined {
  const hex = (value.startsWith("0x") || value.startsWith("0X") ? value.slice(2) : value).toLowerCase();
  return WORKFLOW_ID_HEX.test(hex) ? hex : undefined;
}

/** The owner's 20 bytes from a 0x-address or bare hex. */
export function ownerBytes(owner: Uint8Array | string): Uint8Array {
  if (typeof owner !== "string") {
    if (owner.length !== 20) throw new Error(`owner must be 20 bytes, got ${owner.length}`);
    return owner;
  }
  if (!OWNER_HEX.test(owner)) throw new Error("owner must be a 20-byte hex address");
  return new Uint8Array(Buffer.from(owner.replace(/^0x/, ""), "hex"));
}

/** Upstream's spec form of the owner: 40 lowercase hex digits without 0x (`hex.EncodeToString`). */
export function ownerSpecHex(owner: string): string {
  return Buffer.from(ownerBytes(owner)).toString("hex");
}

export interface WorkflowMetadataInput {
  readonly name: string;
  readonly tag: string;
  readonly binaryUrl: string;
  readonly configUrl: string;
  readonly attributes: Uint8Array;
}

export type MetadataCheck = { readonly kind: "ok" } | { readonly kind: "invalid"; readonly reason: string };

/** WorkflowRegistry 2.0.0 `upsertWorkflow` input checks (URLs, attributes, tag, name, in that order). */
export function checkWorkflowMetadata(input: WorkflowMetadataInput): MetadataCheck {
  const binaryUrlBytes = utf8Length(input.binaryUrl);
  if (binaryUrlBytes === 0) return invalid("binary URL is required (BinaryURLRequired)");
  if (binaryUrlBytes > MAX_WORKFLOW_URL_BYTES) {
    return invalid(`binary URL is ${binaryUrlBytes} bytes; at most ${MAX_WORKFLOW_URL_BYTES} allowed (URLTooLong)`);
  }
  const configUrlBytes = utf8Length(input.configUrl);
  if (configUrlBytes > MAX_WORKFLOW_URL_BYTES) {
    return invalid(`config URL is ${configUrlBytes} bytes; at most ${MAX_WORKFLOW_URL_BYTES} allowed (URLTooLong)`);
  }
  if (input.attributes.length > MAX_WORKFLOW_ATTRIBUTES_BYTES) {
    return invalid(
      `attributes are ${input.attributes.length} bytes; at most ${MAX_WORKFLOW_ATTRIBUTES_BYTES} allowed (AttributesTooLong)`,
    );
  }
  const tag = checkWorkflowTag(input.tag);
  if (tag.kind !== "ok") return tag;
  return checkWorkflowName(input.name);
}

export function checkWorkflowName(name: string): MetadataCheck {
  const bytes = utf8Length(name);
  if (bytes === 0) return invalid("workflow name is required (WorkflowNameRequired)");
  if (bytes > MAX_WORKFLOW_NAME_BYTES) {
    return invalid(`workflow name is ${bytes} bytes; at most ${MAX_WORKFLOW_NAME_BYTES} allowed (WorkflowNameTooLong)`);
  }
  return { kind: "ok" };
}

export function checkWorkflowTag(tag: string): MetadataCheck {
  const bytes = utf8Length(tag);
  if (bytes === 0) return invalid("workflow tag is required (WorkflowTagRequired)");
  if (bytes > MAX_WORKFLOW_TAG_BYTES) {
    return invalid(`workflow tag is ${bytes} bytes; at most ${MAX_WORKFLOW_TAG_BYTES} allowed (WorkflowTagTooLong)`);
  }
  return { kind: "ok" };
}

function invalid(reason: string): MetadataCheck {
  return { kind: "invalid", reason };
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}
