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
import {
  parseCertificateSignature,
  verifyCertificateSignature,
  verifyCertificateSignatureAsync,
  type CertificateSignature,
  type CertificateSignatureParse,
} from "./certificate-signature.js";

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
  /** Its signed part, for checking its issuer's signature (not needed for a pinned root). */
  readonly signed: CertificateSignatureParse;
}

/**
 * Parsed certificates and verified issuer→subject links, keyed by SHA-256 of the DER. Both are
 * facts about fixed bytes, independent of time and policy, so entries never go stale; the maps are
 * only bounded. AWS's regional, zonal and instance CAs are shared by many enclaves, so with this
 * cache a new enclave's first document costs two P-384 verifications (its leaf link and the COSE
 * signature) instead of five. Pinned roots are parsed once, up front, and never evicted.
 */
export class CertificateCache {
  private readonly infos = new Map<string, CertificateInfo | null>();
  private readonly pinned = new Map<string, CertificateInfo>();
  private readonly links = new Set<string>();
  /** Certificates parsed and issuer links verified so far (cache misses). */
  parsed = 0;
  linksVerified = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
  }

  /** Parses a trusted root now and keeps it for good (it is configuration, not input). */
  pin(der: Uint8Array): void {
    const info = parseCertificate(der);
    if (info !== null) this.pinned.set(sha256FingerprintHex(der), info);
  }

  /** Parsed certificate, or null when the bytes are not a usable certificate. */
  info(key: string, der: Uint8Array): CertificateInfo | null {
    const pinned = this.pinned.get(key);
    if (pinned !== undefined) return pinned;
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
  // A certificate can parse while its key does not (an EC point off the curve, a corrupted SPKI):
  // the `publicKey` getter then throws OpenSSL's "decode error". Not a valid certificate.
  let publicKey: KeyObject;
  try {
    publicKey = x509.publicKey;
  } catch {
    return null;
  }
  return { x509, publicKey, window, isCa: x509.ca, isP384: isP384(publicKey), signed: parseCertificateSignature(der) };
}

/** An issuer signature still to check: certificate `index` signed by certificate `index − 1`. */
interface PendingLink {
  readonly index: number;
  readonly signed: CertificateSignature;
  readonly issuerKey: KeyObject;
}

/**
 * Everything but the signatures not already cached: the root pin, parsing, P-384 keys, CA flags,
 * issuer/subject name chaining. Returns the links whose signatures remain to be checked.
 */
type ChainPlan =
  | { readonly kind: "plan"; readonly infos: readonly CertificateInfo[]; readonly keys: readonly string[]; readonly pending: readonly PendingLink[] }
  | Extract<ChainResult, { kind: "rejected" }>;

function planChain(
  cabundle: readonly Uint8Array[],
  leaf: Uint8Array,
  trustedRoots: ReadonlySet<string>,
  cache: CertificateCache,
): ChainPlan {
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
  const pending: PendingLink[] = [];
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
    if (i > 0 && !cache.linkVerified(keys[i - 1] as string, keys[i] as string)) {
      const issuer = infos[i - 1] as CertificateInfo;
      if (!info.x509.checkIssued(issuer.x509)) {
        return { kind: "rejected", code: "chain_invalid", detail: `${label} is not issued by ${certLabel(i - 1, total)}` };
      }
      if (info.signed.kind !== "ok") return { kind: "rejected", code: "chain_invalid", detail: `${label}: ${info.signed.detail}` };
      pending.push({ index: i, signed: info.signed.value, issuerKey: issuer.publicKey });
    }
  }
  return { kind: "plan", infos, keys, pending };
}

/** The verdict once the pending signatures are checked (`valid[k]` for `plan.pending[k]`). */
function finishChain(plan: Extract<ChainPlan, { kind: "plan" }>, valid: readonly boolean[], cache: CertificateCache): ChainResult {
  const total = plan.infos.length;
  // The first bad link in chain order, whatever order the checks finished in.
  for (let k = 0; k < plan.pending.length; k++) {
    if (valid[k] !== true) {
      const i = (plan.pending[k] as PendingLink).index;
      return { kind: "rejected", code: "chain_invalid", detail: `${certLabel(i, total)} is not issued by ${certLabel(i - 1, total)}` };
    }
  }
  for (const link of plan.pending) cache.recordLink(plan.keys[link.index - 1] as string, plan.keys[link.index] as string);
  return {
    kind: "ok",
    leafPublicKey: (plan.infos[total - 1] as CertificateInfo).publicKey,
    windows: plan.infos.map((info) => info.window),
  };
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
  const plan = planChain(cabundle, leaf, trustedRoots, cache);
  if (plan.kind !== "plan") return plan;
  return finishChain(plan, plan.pending.map((link) => verifyCertificateSignature(link.signed, link.issuerKey)), cache);
}

/**
 * The same check with the issuer signatures verified in parallel on libuv's thread pool: on two
 * cores a five-certificate chain's four P-384 verifications take about half the wall time, and the
 * event loop keeps serving meanwhile. Same verdicts as `verifyCertificateChain`.
 *
 * @param onLeafKey called with the leaf's key once every check but the signatures has passed, so
 *   the caller can start its own signature check by that key alongside (the COSE signature).
 */
export async function verifyCertificateChainAsync(
  cabundle: readonly Uint8Array[],
  leaf: Uint8Array,
  trustedRoots: ReadonlySet<string>,
  cache: CertificateCache = new CertificateCache(16),
  onLeafKey?: (leafPublicKey: KeyObject) => void,
): Promise<ChainResult> {
  const plan = planChain(cabundle, leaf, trustedRoots, cache);
  if (plan.kind !== "plan") return plan;
  onLeafKey?.((plan.infos[plan.infos.length - 1] as CertificateInfo).publicKey);
  const valid = await Promise.all(plan.pending.map((link) => verifyCertificateSignatureAsync(link.signed, link.issuerKey)));
  return finishChain(plan, valid, cache);
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
