/**
 * Test fixtures for attestation: the real Nitro vectors, a deterministic random source, a test PKI
 * made in the test, and a low-level document builder that can produce malformed documents.
 */
import { createHash, sign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { RandomBytes } from "../../../src/domain/clock.js";
import { concatBytes, encodeCbor, type CborEncodable } from "../../../src/domain/attestation/cbor.js";
import { COSE_ALG_ES384, coseSigStructure } from "../../../src/domain/attestation/nitro-document.js";
import {
  createDevRootAuthority,
  issueDevIntermediate,
  issueDevLeaf,
  type DevCertificateAuthority,
  type DevLeafCertificate,
} from "../../../src/domain/attestation/dev-authority.js";

/** CI clones the repository with `shared/` beside it: ../shared/testdata/nitro from the repo root. */
const VECTORS_DIR = fileURLToPath(new URL("../../../../shared/testdata/nitro/", import.meta.url));

export function vectorPath(name: string): string {
  return `${VECTORS_DIR}${name}`;
}

export function readVector(name: "example_attestation.b64" | "invalid_attestation.b64"): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(vectorPath(name), "utf8").trim(), "base64"));
}

/** Document timestamps of the real vectors (README.md beside them). */
export const EXAMPLE_TIMESTAMP_MS = Date.parse("2024-09-09T19:49:12.400Z");
export const INVALID_TIMESTAMP_MS = Date.parse("2024-07-23T21:29:40.771Z");

/** Deterministic bytes: SHA-256(seed ‖ counter) blocks. */
export function seededRandom(seed: string): RandomBytes {
  let counter = 0;
  return (length: number) => {
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += 32) {
      const block = createHash("sha256").update(`${seed}/${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, length - at)), at);
    }
    return out;
  };
}

export const T0 = Date.parse("2026-01-15T12:00:00.000Z");
export const HOUR = 60 * 60 * 1000;
export const DAY = 24 * HOUR;

export interface TestPki {
  readonly root: DevCertificateAuthority;
  readonly intermediate: DevCertificateAuthority;
  readonly leaf: DevLeafCertificate;
  /** [root, intermediate], as a document carries it. */
  readonly cabundle: readonly Uint8Array[];
  readonly leafKey: KeyObject;
}

/** root → intermediate → leaf, all P-384, valid from `nowMs` (leaf for `leafValidityMs`). */
export function makePki(seed: string, nowMs = T0, leafValidityMs = 3 * HOUR): TestPki {
  const random = seededRandom(seed);
  const root = createDevRootAuthority({ nowMs: nowMs - DAY, randomBytes: random, commonName: `${seed} root` });
  const intermediate = issueDevIntermediate(root, {
    nowMs: nowMs - DAY,
    randomBytes: random,
    commonName: `${seed} intermediate`,
    validityMs: 30 * DAY,
  });
  const leaf = issueDevLeaf(intermediate, {
    nowMs,
    randomBytes: random,
    commonName: `${seed} enclave`,
    validityMs: leafValidityMs,
  });
  return {
    root,
    intermediate,
    leaf,
    cabundle: [root.certificateDer, intermediate.certificateDer],
    leafKey: leaf.privateKey as KeyObject,
  };
}

export const PCR0 = new Uint8Array(48).fill(0xa0);
export const PCR1 = new Uint8Array(48).fill(0xa1);
export const PCR2 = new Uint8Array(48).fill(0xa2);
export const MEASUREMENTS = { pcr0: PCR0, pcr1: PCR1, pcr2: PCR2 };
export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** A pre-encoded CBOR value, spliced verbatim into a built document. */
export class Raw {
  constructor(readonly bytes: Uint8Array) {}
}

type FieldValue = CborEncodable | Raw;

export interface DocSpec {
  readonly pki: TestPki;
  readonly timestampMs: number;
  readonly pcrs?: ReadonlyMap<number, Uint8Array>;
  readonly publicKey?: Uint8Array | null;
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
  /** Replace (or add, for unknown names) payload fields; `undefined` removes one. */
  readonly fields?: Readonly<Record<string, FieldValue | undefined>>;
  readonly protectedHeader?: Uint8Array;
  /** Signs with this key instead of the leaf key. */
  readonly signer?: KeyObject;
  /** Wraps the COSE array in this tag. */
  readonly tag?: number;
  /** Rewrites the signature (e.g. to tamper with it). */
  readonly mapSignature?: (sig: Uint8Array) => Uint8Array;
  /** Rewrites the payload after signing (tampering). */
  readonly mapPayload?: (payload: Uint8Array) => Uint8Array;
}

function encodeField(v: FieldValue): Uint8Array {
  return v instanceof Raw ? v.bytes : encodeCbor(v);
}

/** CBOR map with text keys whose values may be raw pre-encoded bytes. */
function encodeMapWithRaw(entries: readonly (readonly [string, FieldValue])[]): Uint8Array {
  if (entries.length >= 24) throw new Error("test builder supports < 24 fields");
  return concatBytes([Uint8Array.of(0xa0 | entries.length), ...entries.flatMap(([k, v]) => [encodeCbor(k), encodeField(v)])]);
}

export function defaultPcrs(): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = 0; i < 16; i++) m.set(i, i === 0 ? PCR0 : i === 1 ? PCR1 : i === 2 ? PCR2 : new Uint8Array(48));
  return m;
}

export function buildDocument(spec: DocSpec): Uint8Array {
  const pcrs = spec.pcrs ?? defaultPcrs();
  const base: [string, FieldValue][] = [
    ["module_id", "i-0123456789abcdef0-enc0123456789abcdef"],
    ["digest", "SHA384"],
    ["timestamp", spec.timestampMs],
    ["pcrs", { mapEntries: [...pcrs.entries()] }],
    ["certificate", spec.pki.leaf.certificateDer],
    ["cabundle", spec.pki.cabundle],
    ["public_key", spec.publicKey ?? null],
    ["user_data", spec.userData ?? null],
    ["nonce", spec.nonce === undefined ? new Uint8Array(32).fill(7) : spec.nonce],
  ];
  const fields = new Map<string, FieldValue>(base);
  for (const [k, v] of Object.entries(spec.fields ?? {})) {
    if (v === undefined) fields.delete(k);
    else fields.set(k, v);
  }
  const payload = encodeMapWithRaw([...fields.entries()]);
  const protectedHeader = spec.protectedHeader ?? encodeCbor({ mapEntries: [[1, COSE_ALG_ES384]] });
  let signature: Uint8Array = new Uint8Array(
    sign("sha384", coseSigStructure(protectedHeader, payload), {
      key: spec.signer ?? spec.pki.leafKey,
      dsaEncoding: "ieee-p1363",
    }),
  );
  if (spec.mapSignature) signature = spec.mapSignature(signature);
  const finalPayload = spec.mapPayload ? spec.mapPayload(payload) : payload;
  const cose = encodeCbor([protectedHeader, { mapEntries: [] }, finalPayload, signature]);
  if (spec.tag === undefined) return cose;
  if (spec.tag >= 24) throw new Error("test builder supports tags < 24");
  return concatBytes([Uint8Array.of(0xc0 | spec.tag), cose]);
}
