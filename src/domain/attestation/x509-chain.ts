/**
 * X.509 chain check for a Nitro document: `cabundle[0]` must be a pinned root (SHA-256 of its DER),
 * each following certificate (the rest of `cabundle`, then the leaf `certificate`) must be issued
 * and signed by the one before it, every non-leaf must be a CA, and every key must be P-384
 * (the leaf's in particular: upstream CL112-12 accepted other curves).
 *
 * The check is split in two so its result can be cached (verifier.ts): the time-independent part
 * here, done once per distinct chain, and `certificateValidityAt`, a few comparisons against the
 * validity windows it returns, done at every use.
 *
 * The root's self-signature is not checked: the root is trusted because its exact bytes are pinned.
 */
import { X509Certificate, createHash, type KeyObject } from "node:crypto";

export interface ValidityWindow {
  readonly notBeforeMs: number;
  /** Inclusive (RFC 5280 §4.1.2.5). */
  readonly notAfterMs: number;
}

export type ChainRejectionCode = "untrusted_root" | "chain_invalid" | "leaf_key_not_p384";

export type ChainResult =
  | {
      readonly kind: "ok";
      readonly leafPublicKey: KeyObject;
      /** One window per certificate, root first, leaf last. */
      readonly windows: readonly ValidityWindow[];
    }
  | { readonly kind: "rejected"; readonly code: ChainRejectionCode; readonly detail: string };

/** Uppercase hex SHA-256 of a DER certificate, the form AWS publishes the Root-G1 pin in. */
export function sha256FingerprintHex(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex").toUpperCase();
}

function isP384(key: KeyObject): boolean {
  return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "secp384r1";
}

/** What the chain check needs from one certificate, parsed once. */
interface CertificateInfo {
  readonly x509: X509Certificate;
  readonly publicKey: KeyObject;
  readonly window: ValidityWindow;
  readonly isCa: boolean;
  readonly isP384: boolean;
}

/**
 * Parsed certificates and verified issuer→subject links, keyed by SHA-256 of the DER. Both are
 * facts about fixed bytes, independent of time and policy, so entries never go stale; the maps are
 * only bounded. AWS's regional, zonal and instance CAs are shared by many enclaves, so with this
 * cache a new enclave's first document costs two P-384 verifications (its leaf link and the COSE
 * signature) instead of five.
 */
export class CertificateCache {
  private readonly infos = new Map<string, CertificateInfo | null>();
  private readonly links = new Set<string>();
  /** Certificates parsed and issuer links verified so far (cache misses). */
  parsed = 0;
  linksVerified = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  /** Parsed certificate, or null when the bytes are not a usable certificate. */
  info(key: string, der: Uint8Array): CertificateInfo | null {
    const cached = this.infos.get(key);
    if (cached !== undefined) {
      // Refresh LRU position.
      this.infos.delete(key);
      this.infos.set(key, cached);
      return cached;
    }
    const info = parseCertificate(der);
    this.parsed++;
    if (this.infos.size >= this.capacity) this.infos.delete(this.infos.keys().next().value as string);
    this.infos.set(key, info);
    return info;
  }

  linkVerified(issuerKey: string, subjectKey: string): boolean {
    return this.links.has(`${issuerKey}>${subjectKey}`);
  }

  recordLink(issuerKey: string, subjectKey: string): void {
    this.linksVerified++;
    if (this.links.size >= this.capacity) this.links.delete(this.links.values().next().value as string);
    this.links.add(`${issuerKey}>${subjectKey}`);
  }
}

function parseCertificate(der: Uint8Array): CertificateInfo | null {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    return null;
  }
  const window = parseWindow(x509);
  if (window === null) return null;
  const publicKey = x509.publicKey;
  return { x509, publicKey, window, isCa: x509.ca, isP384: isP384(publicKey) };
}

/**
 * @param cabundle CA certificates, root first (DER).
 * @param leaf the signing certificate (DER).
 * @param trustedRoots uppercase hex SHA-256 fingerprints.
 * @param cache parsed certificates and verified links to reuse (a private one when omitted).
 */
export function verifyCertificateChain(
  cabundle: readonly Uint8Array[],
  leaf: Uint8Array,
  trustedRoots: ReadonlySet<string>,
  cache: CertificateCache = new CertificateCache(16),
): ChainResult {
  const ders = [...cabundle, leaf];
  const keys = ders.map(sha256FingerprintHex);
  if (cabundle.length === 0 || !trustedRoots.has(keys[0] as string)) {
    return { kind: "rejected", code: "untrusted_root", detail: "root is not pinned" };
  }
  const total = ders.length;
  const infos: CertificateInfo[] = [];
  for (let i = 0; i < total; i++) {
    const info = cache.info(keys[i] as string, ders[i] as Uint8Array);
    if (info === null) {
      return { kind: "rejected", code: "chain_invalid", detail: `${certLabel(i, total)} is not a valid X.509 certificate` };
    }
    infos.push(info);
  }
  for (let i = 0; i < total; i++) {
    const info = infos[i] as CertificateInfo;
    const label = certLabel(i, total);
    const isLeaf = i === total - 1;
    if (!info.isP384) {
      return isLeaf
        ? { kind: "rejected", code: "leaf_key_not_p384", detail: "leaf key is not P-384" }
        : { kind: "rejected", code: "chain_invalid", detail: `${label} key is not P-384` };
    }
    if (!isLeaf && !info.isCa) return { kind: "rejected", code: "chain_invalid", detail: `${label} is not a CA` };
    if (i > 0) {
      const issuer = infos[i - 1] as CertificateInfo;
      const issuerKey = keys[i - 1] as string;
      const subjectKey = keys[i] as string;
      if (!cache.linkVerified(issuerKey, subjectKey)) {
        if (!info.x509.checkIssued(issuer.x509) || !info.x509.verify(issuer.publicKey)) {
          return { kind: "rejected", code: "chain_invalid", detail: `${label} is not issued by ${certLabel(i - 1, total)}` };
        }
        cache.recordLink(issuerKey, subjectKey);
      }
    }
  }
  return {
    kind: "ok",
    leafPublicKey: (infos[total - 1] as CertificateInfo).publicKey,
    windows: infos.map((info) => info.window),
  };
}

/** "certificate 2 of 5", "certificate 5 of 5 (leaf)", "certificate 1 of 5 (root)". */
export function certLabel(index: number, total: number): string {
  const role = index === total - 1 ? " (leaf)" : index === 0 ? " (root)" : "";
  return `certificate ${index + 1} of ${total}${role}`;
}

export type ValidityProblem = {
  readonly index: number;
  readonly problem: "expired" | "not yet valid";
  readonly boundaryMs: number;
};

/** The first certificate not valid at `atMs`, or null when all are. */
export function certificateValidityAt(windows: readonly ValidityWindow[], atMs: number): ValidityProblem | null {
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i] as ValidityWindow;
    if (atMs < w.notBeforeMs) return { index: i, problem: "not yet valid", boundaryMs: w.notBeforeMs };
    if (atMs > w.notAfterMs) return { index: i, problem: "expired", boundaryMs: w.notAfterMs };
  }
  return null;
}

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

/** Node 20's X509Certificate gives validity as OpenSSL text, e.g. "Sep  9 19:49:09 2024 GMT". */
const OPENSSL_TIME = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/;

export function parseOpenSslTime(text: string): number | null {
  const m = OPENSSL_TIME.exec(text);
  if (m === null) return null;
  const month = MONTHS[m[1] as string];
  if (month === undefined) return null;
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}

function parseWindow(cert: X509Certificate): ValidityWindow | null {
  const notBeforeMs = parseOpenSslTime(cert.validFrom);
  const notAfterMs = parseOpenSslTime(cert.validTo);
  if (notBeforeMs === null || notAfterMs === null || notAfterMs < notBeforeMs) return null;
  return { notBeforeMs, notAfterMs };
}
