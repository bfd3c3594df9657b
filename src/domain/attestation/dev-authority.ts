/**
 * The dev attestation authority: a P-384 root CA (and optional intermediates) that issues one leaf
 * certificate per enclave instance, standing in for the AWS Nitro PKI in development. Its root is
 * trusted only by a policy in dev mode (policy.ts).
 *
 * node:crypto can sign but cannot write X.509 certificates, so the certificates are assembled here
 * with a small DER encoder (der.ts) and signed with node:crypto (ecdsa-with-SHA384). Node's own
 * X509Certificate parses and verifies the result in the tests. Time and randomness (key scalars,
 * serial numbers) are injected, so `ccr init` output is reproducible in tests; ECDSA signatures
 * themselves use OpenSSL's nonce, so signature bytes differ between runs.
 *
 * Outputs are DER and PEM so `ccr init` can write them to files. The private key PEM is a secret:
 * write it with mode 0600 and never log it.
 */
import { X509Certificate, createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import type { RandomBytes } from "../clock.js";
import { Code, ccrError } from "../errors.js";
import {
  bitString,
  boolean,
  certificateSubjectName,
  explicit,
  octetString,
  readDerElement,
  oid,
  pem,
  sequence,
  set,
  smallInteger,
  tlv,
  unsignedInteger,
  utf8String,
  x509Time,
} from "./der.js";
import { parseOpenSslTime, sha256FingerprintHex } from "./x509-chain.js";

export const DEFAULT_DEV_ROOT_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;
/** Dev leaves live a day (AWS leaves live ~3 h); producers made from the authority renew them. */
export const DEFAULT_DEV_LEAF_VALIDITY_MS = 24 * 60 * 60 * 1000;

const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_SECP384R1 = "1.3.132.0.34";
const OID_ECDSA_WITH_SHA384 = "1.2.840.10045.4.3.3";
const OID_COMMON_NAME = "2.5.4.3";
const OID_ORGANIZATION = "2.5.4.10";
const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_SUBJECT_KEY_IDENTIFIER = "2.5.29.14";
const OID_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35";

/** The order of the P-384 group (SEC 2 §2.5.1). */
const P384_ORDER = BigInt(
  "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
);

/**
 * A P-384 private key from injected randomness: a scalar d in [1, n−1] by rejection sampling, put
 * in a PKCS#8 ECPrivateKey without the public point, which OpenSSL derives on import.
 */
export function generateP384PrivateKey(randomBytes: RandomBytes): KeyObject {
  for (let attempt = 0; attempt < 64; attempt++) {
    const d = randomBytes(48);
    if (d.length !== 48) throw new RangeError("randomBytes returned the wrong length");
    const value = BigInt(`0x${Buffer.from(d).toString("hex")}`);
    if (value === 0n || value >= P384_ORDER) continue;
    const ecPrivateKey = sequence(smallInteger(1), octetString(d));
    const pkcs8 = sequence(
      smallInteger(0),
      sequence(oid(OID_EC_PUBLIC_KEY), oid(OID_SECP384R1)),
      octetString(ecPrivateKey),
    );
    return createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
  }
  throw new RangeError("randomBytes keeps returning values outside the P-384 scalar range");
}

export interface DevCertificateAuthority {
  readonly commonName: string;
  /** The certificate's subject Name, DER: the issuer Name of everything it signs. */
  readonly subjectNameDer: Uint8Array;
  readonly certificateDer: Uint8Array;
  readonly certificatePem: string;
  /** Secret. */
  readonly privateKey: KeyObject;
  /** Secret: PKCS#8 PEM, for a 0600 file. */
  readonly privateKeyPem: string;
  /** Uppercase hex SHA-256 of certificateDer: what a dev-mode policy pins. */
  readonly fingerprintSha256: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

export interface DevLeafCertificate {
  readonly certificateDer: Uint8Array;
  readonly certificatePem: string;
  /** Null when the caller supplied the public key. Secret. */
  readonly privateKey: KeyObject | null;
  readonly privateKeyPem: string | null;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

export interface DevRootOptions {
  readonly nowMs: number;
  readonly randomBytes: RandomBytes;
  readonly commonName?: string;
  readonly validityMs?: number;
}

export interface DevIssueOptions {
  readonly nowMs: number;
  readonly randomBytes: RandomBytes;
  readonly commonName: string;
  readonly validityMs?: number;
  /** Backdate notBefore (e.g. to tolerate skew between hosts). Default 0. */
  readonly backdateMs?: number;
  /** Certify this key instead of generating a P-384 one (tests use it for a P-256 leaf). */
  readonly publicKey?: KeyObject;
}

interface CertificateFields {
  readonly issuerName: Uint8Array;
  readonly subjectName: Uint8Array;
  readonly subjectPublicKey: KeyObject;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly isCa: boolean;
  readonly signer: KeyObject;
  readonly randomBytes: RandomBytes;
}

/**
 * RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. RFC 5280 requires
 * key identifiers in CA-issued certificates (OpenSSL's -x509_strict checks them).
 */
function keyIdentifier(key: KeyObject): Uint8Array {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const outer = readDerElement(spki, 0);
  const algorithm = readDerElement(spki, outer.contentStart);
  const bits = readDerElement(spki, algorithm.end);
  // Skip the BIT STRING's unused-bits byte.
  return new Uint8Array(createHash("sha1").update(spki.subarray(bits.contentStart + 1, bits.end)).digest());
}

function name(commonName: string): Uint8Array {
  if (commonName.length === 0 || commonName.length > 64) {
    throw ccrError("certificate common name must be 1–64 characters", Code.InvalidArgument);
  }
  return sequence(
    set(sequence(oid(OID_ORGANIZATION), utf8String("ccr dev attestation"))),
    set(sequence(oid(OID_COMMON_NAME), utf8String(commonName))),
  );
}

function buildCertificate(f: CertificateFields): Uint8Array {
  const serial = Uint8Array.from(f.randomBytes(16));
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01; // positive, 16 bytes, non-zero (RFC 5280 §4.1.2.2)
  const algorithm = sequence(oid(OID_ECDSA_WITH_SHA384));
  const spki = new Uint8Array(f.subjectPublicKey.export({ type: "spki", format: "der" }));
  const basicConstraints = f.isCa ? sequence(boolean(true)) : sequence();
  // keyUsage BIT STRING: CA = keyCertSign(5) + cRLSign(6) → 0x06 with 1 unused bit;
  // leaf = digitalSignature(0) → 0x80 with 7 unused bits.
  const keyUsage = f.isCa ? tlv(0x03, Uint8Array.of(1, 0x06)) : tlv(0x03, Uint8Array.of(7, 0x80));
  const extensions = sequence(
    sequence(oid(OID_BASIC_CONSTRAINTS), boolean(true), octetString(basicConstraints)),
    sequence(oid(OID_KEY_USAGE), boolean(true), octetString(keyUsage)),
    sequence(oid(OID_SUBJECT_KEY_IDENTIFIER), octetString(octetString(keyIdentifier(f.subjectPublicKey)))),
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }
    sequence(oid(OID_AUTHORITY_KEY_IDENTIFIER), octetString(sequence(tlv(0x80, keyIdentifier(f.signer))))),
  );
  const tbs = sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(serial),
    algorithm,
    f.issuerName,
    sequence(x509Time(f.notBeforeMs), x509Time(f.notAfterMs)),
    f.subjectName,
    spki,
    explicit(3, extensions),
  );
  const signature = new Uint8Array(sign("sha384", tbs, f.signer)); // DER ECDSA-Sig-Value
  return sequence(tbs, algorithm, bitString(signature));
}

function validity(nowMs: number, validityMs: number, backdateMs = 0): { notBeforeMs: number; notAfterMs: number } {
  if (!Number.isSafeInteger(nowMs) || nowMs <= 0) throw ccrError("nowMs must be a positive integer", Code.InvalidArgument);
  if (!Number.isSafeInteger(validityMs) || validityMs < 1000) {
    throw ccrError("validityMs must be at least 1000", Code.InvalidArgument);
  }
  if (!Number.isSafeInteger(backdateMs) || backdateMs < 0) {
    throw ccrError("backdateMs must be a non-negative integer", Code.InvalidArgument);
  }
  // X.509 times have second precision: floor notBefore so the certificate is valid at nowMs.
  const notBeforeMs = Math.floor((nowMs - backdateMs) / 1000) * 1000;
  const notAfterMs = Math.floor((nowMs + validityMs) / 1000) * 1000;
  return { notBeforeMs, notAfterMs };
}

function asAuthority(
  commonName: string,
  der: Uint8Array,
  privateKey: KeyObject,
  w: { notBeforeMs: number; notAfterMs: number },
): DevCertificateAuthority {
  return Object.freeze({
    commonName,
    subjectNameDer: certificateSubjectName(der),
    certificateDer: der,
    certificatePem: pem("CERTIFICATE", der),
    privateKey,
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    fingerprintSha256: sha256FingerprintHex(der),
    notBeforeMs: w.notBeforeMs,
    notAfterMs: w.notAfterMs,
  });
}

/** A new self-signed P-384 root for dev attestation. */
export function createDevRootAuthority(options: DevRootOptions): DevCertificateAuthority {
  const commonName = options.commonName ?? "ccr dev attestation root (not for production)";
  const w = validity(options.nowMs, options.validityMs ?? DEFAULT_DEV_ROOT_VALIDITY_MS);
  const privateKey = generateP384PrivateKey(options.randomBytes);
  const subject = name(commonName);
  const der = buildCertificate({
    issuerName: subject,
    subjectName: subject,
    subjectPublicKey: createPublicKey(privateKey),
    ...w,
    isCa: true,
    signer: privateKey,
    randomBytes: options.randomBytes,
  });
  return asAuthority(commonName, der, privateKey, w);
}

/** An intermediate CA under `issuer` (AWS chains have three; dev chains need none). */
export function issueDevIntermediate(issuer: DevCertificateAuthority, options: DevIssueOptions): DevCertificateAuthority {
  const w = clampToIssuer(issuer, validity(options.nowMs, options.validityMs ?? DEFAULT_DEV_ROOT_VALIDITY_MS, options.backdateMs));
  const privateKey = generateP384PrivateKey(options.randomBytes);
  const der = buildCertificate({
    issuerName: issuer.subjectNameDer,
    subjectName: name(options.commonName),
    subjectPublicKey: createPublicKey(privateKey),
    ...w,
    isCa: true,
    signer: issuer.privateKey,
    randomBytes: options.randomBytes,
  });
  return asAuthority(options.commonName, der, privateKey, w);
}

/** A leaf certificate for one enclave instance, signed by `issuer`. */
export function issueDevLeaf(issuer: DevCertificateAuthority, options: DevIssueOptions): DevLeafCertificate {
  const w = clampToIssuer(issuer, validity(options.nowMs, options.validityMs ?? DEFAULT_DEV_LEAF_VALIDITY_MS, options.backdateMs));
  const privateKey = options.publicKey === undefined ? generateP384PrivateKey(options.randomBytes) : null;
  const publicKey = options.publicKey ?? createPublicKey(privateKey as KeyObject);
  const der = buildCertificate({
    issuerName: issuer.subjectNameDer,
    subjectName: name(options.commonName),
    subjectPublicKey: publicKey,
    ...w,
    isCa: false,
    signer: issuer.privateKey,
    randomBytes: options.randomBytes,
  });
  return Object.freeze({
    certificateDer: der,
    certificatePem: pem("CERTIFICATE", der),
    privateKey,
    privateKeyPem: privateKey === null ? null : privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    ...w,
  });
}

/** A certificate cannot usefully outlive its issuer; cap notAfter at the issuer's. */
function clampToIssuer(
  issuer: DevCertificateAuthority,
  w: { notBeforeMs: number; notAfterMs: number },
): { notBeforeMs: number; notAfterMs: number } {
  return { notBeforeMs: w.notBeforeMs, notAfterMs: Math.min(w.notAfterMs, issuer.notAfterMs) };
}

/**
 * Reloads an authority written by `ccr init` (certificate PEM + PKCS#8 private key PEM), checking
 * that it is a P-384 CA whose certificate matches the key.
 */
export function loadDevAuthority(files: { readonly certificatePem: string; readonly privateKeyPem: string }): DevCertificateAuthority {
  let cert: X509Certificate;
  let privateKey: KeyObject;
  try {
    cert = new X509Certificate(files.certificatePem);
    privateKey = createPrivateKey(files.privateKeyPem);
  } catch (e) {
    throw ccrError("dev attestation authority: certificate or private key is not valid PEM", Code.InvalidArgument, e);
  }
  if (privateKey.asymmetricKeyType !== "ec" || privateKey.asymmetricKeyDetails?.namedCurve !== "secp384r1") {
    throw ccrError("dev attestation authority: private key must be P-384", Code.InvalidArgument);
  }
  if (!cert.ca) throw ccrError("dev attestation authority: certificate is not a CA", Code.InvalidArgument);
  if (!cert.checkPrivateKey(privateKey)) {
    throw ccrError("dev attestation authority: private key does not match the certificate", Code.InvalidArgument);
  }
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  if (cn === undefined) throw ccrError("dev attestation authority: certificate has no common name", Code.InvalidArgument);
  const notBeforeMs = parseOpenSslTime(cert.validFrom);
  const notAfterMs = parseOpenSslTime(cert.validTo);
  if (notBeforeMs === null || notAfterMs === null) {
    throw ccrError("dev attestation authority: certificate validity is unreadable", Code.InvalidArgument);
  }
  return asAuthority(cn, new Uint8Array(cert.raw), privateKey, { notBeforeMs, notAfterMs });
}
