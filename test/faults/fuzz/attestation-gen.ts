/**
 * Malformed Nitro attestation documents (COSE_Sign1 / CBOR / ES384), from a valid document of the
 * deployment's dev CA. Three families:
 *
 *   - bytes:   bit flips, truncation, trailing bytes, splices, random bytes, oversize;
 *   - cose:    the COSE envelope wrong (tags, item count, header, unprotected map, signature size,
 *              payload type, huge declared lengths, deep nesting, indefinite lengths);
 *   - signed:  a payload that is wrong in one way — debug or unlisted PCRs, stale or future
 *              timestamps, wrong digest, missing/extra/ill-typed fields, duplicate keys, floats,
 *              bad certificates and bundles, oversized optional fields — and still correctly
 *              ES384-signed by a real dev leaf, so every check past the signature runs too.
 *
 * Each document says whether a verifier MUST reject it (`mustReject`). Documents whose signed bytes
 * (protected header, payload, signature) survive unchanged — e.g. a COSE tag 18 around the array —
 * are neutral and may be accepted.
 */
import { randomBytes as nodeRandomBytes, sign, type KeyObject } from "node:crypto";
import {
  coseSigStructure,
  encodeEnclaveSessionKeys,
  issueDevLeaf,
  parseNitroDocument,
  type DevCertificateAuthority,
  type EnclaveMeasurements,
} from "../../../src/domain/attestation/index.js";
import { concatBytes, encodeCbor, type CborEncodable } from "../../../src/domain/attestation/cbor.js";
import type { Prng } from "./prng.js";

export interface FuzzDocument {
  readonly bytes: Uint8Array;
  /** e.g. "bytes/bitflip", "cose/alg-es256", "signed/debug-pcrs". */
  readonly variant: string;
  /** `verifyDocument` must refuse it. */
  readonly mustReject: boolean;
  /** `checkRequest` in binding mode (a), for the binding hash it was made for, must refuse it. */
  readonly requestMustReject: boolean;
}

const PROTECTED = encodeCbor({ mapEntries: [[1, -35]] });

type Entry = readonly [string | number, CborEncodable | { readonly raw: Uint8Array }];

function isRaw(v: unknown): v is { readonly raw: Uint8Array } {
  return typeof v === "object" && v !== null && "raw" in v;
}

/** A CBOR map from entries; values may be raw pre-encoded bytes (floats, indefinite items, …). */
function mapBytes(entries: readonly Entry[], indefinite = false): Uint8Array {
  const parts: Uint8Array[] = [];
  parts.push(indefinite ? Uint8Array.of(0xbf) : headerBytes(5, entries.length));
  for (const [k, v] of entries) {
    parts.push(encodeCbor(k));
    parts.push(isRaw(v) ? v.raw : encodeCbor(v));
  }
  if (indefinite) parts.push(Uint8Array.of(0xff));
  return concatBytes(parts);
}

function headerBytes(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n < 0x100) return Uint8Array.of(m | 24, n);
  if (n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  return Uint8Array.of(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** A byte string with a non-minimal (8-byte) length header: unusual but unambiguous. */
function nonMinimalBstr(b: Uint8Array): Uint8Array {
  const h = new Uint8Array(9);
  h[0] = 0x5b;
  new DataView(h.buffer).setBigUint64(1, BigInt(b.length));
  return concatBytes([h, b]);
}

/** Splits the pooled [payload bstr, signature bstr] pair (two definite-length byte strings). */
function parseParts(bytes: Uint8Array): { payload: Uint8Array; signature: Uint8Array } {
  let at = 1; // 0x82
  const readBstr = (): Uint8Array => {
    const first = bytes[at]!;
    const info = first & 0x1f;
    let len: number;
    let head = 1;
    if (info < 24) len = info;
    else if (info === 24) (len = bytes[at + 1]!), (head = 2);
    else if (info === 25) (len = (bytes[at + 1]! << 8) | bytes[at + 2]!), (head = 3);
    else (len = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0)), (head = 5);
    const out = bytes.subarray(at + head, at + head + len);
    at += head + len;
    return out;
  };
  const payload = readBstr();
  const signature = readBstr();
  return { payload, signature };
}

export interface DocumentFactoryOptions {
  readonly authority: DevCertificateAuthority;
  readonly measurements: EnclaveMeasurements;
  readonly moduleId: string;
}

/**
 * P-384 signing costs about a millisecond (more on a busy box), so documents whose signature cannot
 * matter to the outcome come from small pools: a document bound to another request is refused at
 * the binding check whether it was signed a minute ago or now. Only the cases that may pass the
 * binding (valid documents, neutral encodings) are signed fresh, for the request at hand.
 */
const POOL_SIZE = 6;
/** Pooled documents are re-signed after this long, so they stay inside the nodes' age window. */
const POOL_TTL_MS = 60_000;

interface Pooled {
  readonly bytes: Uint8Array;
  readonly madeAtMs: number;
}

export class DocumentFactory {
  private leafKey: KeyObject;
  private leafDer: Uint8Array;
  private issuedAtMs: number;
  private readonly pools = new Map<string, Pooled[]>();
  /** Documents signed (fresh or for a pool). */
  signed = 0;

  constructor(private readonly o: DocumentFactoryOptions) {
    const leaf = this.issue();
    this.leafKey = leaf.key;
    this.leafDer = leaf.der;
    this.issuedAtMs = Date.now();
  }

  private issue(): { key: KeyObject; der: Uint8Array } {
    const leaf = issueDevLeaf(this.o.authority, {
      nowMs: Date.now(),
      randomBytes: (n) => new Uint8Array(nodeRandomBytes(n)),
      commonName: this.o.moduleId.slice(0, 64),
    });
    return { key: leaf.privateKey as KeyObject, der: leaf.certificateDer };
  }

  private refresh(): void {
    // Leaves live hours; a fresh one every 10 minutes keeps long runs well inside its validity.
    if (Date.now() - this.issuedAtMs < 600_000) return;
    const leaf = this.issue();
    this.leafKey = leaf.key;
    this.leafDer = leaf.der;
    this.issuedAtMs = Date.now();
  }

  /** The payload entries a valid document has, in NSM order. */
  private entries(o: { userData: Uint8Array | null; publicKey: Uint8Array | null; nowMs: number }): Entry[] {
    const zero = new Uint8Array(48);
    const m = this.o.measurements;
    const pcrs: (readonly [number, CborEncodable])[] = [];
    for (let i = 0; i < 16; i++) pcrs.push([i, i === 0 ? m.pcr0 : i === 1 ? m.pcr1 : i === 2 ? m.pcr2 : zero]);
    return [
      ["module_id", this.o.moduleId],
      ["digest", "SHA384"],
      ["timestamp", o.nowMs],
      ["pcrs", { mapEntries: pcrs }],
      ["certificate", this.leafDer],
      ["cabundle", [this.o.authority.certificateDer]],
      ["public_key", o.publicKey],
      ["user_data", o.userData],
      ["nonce", new Uint8Array(nodeRandomBytes(32))],
    ];
  }

  private signEnvelope(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
    this.signed++;
    return new Uint8Array(sign("sha384", coseSigStructure(protectedHeader, payload), { key: this.leafKey, dsaEncoding: "ieee-p1363" }));
  }

  /** A pooled document for `key` (made by `make` while the pool fills or its entry is stale). */
  private pooled(rng: Prng, key: string, make: () => Uint8Array): Uint8Array {
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = [];
      this.pools.set(key, pool);
    }
    const now = Date.now();
    if (pool.length < POOL_SIZE) {
      const bytes = make();
      pool.push({ bytes, madeAtMs: now });
      return bytes;
    }
    const i = rng.below(pool.length);
    const entry = pool[i]!;
    if (now - entry.madeAtMs <= POOL_TTL_MS) return entry.bytes;
    const bytes = make();
    pool[i] = { bytes, madeAtMs: now };
    return bytes;
  }

  private envelope(payload: Uint8Array, protectedHeader = PROTECTED): Uint8Array {
    return encodeCbor([protectedHeader, { mapEntries: [] }, payload, this.signEnvelope(protectedHeader, payload)]);
  }

  /** A valid document bound to `userData` (mode a) or carrying session keys (mode b). */
  valid(o: { userData?: Uint8Array | null; sessionKeys?: { sessionPublicKey: Uint8Array; encryptionPublicKey: Uint8Array } }): Uint8Array {
    this.refresh();
    const publicKey = o.sessionKeys === undefined ? null : encodeEnclaveSessionKeys(o.sessionKeys);
    return this.envelope(mapBytes(this.entries({ userData: o.userData ?? null, publicKey, nowMs: Date.now() })));
  }

  /** One malformed document for a request whose binding hash is `bindingHash`. */
  malformed(rng: Prng, bindingHash: Uint8Array): FuzzDocument {
    const family = rng.weighted([
      [4, "bytes"],
      [3, "cose"],
      [4, "signed"],
    ] as const);
    if (family === "bytes") {
      // Mostly a pooled base (another request's binding); now and then this request's own, so a
      // neutral mutation can get as far as the binding and replay checks.
      const base = rng.chance(0.1) ? this.valid({ userData: bindingHash }) : this.pooled(rng, "valid-base", () => this.valid({ userData: new Uint8Array(nodeRandomBytes(32)) }));
      return this.byteMutation(rng, base);
    }
    if (family === "cose") return this.coseMutation(rng, bindingHash);
    return this.signedMutation(rng, bindingHash);
  }

  private byteMutation(rng: Prng, valid: Uint8Array): FuzzDocument {
    const kind = rng.pick(["bitflip", "truncate", "trailing", "splice", "random", "oversize", "empty", "duplicate"] as const);
    let bytes: Uint8Array;
    switch (kind) {
      case "bitflip": {
        bytes = valid.slice();
        const n = rng.int(1, 6);
        for (let i = 0; i < n; i++) bytes[rng.below(bytes.length)]! ^= 1 << rng.below(8);
        break;
      }
      case "truncate":
        bytes = valid.slice(0, rng.below(valid.length));
        break;
      case "trailing":
        bytes = concatBytes([valid, rng.bytes(rng.int(1, 32))]);
        break;
      case "splice": {
        bytes = valid.slice();
        const at = rng.below(bytes.length);
        bytes.set(rng.bytes(Math.min(rng.int(1, 64), bytes.length - at)), at);
        break;
      }
      case "random":
        bytes = rng.bytes(rng.length(6000));
        break;
      case "oversize":
        bytes = concatBytes([valid, rng.bytes(33 * 1024 - valid.length)]);
        break;
      case "empty":
        bytes = new Uint8Array(0);
        break;
      case "duplicate":
        bytes = concatBytes([valid, valid]);
        break;
    }
    const mustReject = this.signedPartsChanged(valid, bytes);
    return { bytes, variant: `bytes/${kind}`, mustReject, requestMustReject: mustReject };
  }

  /** True unless `mutated` parses to the same protected header, payload and signature as `valid`. */
  private signedPartsChanged(valid: Uint8Array, mutated: Uint8Array): boolean {
    const a = parseNitroDocument(valid);
    const b = parseNitroDocument(mutated);
    if (a.kind !== "ok" || b.kind !== "ok") return true;
    const same = (x: Uint8Array, y: Uint8Array): boolean => Buffer.compare(x, y) === 0;
    return !(same(a.document.protectedHeader, b.document.protectedHeader) && same(a.document.payload, b.document.payload) && same(a.document.signature, b.document.signature));
  }

  private coseMutation(rng: Prng, bindingHash: Uint8Array): FuzzDocument {
    this.refresh();
    const kind = rng.pick([
      "tag-18",
      "tag-17",
      "tag-18-twice",
      "array-3",
      "array-5",
      "alg-es256",
      "alg-missing",
      "alg-text",
      "protected-extra-param",
      "protected-not-bytes",
      "protected-garbage",
      "unprotected-nonempty",
      "unprotected-not-map",
      "signature-95",
      "signature-97",
      "signature-empty",
      "payload-text",
      "payload-array",
      "non-minimal-lengths",
      "huge-declared-length",
      "deep-nesting",
      "indefinite-array",
      "not-an-array",
    ] as const);
    // The envelope's parts: signed for this request when the variant is neutral (it may pass), else
    // a pooled payload and signature (bound to another request).
    const neutral = kind === "tag-18" || kind === "non-minimal-lengths";
    const makeParts = (userData: Uint8Array): Uint8Array => {
      const p = mapBytes(this.entries({ userData, publicKey: null, nowMs: Date.now() }));
      return encodeCbor([p, this.signEnvelope(PROTECTED, p)]);
    };
    const partsBytes = neutral ? makeParts(bindingHash) : this.pooled(rng, "cose-parts", () => makeParts(new Uint8Array(nodeRandomBytes(32))));
    const parts = parseParts(partsBytes);
    const payload = parts.payload;
    const signature = parts.signature;
    let bytes: Uint8Array;
    let mustReject = true;
    const resigned = (protectedHeader: Uint8Array): Uint8Array =>
      this.pooled(rng, `cose-resigned-${Buffer.from(protectedHeader).toString("hex")}`, () => encodeCbor([protectedHeader, { mapEntries: [] }, payload, this.signEnvelope(protectedHeader, payload)]));
    switch (kind) {
      case "tag-18":
        bytes = encodeCbor({ tag: 18, value: [PROTECTED, { mapEntries: [] }, payload, signature] });
        mustReject = false; // RFC 8152 allows the tag; the signed bytes are unchanged
        break;
      case "tag-17":
        bytes = encodeCbor({ tag: 17, value: [PROTECTED, { mapEntries: [] }, payload, signature] });
        break;
      case "tag-18-twice":
        bytes = encodeCbor({ tag: 18, value: { tag: 18, value: [PROTECTED, { mapEntries: [] }, payload, signature] } });
        break;
      case "array-3":
        bytes = encodeCbor([PROTECTED, payload, signature]);
        break;
      case "array-5":
        bytes = encodeCbor([PROTECTED, { mapEntries: [] }, payload, signature, new Uint8Array(1)]);
        break;
      case "alg-es256":
        bytes = resigned(encodeCbor({ mapEntries: [[1, -7]] }));
        break;
      case "alg-missing":
        bytes = resigned(encodeCbor({ mapEntries: [] }));
        break;
      case "alg-text":
        bytes = resigned(encodeCbor({ mapEntries: [[1, "ES384"]] }));
        break;
      case "protected-extra-param":
        bytes = resigned(encodeCbor({ mapEntries: [[1, -35], [4, rng.bytes(8)]] }));
        break;
      case "protected-not-bytes":
        bytes = encodeCbor([{ mapEntries: [[1, -35]] }, { mapEntries: [] }, payload, signature]);
        break;
      case "protected-garbage":
        bytes = resigned(rng.bytes(rng.int(1, 40)));
        break;
      case "unprotected-nonempty":
        bytes = encodeCbor([PROTECTED, { mapEntries: [[4, rng.bytes(8)]] }, payload, signature]);
        break;
      case "unprotected-not-map":
        bytes = encodeCbor([PROTECTED, [], payload, signature]);
        break;
      case "signature-95":
        bytes = encodeCbor([PROTECTED, { mapEntries: [] }, payload, signature.subarray(0, 95)]);
        break;
      case "signature-97":
        bytes = encodeCbor([PROTECTED, { mapEntries: [] }, payload, concatBytes([signature, Uint8Array.of(0)])]);
        break;
      case "signature-empty":
        bytes = encodeCbor([PROTECTED, { mapEntries: [] }, payload, new Uint8Array(0)]);
        break;
      case "payload-text":
        bytes = encodeCbor([PROTECTED, { mapEntries: [] }, Buffer.from(payload).toString("latin1"), signature]);
        break;
      case "payload-array":
        bytes = encodeCbor([PROTECTED, { mapEntries: [] }, [payload], signature]);
        break;
      case "non-minimal-lengths":
        // Non-minimal headers: same values, same signed bytes (the verifier accepts these by design).
        bytes = concatBytes([Uint8Array.of(0x84), nonMinimalBstr(PROTECTED), Uint8Array.of(0xa0), nonMinimalBstr(payload), nonMinimalBstr(signature)]);
        mustReject = false;
        break;
      case "huge-declared-length":
        bytes = concatBytes([Uint8Array.of(0x84), encodeCbor(PROTECTED), Uint8Array.of(0xa0), Uint8Array.of(0x5b, 0, 0, 0, 1, 0, 0, 0, 0), payload.subarray(0, 100)]);
        break;
      case "deep-nesting":
        bytes = concatBytes([new Uint8Array(rng.pick([100, 10_000, 30_000])).fill(0x81), Uint8Array.of(0x00)]);
        break;
      case "indefinite-array":
        bytes = concatBytes([Uint8Array.of(0x9f), encodeCbor(PROTECTED), Uint8Array.of(0xa0), encodeCbor(payload), encodeCbor(signature), Uint8Array.of(0xff)]);
        break;
      case "not-an-array":
        bytes = encodeCbor(rng.pick<CborEncodable>([{ mapEntries: [[1, payload]] }, payload, "document", 18, null]));
        break;
    }
    return { bytes, variant: `cose/${kind}`, mustReject, requestMustReject: mustReject };
  }

  private signedMutation(rng: Prng, bindingHash: Uint8Array): FuzzDocument {
    this.refresh();
    const now = Date.now();
    const entries = this.entries({ userData: bindingHash, publicKey: null, nowMs: now });
    const set = (key: string, value: Entry[1]): void => {
      const i = entries.findIndex(([k]) => k === key);
      if (i >= 0) entries[i] = [key, value];
      else entries.push([key, value]);
    };
    const drop = (key: string): void => {
      const i = entries.findIndex(([k]) => k === key);
      if (i >= 0) entries.splice(i, 1);
    };
    const pcrsWith = (overrides: ReadonlyMap<number, CborEncodable>, count = 16): CborEncodable => {
      const m = this.o.measurements;
      const out: (readonly [number, CborEncodable])[] = [];
      for (let i = 0; i < count; i++) {
        const base = i === 0 ? m.pcr0 : i === 1 ? m.pcr1 : i === 2 ? m.pcr2 : new Uint8Array(48);
        out.push([i, overrides.has(i) ? overrides.get(i)! : base]);
      }
      return { mapEntries: out };
    };
    const kind = rng.pick([
      "valid",
      "valid-no-nonce",
      "debug-pcrs",
      "unlisted-pcr0",
      "pcr0-32-bytes",
      "pcr-wrong-length",
      "pcr-missing-1",
      "pcrs-33",
      "pcr-index-negative",
      "pcr-index-text",
      "pcrs-array",
      "too-old",
      "future",
      "timestamp-zero",
      "timestamp-huge",
      "timestamp-float",
      "timestamp-text",
      "digest-sha256",
      "module-id-empty",
      "module-id-huge",
      "module-id-bytes",
      "missing-certificate",
      "missing-cabundle",
      "extra-field",
      "integer-key",
      "duplicate-key",
      "indefinite-map",
      "undefined-value",
      "nested-tag",
      "certificate-garbage",
      "certificate-is-root",
      "cabundle-empty",
      "cabundle-9",
      "cabundle-garbage",
      "cabundle-leaf-only",
      "user-data-1025",
      "user-data-other-binding",
      "public-key-garbage",
      "nonce-1025",
    ] as const);
    let mustReject = true;
    let indefinite = false;
    switch (kind) {
      case "valid":
        mustReject = false;
        break;
      case "valid-no-nonce":
        set("nonce", null);
        mustReject = false;
        break;
      case "debug-pcrs":
        set("pcrs", pcrsWith(new Map([[0, new Uint8Array(48)], [1, new Uint8Array(48)], [2, new Uint8Array(48)]])));
        break;
      case "unlisted-pcr0":
        set("pcrs", pcrsWith(new Map([[0, rng.bytes(48)]])));
        break;
      case "pcr0-32-bytes":
        set("pcrs", pcrsWith(new Map([[0, this.o.measurements.pcr0.subarray(0, 32)]])));
        break;
      case "pcr-wrong-length":
        set("pcrs", pcrsWith(new Map([[rng.below(16), rng.bytes(rng.pick([0, 1, 47, 49, 1000]))]])));
        break;
      case "pcr-missing-1": {
        const p = pcrsWith(new Map()) as { mapEntries: (readonly [number, CborEncodable])[] };
        set("pcrs", { mapEntries: p.mapEntries.filter(([i]) => i !== 1) });
        break;
      }
      case "pcrs-33":
        set("pcrs", pcrsWith(new Map(), 33));
        break;
      case "pcr-index-negative":
        set("pcrs", { mapEntries: [...(pcrsWith(new Map()) as { mapEntries: (readonly [number, CborEncodable])[] }).mapEntries, [-1, new Uint8Array(48)]] });
        break;
      case "pcr-index-text":
        set("pcrs", { mapEntries: [...(pcrsWith(new Map()) as { mapEntries: (readonly [number, CborEncodable])[] }).mapEntries, ["3", new Uint8Array(48)]] });
        break;
      case "pcrs-array":
        set("pcrs", [this.o.measurements.pcr0, this.o.measurements.pcr1, this.o.measurements.pcr2]);
        break;
      case "too-old":
        set("timestamp", now - 3_600_000);
        break;
      case "future":
        set("timestamp", now + 600_000);
        break;
      case "timestamp-zero":
        set("timestamp", 0);
        break;
      case "timestamp-huge":
        set("timestamp", { raw: Uint8Array.of(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) });
        break;
      case "timestamp-float": {
        const f = new Uint8Array(9);
        f[0] = 0xfb;
        new DataView(f.buffer).setFloat64(1, now + 0.5);
        set("timestamp", { raw: f });
        break;
      }
      case "timestamp-text":
        set("timestamp", String(now));
        break;
      case "digest-sha256":
        set("digest", "SHA256");
        break;
      case "module-id-empty":
        set("module_id", "");
        break;
      case "module-id-huge":
        set("module_id", "m".repeat(257));
        break;
      case "module-id-bytes":
        set("module_id", new TextEncoder().encode(this.o.moduleId));
        break;
      case "missing-certificate":
        drop("certificate");
        break;
      case "missing-cabundle":
        drop("cabundle");
        break;
      case "extra-field":
        set(rng.pick(["extra", "pcr", "Module_id"]), rng.bytes(8));
        break;
      case "integer-key":
        entries.push([7, rng.bytes(8)]);
        break;
      case "duplicate-key":
        entries.push(["timestamp", now]);
        break;
      case "indefinite-map":
        indefinite = true;
        break;
      case "undefined-value":
        set("nonce", { raw: Uint8Array.of(0xf7) });
        break;
      case "nested-tag":
        set("user_data", { tag: 24, value: bindingHash });
        break;
      case "certificate-garbage":
        set("certificate", rng.bytes(rng.int(1, 2048)));
        break;
      case "certificate-is-root":
        set("certificate", this.o.authority.certificateDer);
        break;
      case "cabundle-empty":
        set("cabundle", []);
        break;
      case "cabundle-9":
        set("cabundle", Array.from({ length: 9 }, () => this.o.authority.certificateDer));
        break;
      case "cabundle-garbage":
        set("cabundle", [this.o.authority.certificateDer, rng.bytes(rng.int(1, 2048))]);
        break;
      case "cabundle-leaf-only":
        set("cabundle", [this.leafDer]);
        break;
      case "user-data-1025":
        set("user_data", rng.bytes(1025));
        break;
      case "user-data-other-binding":
        // Well-formed, but bound to another request: documents verify, the request binding must not.
        set("user_data", rng.bytes(32));
        mustReject = false;
        break;
      case "public-key-garbage":
        set("public_key", rng.bytes(rng.int(1, 200)));
        mustReject = false; // not a session document; only mode (b) requests must fail on it
        break;
      case "nonce-1025":
        set("nonce", rng.bytes(1025));
        break;
    }
    // Variants that may pass are signed for this request; the others come from a per-variant pool.
    const fresh = kind === "valid" || kind === "valid-no-nonce" || kind === "public-key-garbage";
    const bytes = fresh ? this.envelope(mapBytes(entries, indefinite)) : this.pooled(rng, `signed-${kind}`, () => this.envelope(mapBytes(entries, indefinite)));
    return { bytes, variant: `signed/${kind}`, mustReject, requestMustReject: mustReject || kind === "user-data-other-binding" };
  }
}
