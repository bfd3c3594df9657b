/**
 * The few DER (X.690) encoders the dev attestation authority needs to write X.509 certificates and
 * PKCS#8 keys. Encoding only; parsing is left to node:crypto (X509Certificate, createPrivateKey),
 * which is how the output is checked in the tests.
 */
import { concatBytes } from "./cbor.js";

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(content);
  return concatBytes([Uint8Array.from([tag, ...lengthBytes(body.length)]), body]);
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, ...items);
export const set = (...items: Uint8Array[]): Uint8Array => tlv(0x31, ...items);
export const octetString = (b: Uint8Array): Uint8Array => tlv(0x04, b);
/** BIT STRING with no unused bits (keys, signatures). */
export const bitString = (b: Uint8Array): Uint8Array => tlv(0x03, Uint8Array.of(0), b);
export const boolean = (v: boolean): Uint8Array => tlv(0x01, Uint8Array.of(v ? 0xff : 0x00));
export const utf8String = (s: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(s));
/** [n] EXPLICIT, constructed. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);

/** A non-negative INTEGER from big-endian magnitude bytes (minimal, with a 0x00 pad if needed). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const needsPad = trimmed.length === 0 || ((trimmed[0] as number) & 0x80) !== 0;
  return tlv(0x02, needsPad ? concatBytes([Uint8Array.of(0), trimmed]) : trimmed);
}

export const smallInteger = (n: number): Uint8Array => unsignedInteger(Uint8Array.of(n));

export function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map((p) => Number(p));
  const first = parts[0];
  const second = parts[1];
  if (first === undefined || second === undefined || parts.some((p) => !Number.isSafeInteger(p) || p < 0)) {
    throw new RangeError(`bad OID ${dotted}`);
  }
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...parts.slice(2)]) {
    const bytes: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift(0x80 | (v & 0x7f));
    out.push(...bytes);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/**
 * RFC 5280 §4.1.2.5: UTCTime (YYMMDDHHMMSSZ) for years 1950–2049, GeneralizedTime after.
 * Sub-second precision is dropped (floored to the second).
 */
export function x509Time(ms: number): Uint8Array {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const year = Number(iso.slice(0, 4));
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "") + "Z";
  if (year >= 1950 && year < 2050) return tlv(0x17, new TextEncoder().encode(digits.slice(2)));
  return tlv(0x18, new TextEncoder().encode(digits));
}

export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** One DER element's position: `start` is its tag byte, `contentStart`/`end` bound its content. */
export interface DerElement {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Reads the element at `offset` (definite lengths only; throws RangeError on malformed input). */
export function readDerElement(bytes: Uint8Array, offset: number): DerElement {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined) throw new RangeError("truncated DER");
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new RangeError("unsupported DER length");
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = bytes[contentStart + i];
      if (b === undefined) throw new RangeError("truncated DER");
      length = length * 256 + b;
    }
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > bytes.length) throw new RangeError("truncated DER");
  return { tag, start: offset, contentStart, end };
}

/** The subject Name (DER) of a certificate: the 6th field of TBSCertificate (RFC 5280 §4.1). */
export function certificateSubjectName(certificateDer: Uint8Array): Uint8Array {
  const cert = readDerElement(certificateDer, 0);
  const tbs = readDerElement(certificateDer, cert.contentStart);
  let at = tbs.contentStart;
  let field = readDerElement(certificateDer, at);
  if (field.tag === 0xa0) {
    at = field.end; // explicit version
    field = readDerElement(certificateDer, at);
  }
  // serial, signature algorithm, issuer, validity, then subject
  for (let i = 0; i < 4; i++) {
    at = field.end;
    field = readDerElement(certificateDer, at);
  }
  if (field.tag !== 0x30) throw new RangeError("certificate subject is not a SEQUENCE");
  return certificateDer.slice(field.start, field.end);
}
