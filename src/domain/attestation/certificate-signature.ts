/**
 * The signed part of an X.509 certificate, read straight from its DER (RFC 5280 §4.1):
 *
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 *
 * so the chain check can verify an issuer's signature with `crypto.verify` — synchronously, or on
 * libuv's thread pool, several at once (x509-chain.ts) — instead of `X509Certificate.verify`, which
 * is synchronous only. It checks what OpenSSL's X509_verify checks before the signature: the outer
 * algorithm must equal the one inside TBSCertificate (§4.1.1.2), and only ECDSA with SHA-256/384/512
 * is accepted, the family every Nitro certificate uses (their keys must be P-384 anyway). The
 * signature is checked over the exact TBSCertificate bytes received, as X509_verify does for an
 * unmodified certificate.
 */
import { verify, type KeyObject } from "node:crypto";
import { readDerElement } from "./der.js";

export type CertificateSignatureHash = "sha256" | "sha384" | "sha512";

export interface CertificateSignature {
  /** The DER TBSCertificate, tag and length included: the signed bytes. */
  readonly tbs: Uint8Array;
  readonly hash: CertificateSignatureHash;
  /** DER ECDSA-Sig-Value. */
  readonly signature: Uint8Array;
}

export type CertificateSignatureParse =
  | { readonly kind: "ok"; readonly value: CertificateSignature }
  | { readonly kind: "rejected"; readonly detail: string };

/** AlgorithmIdentifier DER for ecdsa-with-SHA256/384/512 (RFC 5758 §3.2: parameters absent). */
const ECDSA_ALGORITHMS: ReadonlyMap<string, CertificateSignatureHash> = new Map([
  ["300a06082a8648ce3d040302", "sha256"],
  ["300a06082a8648ce3d040303", "sha384"],
  ["300a06082a8648ce3d040304", "sha512"],
]);

const SEQUENCE = 0x30;
const BIT_STRING = 0x03;
const EXPLICIT_0 = 0xa0;

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

export function parseCertificateSignature(der: Uint8Array): CertificateSignatureParse {
  try {
    const cert = readDerElement(der, 0);
    if (cert.tag !== SEQUENCE || cert.end !== der.length) return reject("not one DER SEQUENCE");
    const tbs = readDerElement(der, cert.contentStart);
    const algorithm = tbs.tag === SEQUENCE ? readDerElement(der, tbs.end) : null;
    const value = algorithm !== null && algorithm.tag === SEQUENCE ? readDerElement(der, algorithm.end) : null;
    if (algorithm === null || value === null || tbs.tag !== SEQUENCE || value.tag !== BIT_STRING || value.end !== cert.end) {
      return reject("not a Certificate (TBSCertificate, algorithm, signature)");
    }
    const algorithmHex = hexOf(der.subarray(algorithm.start, algorithm.end));
    const hash = ECDSA_ALGORITHMS.get(algorithmHex);
    if (hash === undefined) return reject("signature algorithm is not ECDSA with SHA-256/384/512");

    // TBSCertificate: [0] version (optional), serialNumber, signature AlgorithmIdentifier, ...
    let field = readDerElement(der, tbs.contentStart);
    if (field.tag === EXPLICIT_0) field = readDerElement(der, field.end);
    const inner = readDerElement(der, field.end);
    if (inner.end > tbs.end || hexOf(der.subarray(inner.start, inner.end)) !== algorithmHex) {
      return reject("signature algorithm differs from the one in TBSCertificate");
    }
    if (value.end - value.contentStart < 2 || der[value.contentStart] !== 0) return reject("signature BIT STRING is malformed");
    return {
      kind: "ok",
      value: {
        tbs: der.subarray(tbs.start, tbs.end),
        hash,
        signature: der.subarray(value.contentStart + 1, value.end),
      },
    };
  } catch {
    return reject("malformed DER");
  }
}

function reject(detail: string): CertificateSignatureParse {
  return { kind: "rejected", detail };
}

/** Synchronous check of `signed` by `issuerKey`; false on any OpenSSL error (hostile input). */
export function verifyCertificateSignature(signed: CertificateSignature, issuerKey: KeyObject): boolean {
  try {
    return verify(signed.hash, signed.tbs, { key: issuerKey, dsaEncoding: "der" }, signed.signature);
  } catch {
    return false;
  }
}

/**
 * The same check on libuv's thread pool (node:crypto's callback form), so several run in parallel
 * and the event loop stays free meanwhile. Never rejects.
 */
export function verifyCertificateSignatureAsync(signed: CertificateSignature, issuerKey: KeyObject): Promise<boolean> {
  return verifyOffThread(signed.hash, signed.tbs, { key: issuerKey, dsaEncoding: "der" }, signed.signature);
}

/** `crypto.verify` on the thread pool; resolves false on any error. */
export function verifyOffThread(
  hash: string,
  data: Uint8Array,
  key: { key: KeyObject; dsaEncoding: "der" | "ieee-p1363" },
  signature: Uint8Array,
): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      verify(hash, data, key, signature, (error, ok) => resolve(error === null && ok));
    } catch {
      resolve(false);
    }
  });
}
