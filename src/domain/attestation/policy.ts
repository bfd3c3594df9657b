/**
 * The attestation policy: which roots, which enclave builds (PCR0/1/2 sets), how old a document may
 * be. Options in → validated, frozen policy out. The verifier accepts only policies made here.
 */
import { X509Certificate } from "node:crypto";
import { Code, ccrError } from "../errors.js";
import { sha256FingerprintHex } from "./x509-chain.js";
import { NITRO_LIMITS } from "./nitro-document.js";

/**
 * SHA-256 of the DER of "AWS Nitro Enclaves Root-G1" (CN=aws.nitro-enclaves, valid 2019-10-28 to
 * 2049-10-28), as published by AWS and pinned by independent verifiers (node-recipes §6.1).
 */
export const AWS_NITRO_ROOT_G1_SHA256 = "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B";

/**
 * Root-G1 itself (public: AWS publishes it, and every Nitro document carries it as `cabundle[0]`).
 * Its bytes are here only so verifiers can parse it once at start instead of on their first
 * document; trust still comes from the fingerprint above, which these bytes must hash to
 * (test/unit/attestation/policy.test.ts).
 */
export const AWS_NITRO_ROOT_G1_PEM = `-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
`;

const AWS_NITRO_ROOT_G1_DER = new Uint8Array(new X509Certificate(AWS_NITRO_ROOT_G1_PEM).raw);

/** Issue 4 / upstream CL112-10: five minutes. */
export const DEFAULT_MAX_ATTESTATION_AGE_MS = 300_000;

/**
 * How far in the future a document timestamp may be. NSM timestamps come from the enclave host's
 * clock and relay nodes run NTP, so real drift is milliseconds; 30 s tolerates a badly synced host
 * while adding only 10% to the 5-minute acceptance window. (Upstream's symmetric |now − t| ≤ 5 min
 * would let a document dated 5 min ahead stay usable for 10 min.)
 */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 30_000;

const MAX_AGE_LIMIT_MS = 24 * 60 * 60 * 1000;

export interface PcrSetInput {
  /** Hex (optionally 0x-prefixed) or bytes; 32, 48 or 64 bytes. */
  readonly pcr0: string | Uint8Array;
  readonly pcr1: string | Uint8Array;
  readonly pcr2: string | Uint8Array;
}

export interface AttestationPolicyOptions {
  /**
   * Allowed enclave builds, several at once (rolling upgrades). `"unchecked"` disables the
   * allowlist explicitly (the `ccr attestation verify` default); an empty list is an error.
   */
  readonly allowedPcrSets: readonly PcrSetInput[] | "unchecked";
  /** Accept debug (all-zero) PCRs and dev roots. Default false. */
  readonly devMode?: boolean;
  /**
   * Accept debug (all-zero) PCRs. Defaults to `devMode`; may be set false in dev mode to enforce
   * production PCR rules on a dev PKI (e.g. when the dev producer reports real measurements).
   * True requires dev mode.
   */
  readonly acceptDebugPcrs?: boolean;
  /** Extra trusted roots (DER, PEM, or SHA-256 fingerprint hex); only with `devMode: true`. */
  readonly devRoots?: readonly (Uint8Array | string)[];
  readonly maxAttestationAgeMs?: number;
  readonly maxClockSkewMs?: number;
}

/** PCR values as lowercase hex. */
export interface PcrSet {
  readonly pcr0: string;
  readonly pcr1: string;
  readonly pcr2: string;
}

export interface AttestationPolicy {
  readonly pcrAllowlist: readonly PcrSet[] | "unchecked";
  readonly devMode: boolean;
  readonly acceptDebugPcrs: boolean;
  /** Uppercase hex SHA-256 fingerprints; Root-G1 always, dev roots only in dev mode. */
  readonly trustedRootFingerprints: readonly string[];
  /**
   * The DER of every trusted root whose bytes are known (Root-G1, and dev roots given as DER or
   * PEM rather than as a fingerprint), for verifiers to parse once up front.
   */
  readonly trustedRootCertificates: readonly Uint8Array[];
  readonly maxAttestationAgeMs: number;
  readonly maxClockSkewMs: number;
}

const validated = new WeakSet<AttestationPolicy>();

export function isValidatedPolicy(policy: AttestationPolicy): boolean {
  return validated.has(policy);
}

function invalid(message: string): never {
  throw ccrError(`attestation policy: ${message}`, Code.InvalidArgument);
}

export function createAttestationPolicy(options: AttestationPolicyOptions): AttestationPolicy {
  const devMode = options.devMode ?? false;
  if (typeof devMode !== "boolean") invalid("devMode must be a boolean");
  const acceptDebugPcrs = options.acceptDebugPcrs ?? devMode;
  if (typeof acceptDebugPcrs !== "boolean") invalid("acceptDebugPcrs must be a boolean");
  if (acceptDebugPcrs && !devMode) invalid("acceptDebugPcrs requires devMode");
  const maxAttestationAgeMs = options.maxAttestationAgeMs ?? DEFAULT_MAX_ATTESTATION_AGE_MS;
  if (!Number.isSafeInteger(maxAttestationAgeMs) || maxAttestationAgeMs <= 0 || maxAttestationAgeMs > MAX_AGE_LIMIT_MS) {
    invalid(`maxAttestationAgeMs must be an integer in 1..${MAX_AGE_LIMIT_MS}`);
  }
  const maxClockSkewMs = options.maxClockSkewMs ?? Math.min(DEFAULT_MAX_CLOCK_SKEW_MS, maxAttestationAgeMs);
  if (!Number.isSafeInteger(maxClockSkewMs) || maxClockSkewMs < 0 || maxClockSkewMs > maxAttestationAgeMs) {
    invalid("maxClockSkewMs must be an integer in 0..maxAttestationAgeMs");
  }

  let pcrAllowlist: readonly PcrSet[] | "unchecked";
  if (options.allowedPcrSets === "unchecked") {
    pcrAllowlist = "unchecked";
  } else {
    if (!Array.isArray(options.allowedPcrSets) || options.allowedPcrSets.length === 0) {
      invalid('allowedPcrSets must list at least one PCR0/1/2 set (or be "unchecked")');
    }
    pcrAllowlist = Object.freeze(
      options.allowedPcrSets.map((set, i) => {
        const out = Object.freeze({
          pcr0: pcrHex(set.pcr0, `allowedPcrSets[${i}].pcr0`),
          pcr1: pcrHex(set.pcr1, `allowedPcrSets[${i}].pcr1`),
          pcr2: pcrHex(set.pcr2, `allowedPcrSets[${i}].pcr2`),
        });
        if (!acceptDebugPcrs && (isZeroHex(out.pcr0) || isZeroHex(out.pcr1) || isZeroHex(out.pcr2))) {
          invalid(`allowedPcrSets[${i}] has all-zero (debug-mode) PCRs, which only dev mode (acceptDebugPcrs) accepts`);
        }
        return out;
      }),
    );
  }

  const devRoots = options.devRoots ?? [];
  if (devRoots.length > 0 && !devMode) {
    invalid("devRoots are accepted only when devMode is true");
  }
  const roots = new Set<string>([AWS_NITRO_ROOT_G1_SHA256]);
  const rootCertificates: Uint8Array[] = [AWS_NITRO_ROOT_G1_DER];
  devRoots.forEach((root, i) => {
    const { fingerprint, der } = rootFingerprint(root, `devRoots[${i}]`);
    if (!roots.has(fingerprint) && der !== null) rootCertificates.push(der);
    roots.add(fingerprint);
  });

  const policy: AttestationPolicy = Object.freeze({
    pcrAllowlist,
    devMode,
    acceptDebugPcrs,
    trustedRootFingerprints: Object.freeze([...roots]),
    trustedRootCertificates: Object.freeze(rootCertificates),
    maxAttestationAgeMs,
    maxClockSkewMs,
  });
  validated.add(policy);
  return policy;
}

function pcrHex(value: string | Uint8Array, what: string): string {
  let hex: string;
  if (value instanceof Uint8Array) {
    hex = Buffer.from(value).toString("hex");
  } else if (typeof value === "string") {
    hex = value.startsWith("0x") || value.startsWith("0X") ? value.slice(2) : value;
    if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2 !== 0) invalid(`${what} must be hex`);
    hex = hex.toLowerCase();
  } else {
    invalid(`${what} must be hex or bytes`);
  }
  if (!(NITRO_LIMITS.pcrLengths as readonly number[]).includes(hex.length / 2)) {
    invalid(`${what} must be 32, 48 or 64 bytes, got ${hex.length / 2}`);
  }
  return hex;
}

function isZeroHex(hex: string): boolean {
  return /^0+$/.test(hex);
}

const FINGERPRINT = /^(?:[0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/;

function rootFingerprint(root: Uint8Array | string, what: string): { fingerprint: string; der: Uint8Array | null } {
  if (typeof root === "string") {
    const text = root.trim();
    if (FINGERPRINT.test(text)) return { fingerprint: text.replaceAll(":", "").toUpperCase(), der: null };
    if (text.startsWith("-----BEGIN CERTIFICATE-----")) {
      try {
        return derRoot(new Uint8Array(new X509Certificate(text).raw));
      } catch {
        invalid(`${what} is not a valid PEM certificate`);
      }
    }
    invalid(`${what} must be a PEM certificate, DER bytes or a SHA-256 fingerprint`);
  }
  if (root instanceof Uint8Array) {
    try {
      return derRoot(new Uint8Array(new X509Certificate(root).raw));
    } catch {
      invalid(`${what} is not a valid DER certificate`);
    }
  }
  invalid(`${what} must be a PEM certificate, DER bytes or a SHA-256 fingerprint`);
}

function derRoot(der: Uint8Array): { fingerprint: string; der: Uint8Array } {
  return { fingerprint: sha256FingerprintHex(der), der };
}

export type PcrRejection = { readonly code: "debug_pcrs" | "pcr_not_allowed"; readonly pcr: 0 | 1 | 2 | null };

function isAllZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/**
 * Debug-mode enclaves report all-zero PCR0..2 (node-recipes §6.1); any of the three being zero is
 * treated as debug. Then the allowlist: the reason names the first PCR no allowed set matches, given
 * the ones before it matched.
 */
export function checkPcrs(policy: AttestationPolicy, pcrs: ReadonlyMap<number, Uint8Array>): PcrRejection | null {
  const p0 = pcrs.get(0);
  const p1 = pcrs.get(1);
  const p2 = pcrs.get(2);
  if (p0 === undefined || p1 === undefined || p2 === undefined) return { code: "pcr_not_allowed", pcr: null };
  if (!policy.acceptDebugPcrs && (isAllZero(p0) || isAllZero(p1) || isAllZero(p2))) return { code: "debug_pcrs", pcr: null };
  if (policy.pcrAllowlist === "unchecked") return null;
  const h0 = Buffer.from(p0).toString("hex");
  const h1 = Buffer.from(p1).toString("hex");
  const h2 = Buffer.from(p2).toString("hex");
  let matched0 = false;
  let matched01 = false;
  for (const set of policy.pcrAllowlist) {
    if (set.pcr0 !== h0) continue;
    matched0 = true;
    if (set.pcr1 !== h1) continue;
    matched01 = true;
    if (set.pcr2 === h2) return null;
  }
  return { code: "pcr_not_allowed", pcr: matched01 ? 2 : matched0 ? 1 : 0 };
}
