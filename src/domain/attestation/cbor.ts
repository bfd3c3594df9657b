/**
 * A strict, minimal CBOR (RFC 8949) decoder and encoder for the subset a Nitro attestation
 * document uses: unsigned/negative integers, byte and text strings, arrays, maps, one tag, and the
 * simple values false/true/null.
 *
 * Why our own and not cbor-x: the verifier must reject what a lenient decoder accepts (indefinite
 * lengths, floats, undefined, duplicate map keys, trailing bytes, nested tags), must bound every
 * allocation by the input size, and must hand back the ORIGINAL bytes of the COSE protected header
 * and payload (COSE RFC 8152 §4.4 signs those bytes, not a re-encoding). NSM documents use only
 * definite lengths (aws-nitro-enclaves-nsm-api serialises with serde_cbor), so rejecting
 * indefinite-length items everywhere loses nothing real.
 *
 * Non-minimal length encodings are accepted: their value is unambiguous, so they cannot cause a
 * parser differential, and the signature covers the exact bytes anyway.
 */

export type CborValue =
  | number
  | string
  | boolean
  | null
  | Uint8Array
  | readonly CborValue[]
  | CborMap
  | CborTagged;

/** Map keys are integers or text (all a COSE/Nitro document uses). */
export type CborMap = ReadonlyMap<number | string, CborValue>;

export interface CborTagged {
  readonly tag: number;
  readonly value: CborValue;
}

/** Thrown by `decodeCbor`; the message is safe to show (it never echoes input bytes). */
export class CborError extends Error {
  override readonly name = "CborError";
}

export interface CborDecodeOptions {
  /** Maximum nesting depth of arrays/maps/tags. */
  readonly maxDepth: number;
  /** Whether a tag is allowed at the top level only (nested tags are always rejected). */
  readonly allowTopLevelTag: boolean;
}

const DEFAULT_DECODE_OPTIONS: CborDecodeOptions = Object.freeze({ maxDepth: 8, allowTopLevelTag: false });

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decodes exactly one CBOR item that spans all of `bytes`. Byte strings are returned as subarrays
 * of `bytes` (no copy): callers that keep them beyond the input's lifetime must copy.
 */
export function decodeCbor(bytes: Uint8Array, options: Partial<CborDecodeOptions> = {}): CborValue {
  const opts = { ...DEFAULT_DECODE_OPTIONS, ...options };
  const reader = new Reader(bytes, opts);
  const value = reader.item(0);
  if (reader.offset !== bytes.length) {
    throw new CborError(`trailing bytes after CBOR item (${bytes.length - reader.offset} bytes)`);
  }
  return value;
}

class Reader {
  offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly opts: CborDecodeOptions,
  ) {}

  private byte(): number {
    const b = this.bytes[this.offset];
    if (b === undefined) throw new CborError("truncated CBOR");
    this.offset += 1;
    return b;
  }

  /** Reads the argument of an initial byte; returns -1 for the indefinite marker (info 31). */
  private argument(info: number): number {
    if (info < 24) return info;
    if (info === 24) return this.byte();
    if (info === 25) return (this.byte() << 8) | this.byte();
    if (info === 26) return (this.byte() * 0x1000000) + ((this.byte() << 16) | (this.byte() << 8) | this.byte());
    if (info === 27) {
      const high = this.argument(26);
      const low = this.argument(26);
      // Only values up to 2^53-1 are representable exactly; larger ones are never valid here.
      if (high > 0x1fffff) throw new CborError("CBOR integer too large");
      return high * 0x100000000 + low;
    }
    if (info === 31) return -1;
    throw new CborError(`reserved CBOR additional info ${info}`);
  }

  private take(length: number): Uint8Array {
    if (length > this.bytes.length - this.offset) throw new CborError("truncated CBOR");
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  item(depth: number): CborValue {
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
      case 1: {
        const n = this.argument(info);
        if (n < 0) throw new CborError("indefinite-length integer is malformed");
        return major === 0 ? n : -1 - n;
      }
      case 2:
      case 3: {
        const length = this.argument(info);
        if (length < 0) {
          throw new CborError(`indefinite-length ${major === 2 ? "byte" : "text"} strings are not allowed`);
        }
        const raw = this.take(length);
        if (major === 2) return raw;
        try {
          return utf8.decode(raw);
        } catch {
          throw new CborError("text string is not valid UTF-8");
        }
      }
      case 4: {
        const count = this.argument(info);
        if (count < 0) throw new CborError("indefinite-length arrays are not allowed");
        this.checkDepthAndCount(depth, count);
        const items: CborValue[] = [];
        for (let i = 0; i < count; i++) items.push(this.item(depth + 1));
        return items;
      }
      case 5: {
        const count = this.argument(info);
        if (count < 0) throw new CborError("indefinite-length maps are not allowed");
        this.checkDepthAndCount(depth, count * 2);
        const map = new Map<number | string, CborValue>();
        for (let i = 0; i < count; i++) {
          const key = this.item(depth + 1);
          if (typeof key !== "number" && typeof key !== "string") {
            throw new CborError("map keys must be integers or text");
          }
          if (map.has(key)) throw new CborError(`duplicate map key ${describeKey(key)}`);
          map.set(key, this.item(depth + 1));
        }
        return map;
      }
      case 6: {
        const tag = this.argument(info);
        if (tag < 0) throw new CborError("malformed tag");
        if (depth !== 0 || !this.opts.allowTopLevelTag) throw new CborError(`unexpected CBOR tag ${tag}`);
        return { tag, value: this.item(depth + 1) };
      }
      default: {
        // major 7
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 31) throw new CborError("unexpected CBOR break");
        throw new CborError("floats, undefined and simple values are not allowed");
      }
    }
  }

  private checkDepthAndCount(depth: number, minItems: number): void {
    if (depth + 1 > this.opts.maxDepth) throw new CborError("CBOR nesting too deep");
    // Every item takes at least one byte: refuse counts the input cannot hold before allocating.
    if (minItems > this.bytes.length - this.offset) throw new CborError("truncated CBOR");
  }
}

/**
 * A map key for an error message: input-controlled text, so it is quoted and cut to 32 characters
 * (reasons end up in logs and in signed relay errors).
 */
export function describeKey(key: number | string): string {
  if (typeof key === "number") return String(key);
  return JSON.stringify(key.length > 32 ? `${key.slice(0, 32)}…` : key);
}

export function isCborMap(v: CborValue | undefined): v is CborMap {
  return v instanceof Map;
}

export function isCborTagged(v: CborValue | undefined): v is CborTagged {
  return typeof v === "object" && v !== null && !(v instanceof Map) && !(v instanceof Uint8Array) && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Encoder: deterministic (minimal lengths, map entries in the order given). Used for the COSE
// Sig_structure and by the dev attestation producer.

export type CborEncodable =
  | number
  | string
  | null
  | boolean
  | Uint8Array
  | readonly CborEncodable[]
  | { readonly mapEntries: readonly (readonly [number | string, CborEncodable])[] }
  | { readonly tag: number; readonly value: CborEncodable };

const utf8Encoder = new TextEncoder();

function head(major: number, n: number, out: number[]): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("CBOR argument must be a non-negative safe integer");
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 0x100) out.push(m | 24, n);
  else if (n < 0x10000) out.push(m | 25, n >> 8, n & 0xff);
  else if (n < 0x100000000) out.push(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  else {
    const high = Math.floor(n / 0x100000000);
    const low = n >>> 0;
    out.push(m | 27, (high >>> 24) & 0xff, (high >>> 16) & 0xff, (high >>> 8) & 0xff, high & 0xff);
    out.push((low >>> 24) & 0xff, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff);
  }
}

/** Returns the CBOR header bytes for a byte string of `length` bytes. */
export function byteStringHeader(length: number): Uint8Array {
  const out: number[] = [];
  head(2, length, out);
  return Uint8Array.from(out);
}

export function encodeCbor(value: CborEncodable): Uint8Array {
  const chunks: Uint8Array[] = [];
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length > 0) {
      chunks.push(Uint8Array.from(pending));
      pending = [];
    }
  };
  const write = (v: CborEncodable): void => {
    if (v === null) pending.push(0xf6);
    else if (v === true) pending.push(0xf5);
    else if (v === false) pending.push(0xf4);
    else if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) throw new RangeError("only safe integers can be encoded");
      if (v >= 0) head(0, v, pending);
      else head(1, -1 - v, pending);
    } else if (typeof v === "string") {
      const b = utf8Encoder.encode(v);
      head(3, b.length, pending);
      flush();
      chunks.push(b);
    } else if (v instanceof Uint8Array) {
      head(2, v.length, pending);
      flush();
      chunks.push(v);
    } else if (Array.isArray(v)) {
      const arr = v as readonly CborEncodable[];
      head(4, arr.length, pending);
      for (const item of arr) write(item);
    } else if ("mapEntries" in v) {
      head(5, v.mapEntries.length, pending);
      for (const [k, item] of v.mapEntries) {
        write(k);
        write(item);
      }
    } else if ("tag" in v) {
      head(6, v.tag, pending);
      write(v.value);
    }
  };
  write(value);
  flush();
  return concatBytes(chunks);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
