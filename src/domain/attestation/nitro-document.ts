/**
 * Strict parsing of an AWS Nitro Enclaves attestation document: a COSE_Sign1 (RFC 8152 §4.2)
 * whose payload is the CBOR map described in the AWS "Verifying the root of trust" page
 * (node-recipes §6.1):
 *
 *   COSE_Sign1 = [protected: bstr .cbor {1: -35}, unprotected: {}, payload: bstr, signature: bstr(96)]
 *   payload    = {module_id: tstr, digest: "SHA384", timestamp: uint (ms), pcrs: {uint => bstr},
 *                 certificate: bstr (DER), cabundle: [+ bstr (DER)],
 *                 ? public_key: bstr / null, ? user_data: bstr / null, ? nonce: bstr / null}
 *
 * Everything outside that shape is rejected: other tags than 18, other algorithms than ES384,
 * extra or missing fields, wrong types, indefinite lengths, and sizes beyond `NITRO_LIMITS`.
 * Parsing proves nothing about authenticity; see verifier.ts.
 */
import {
  CborError,
  byteStringHeader,
  concatBytes,
  decodeCbor,
  describeKey,
  isCborMap,
  isCborTagged,
  type CborValue,
} from "./cbor.js";

/** COSE algorithm id for ECDSA P-384 / SHA-384 (RFC 8152 §8.1). */
export const COSE_ALG_ES384 = -35;
/** CBOR tag for COSE_Sign1 (RFC 8152 §2). */
export const COSE_SIGN1_TAG = 18;

/**
 * Bounds on every field. Upstream chainlink-common bounds PCRs (1–32, index < 32, 32/48/64 bytes),
 * cabundle entries and the optional fields (≤ 1024 bytes); we bound the rest too, with room above
 * what real documents carry (module_id 38 bytes, certificates 533–793 bytes, 4 CA certificates,
 * 4.5 KB in total).
 */
export const NITRO_LIMITS = Object.freeze({
  maxDocumentBytes: 32 * 1024,
  maxModuleIdBytes: 256,
  maxPcrCount: 32,
  maxPcrIndex: 31,
  pcrLengths: Object.freeze([32, 48, 64] as const),
  maxCertificateBytes: 2048,
  maxCabundleEntries: 8,
  maxOptionalFieldBytes: 1024,
  signatureBytes: 96,
});

export interface NitroDocument {
  /** Original bytes of the protected header and payload, as signed. */
  readonly protectedHeader: Uint8Array;
  readonly payload: Uint8Array;
  /** Raw r‖s, 96 bytes. */
  readonly signature: Uint8Array;
  readonly moduleId: string;
  readonly timestampMs: number;
  readonly digest: "SHA384";
  /** PCR index → value, in ascending index order. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** Leaf certificate, DER. */
  readonly certificate: Uint8Array;
  /** CA certificates, DER, root first. */
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey: Uint8Array | null;
  readonly userData: Uint8Array | null;
  readonly nonce: Uint8Array | null;
}

export type NitroParseResult =
  | { readonly kind: "ok"; readonly document: NitroDocument }
  | { readonly kind: "malformed"; readonly detail: string };

const REQUIRED_FIELDS = ["module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"] as const;
const OPTIONAL_FIELDS = ["public_key", "user_data", "nonce"] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set<string>([...REQUIRED_FIELDS, ...OPTIONAL_FIELDS]);

const MAX_DATE_MS = 8_640_000_000_000_000;

class Malformed extends Error {}

function fail(detail: string): never {
  throw new Malformed(detail);
}

function asBytes(v: CborValue | undefined, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(`${what} must be a byte string`);
  return v;
}

/** Parses and bounds a document. Field byte strings are copied, so the input may be reused. */
export function parseNitroDocument(bytes: Uint8Array): NitroParseResult {
  try {
    return { kind: "ok", document: parse(bytes) };
  } catch (e) {
    if (e instanceof Malformed || e instanceof CborError) return { kind: "malformed", detail: e.message };
    throw e;
  }
}

function parse(bytes: Uint8Array): NitroDocument {
  if (bytes.length === 0) fail("document is empty");
  if (bytes.length > NITRO_LIMITS.maxDocumentBytes) {
    fail(`document is ${bytes.length} bytes, more than ${NITRO_LIMITS.maxDocumentBytes}`);
  }
  let top = decodeCbor(bytes, { allowTopLevelTag: true, maxDepth: 3 });
  if (isCborTagged(top)) {
    if (top.tag !== COSE_SIGN1_TAG) fail(`CBOR tag ${top.tag} is not COSE_Sign1 (18)`);
    top = top.value;
  }
  if (!Array.isArray(top) || top.length !== 4) fail("COSE_Sign1 must be an array of 4 items");
  const cose = top as readonly CborValue[];
  const protectedHeader = asBytes(cose[0], "COSE protected header");
  const unprotected = cose[1];
  const payload = asBytes(cose[2], "COSE payload");
  const signature = asBytes(cose[3], "COSE signature");

  const header = decodeCbor(protectedHeader, { maxDepth: 1 });
  if (!isCborMap(header) || header.size !== 1 || !header.has(1)) {
    fail("COSE protected header must be exactly {1: alg}");
  }
  if (header.get(1) !== COSE_ALG_ES384) fail("COSE algorithm must be ES384 (-35)");
  if (!isCborMap(unprotected) || unprotected.size !== 0) fail("COSE unprotected header must be an empty map");
  if (signature.length !== NITRO_LIMITS.signatureBytes) {
    fail(`COSE signature must be ${NITRO_LIMITS.signatureBytes} bytes (ES384 r‖s), got ${signature.length}`);
  }

  const doc = decodeCbor(payload, { maxDepth: 3 });
  if (!isCborMap(doc)) fail("payload must be a map");
  for (const key of doc.keys()) {
    if (typeof key !== "string" || !KNOWN_FIELDS.has(key)) fail(`payload has unknown field ${describeKey(key)}`);
  }
  for (const key of REQUIRED_FIELDS) if (!doc.has(key)) fail(`payload lacks ${key}`);

  const moduleId = doc.get("module_id");
  if (typeof moduleId !== "string") fail("module_id must be text");
  const moduleIdBytes = Buffer.byteLength(moduleId, "utf8");
  if (moduleIdBytes === 0 || moduleIdBytes > NITRO_LIMITS.maxModuleIdBytes) {
    fail(`module_id must be 1–${NITRO_LIMITS.maxModuleIdBytes} bytes`);
  }
  if (doc.get("digest") !== "SHA384") fail('digest must be "SHA384"');
  const timestampMs = doc.get("timestamp");
  // Bounded by the largest instant a JS Date can hold, so every timestamp can be printed.
  if (typeof timestampMs !== "number" || timestampMs <= 0 || timestampMs > MAX_DATE_MS) {
    fail("timestamp must be a positive integer of milliseconds");
  }

  const pcrsValue = doc.get("pcrs");
  if (!isCborMap(pcrsValue)) fail("pcrs must be a map");
  if (pcrsValue.size === 0 || pcrsValue.size > NITRO_LIMITS.maxPcrCount) {
    fail(`pcrs must have 1–${NITRO_LIMITS.maxPcrCount} entries`);
  }
  const pcrEntries: [number, Uint8Array][] = [];
  for (const [index, value] of pcrsValue) {
    if (typeof index !== "number" || index < 0 || index > NITRO_LIMITS.maxPcrIndex) {
      fail(`pcr index must be an integer 0–${NITRO_LIMITS.maxPcrIndex}`);
    }
    const v = asBytes(value, `pcrs[${index}]`);
    if (!(NITRO_LIMITS.pcrLengths as readonly number[]).includes(v.length)) {
      fail(`pcrs[${index}] must be 32, 48 or 64 bytes, got ${v.length}`);
    }
    pcrEntries.push([index, v.slice()]);
  }
  for (const i of [0, 1, 2]) if (!pcrsValue.has(i)) fail(`pcrs lacks PCR${i}`);
  pcrEntries.sort((a, b) => a[0] - b[0]);

  const certificate = boundedCert(doc.get("certificate"), "certificate");
  const cabundleValue = doc.get("cabundle");
  if (!Array.isArray(cabundleValue)) fail("cabundle must be an array");
  const cabundleItems = cabundleValue as readonly CborValue[];
  if (cabundleItems.length === 0 || cabundleItems.length > NITRO_LIMITS.maxCabundleEntries) {
    fail(`cabundle must have 1–${NITRO_LIMITS.maxCabundleEntries} entries`);
  }
  const cabundle = cabundleItems.map((c, i) => boundedCert(c, `cabundle[${i}]`));

  return {
    protectedHeader: protectedHeader.slice(),
    payload: payload.slice(),
    signature: signature.slice(),
    moduleId,
    timestampMs,
    digest: "SHA384",
    pcrs: new Map(pcrEntries),
    certificate,
    cabundle,
    publicKey: optionalField(doc.get("public_key"), "public_key"),
    userData: optionalField(doc.get("user_data"), "user_data"),
    nonce: optionalField(doc.get("nonce"), "nonce"),
  };
}

function boundedCert(v: CborValue | undefined, what: string): Uint8Array {
  const b = asBytes(v, what);
  if (b.length === 0 || b.length > NITRO_LIMITS.maxCertificateBytes) {
    fail(`${what} must be 1–${NITRO_LIMITS.maxCertificateBytes} bytes`);
  }
  return b.slice();
}

/** Absent and CBOR null both mean "not present" (NSM serialises None as null). */
function optionalField(v: CborValue | undefined, what: string): Uint8Array | null {
  if (v === undefined || v === null) return null;
  const b = asBytes(v, what);
  if (b.length > NITRO_LIMITS.maxOptionalFieldBytes) {
    fail(`${what} must be at most ${NITRO_LIMITS.maxOptionalFieldBytes} bytes, got ${b.length}`);
  }
  return b.slice();
}

const SIGNATURE1_CONTEXT = Uint8Array.from([0x6a, ...new TextEncoder().encode("Signature1")]);

/**
 * The bytes ES384 signs (RFC 8152 §4.4): CBOR `["Signature1", protected, h'', payload]`, built
 * around the ORIGINAL protected and payload bytes.
 */
export function coseSigStructure(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  return concatBytes([
    Uint8Array.of(0x84),
    SIGNATURE1_CONTEXT,
    byteStringHeader(protectedHeader.length),
    protectedHeader,
    Uint8Array.of(0x40),
    byteStringHeader(payload.length),
    payload,
  ]);
}
