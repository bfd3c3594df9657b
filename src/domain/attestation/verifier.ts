/**
 * The attestation verifier a relay node runs on every request (issue 4, "Attestation").
 *
 * Checks, most fundamental first, so a reason names the real problem:
 *   1. structure and bounds (nitro-document.ts);
 *   2. certificate chain to a pinned root, P-384 keys, CA flags, signatures (x509-chain.ts);
 *   3. the COSE ES384 signature by the leaf key;
 *   4. PCR policy: debug PCRs, allowlist (policy.ts);
 *   5. time: document age and future skew, then every certificate's validity, at "now".
 * Steps 1–4 do not depend on time, so their outcome is cached per document (SHA-256 of its bytes):
 * positive results until the document stops being usable, rejections for a while. Step 2 is also
 * cached per certificate chain, so a fresh document from an already-seen enclave (binding mode a
 * makes one per request) costs one P-384 verification, not five; and per certificate and issuer
 * link, so a new enclave behind already-seen AWS intermediates costs two. No certificate is parsed
 * twice. Step 5 is a few comparisons and runs on every call, cached or not.
 *
 * Per request (`checkRequest`): the document as above, the request timestamp within the freshness
 * window, the binding (mode a: user_data == binding hash; mode b: ed25519 session signature by the
 * attested session key), then the replay cache. On a cache hit that is a SHA-256 of ~4.5 KB, a map
 * lookup, and a 32-byte compare or one ed25519 verification.
 */
import { createHash, timingSafeEqual, verify as cryptoVerify, type KeyObject } from "node:crypto";
import { verifyOffThread } from "./certificate-signature.js";
import type { Clock } from "../clock.js";
import { Code, ccrError } from "../errors.js";
import { ExpiringLru } from "./expiring-lru.js";
import { NITRO_LIMITS, coseSigStructure, parseNitroDocument, type NitroDocument } from "./nitro-document.js";
import { checkPcrs, isValidatedPolicy, type AttestationPolicy } from "./policy.js";
import { ReplayCache } from "./replay-cache.js";
import { ed25519PublicKeyFromRaw } from "../crypto/ed25519.js";
import {
  BINDING_HASH_BYTES,
  parseEnclaveSessionKeys,
  verifySessionSignature,
} from "./session-keys.js";
import {
  rejected,
  type AttestationRejected,
  type AttestationVerdict,
  type CacheOutcome,
  type VerifiedDocument,
} from "./verdict.js";
import {
  CertificateCache,
  certLabel,
  certificateValidityAt,
  verifyCertificateChain,
  verifyCertificateChainAsync,
  type ChainResult,
  type ValidityWindow,
} from "./x509-chain.js";

export interface AttestationVerifierOptions {
  readonly policy: AttestationPolicy;
  readonly clock: Clock;
  /** Verified documents kept (LRU). Default 10 000 (~2 KB each). */
  readonly documentCacheSize?: number;
  /** Verified certificate chains kept (LRU). Default 1 000. */
  readonly chainCacheSize?: number;
  /** Parsed certificates and verified issuer links kept (LRU each). Default 4 000. */
  readonly certificateCacheSize?: number;
  /** Rejected documents kept, so a resent bad document costs a lookup. Default 1 000. */
  readonly rejectionCacheSize?: number;
  /** Binding hashes remembered; fail-closed when full. Default 200 000. */
  readonly replayCacheSize?: number;
}

/** How a request is bound to the attestation (docs/attestation.md). */
export type RequestBinding =
  | {
      /** Mode (a): the document's user_data is the request's binding hash. */
      readonly mode: "user_data";
      readonly bindingHash: Uint8Array;
      /** The timestamp the binding hash covers. */
      readonly requestTimestampMs: number;
    }
  | {
      /** Mode (b): the attested session key signed the binding hash. */
      readonly mode: "session_signature";
      readonly bindingHash: Uint8Array;
      readonly requestTimestampMs: number;
      readonly sessionSignature: Uint8Array;
    };

export interface AttestationStats {
  readonly documentCacheHits: number;
  readonly documentCacheMisses: number;
  /** Hits on cached rejections (counted in documentCacheHits too). */
  readonly rejectionCacheHits: number;
  readonly chainCacheHits: number;
  readonly chainCacheMisses: number;
  /** X.509 certificates parsed (each distinct certificate once while cached). */
  readonly certificatesParsed: number;
  /** Issuer→subject certificate signatures verified (each distinct link once while cached). */
  readonly certificateLinksVerified: number;
  readonly documentCacheSize: number;
  readonly replayCacheSize: number;
}

interface CacheEntry {
  readonly document: VerifiedDocument;
  readonly windows: readonly ValidityWindow[];
  /** Raw ed25519 key, present only when it imports as a valid key. */
  readonly sessionPublicKey: Uint8Array | null;
  /** Pre-built so a cache hit allocates nothing. */
  readonly hitVerdict: AttestationVerdict;
}

type ChainCacheValue = Extract<ChainResult, { kind: "ok" }> | AttestationRejected;

type FullResult = { readonly kind: "ok"; readonly entry: CacheEntry } | AttestationRejected;

export class AttestationVerifier {
  readonly policy: AttestationPolicy;
  private readonly clock: Clock;
  private readonly trustedRoots: ReadonlySet<string>;
  private readonly documents: ExpiringLru<CacheEntry>;
  private readonly rejections: ExpiringLru<AttestationRejected>;
  private readonly chains: ExpiringLru<ChainCacheValue>;
  private readonly certificates: CertificateCache;
  private readonly replays: ReplayCache;
  /** New documents being verified off the event loop, so concurrent requests share one check. */
  private readonly inFlight = new Map<string, Promise<FullResult>>();
  private counters = {
    documentCacheHits: 0,
    documentCacheMisses: 0,
    rejectionCacheHits: 0,
    chainCacheHits: 0,
    chainCacheMisses: 0,
  };

  constructor(options: AttestationVerifierOptions) {
    if (!isValidatedPolicy(options.policy)) {
      throw ccrError("attestation verifier needs a policy from createAttestationPolicy", Code.InvalidArgument);
    }
    this.policy = options.policy;
    this.clock = options.clock;
    this.trustedRoots = new Set(options.policy.trustedRootFingerprints);
    this.documents = new ExpiringLru(options.documentCacheSize ?? 10_000);
    this.rejections = new ExpiringLru(options.rejectionCacheSize ?? 1_000);
    this.chains = new ExpiringLru(options.chainCacheSize ?? 1_000);
    this.certificates = new CertificateCache(options.certificateCacheSize ?? 4_000);
    for (const der of options.policy.trustedRootCertificates) this.certificates.pin(der);
    this.replays = new ReplayCache(options.replayCacheSize ?? 200_000);
  }

  stats(): AttestationStats {
    return {
      ...this.counters,
      certificatesParsed: this.certificates.parsed,
      certificateLinksVerified: this.certificates.linksVerified,
      documentCacheSize: this.documents.size,
      replayCacheSize: this.replays.size,
    };
  }

  /** Verifies a document (authenticity, policy, freshness) at the clock's "now". */
  verifyDocument(documentBytes: Uint8Array): AttestationVerdict {
    return this.verifyAt(documentBytes, this.clock.nowMs()).verdict;
  }

  /** The per-request check: the document, then the request's binding to it, then replay. */
  checkRequest(documentBytes: Uint8Array, binding: RequestBinding): AttestationVerdict {
    assertBindingHash(binding);
    const nowMs = this.clock.nowMs();
    const { verdict, entry } = this.verifyAt(documentBytes, nowMs);
    return this.checkBinding(verdict, entry, binding, nowMs);
  }

  /**
   * `verifyDocument`, with a new document's five P-384 signatures (four certificate links and the
   * COSE signature) verified in parallel on libuv's thread pool instead of on the event loop.
   * Concurrent calls for the same new document share one verification. A cached document is
   * answered synchronously (an already resolved promise). Same verdicts as `verifyDocument`.
   */
  async verifyDocumentAsync(documentBytes: Uint8Array): Promise<AttestationVerdict> {
    return (await this.verifyAtAsync(documentBytes)).verdict;
  }

  /** `checkRequest` over `verifyDocumentAsync`: what a relay node runs per request. */
  async checkRequestAsync(documentBytes: Uint8Array, binding: RequestBinding): Promise<AttestationVerdict> {
    assertBindingHash(binding);
    const { verdict, entry } = await this.verifyAtAsync(documentBytes);
    return this.checkBinding(verdict, entry, binding, this.clock.nowMs());
  }

  private checkBinding(
    verdict: AttestationVerdict,
    entry: CacheEntry | null,
    binding: RequestBinding,
    nowMs: number,
  ): AttestationVerdict {
    if (verdict.kind !== "ok" || entry === null) return verdict;
    const cache = verdict.cache;

    const ts = binding.requestTimestampMs;
    if (!Number.isFinite(ts) || nowMs - ts > this.policy.maxAttestationAgeMs || ts - nowMs > this.policy.maxClockSkewMs) {
      return rejected("request_timestamp_out_of_window", "request timestamp outside the freshness window", cache);
    }

    if (binding.mode === "user_data") {
      const userData = entry.document.userData;
      if (userData === null || userData.length !== BINDING_HASH_BYTES || !timingSafeEqual(userData, binding.bindingHash)) {
        return rejected("binding_mismatch", "binding mismatch (user_data is not the request's binding hash)", cache);
      }
    } else if (binding.mode === "session_signature") {
      if (entry.sessionPublicKey === null) {
        return rejected("no_session_keys", "document has no session keys (public_key is not ccr-enclave-keys-v1)", cache);
      }
      if (!verifySessionSignature(entry.sessionPublicKey, binding.bindingHash, binding.sessionSignature)) {
        return rejected("session_signature_invalid", "session signature invalid", cache);
      }
    } else {
      throw ccrError("unknown binding mode", Code.InvalidArgument);
    }

    // Recorded only once everything else passed, so nobody can burn a binding hash they cannot use.
    const key = Buffer.from(binding.bindingHash.buffer, binding.bindingHash.byteOffset, BINDING_HASH_BYTES).toString("hex");
    const outcome = this.replays.checkAndRecord(key, ts + this.policy.maxAttestationAgeMs + 1, nowMs);
    if (outcome === "replayed") return rejected("replayed_request", "replayed request", cache);
    if (outcome === "full") return rejected("replay_cache_full", "replay cache full, retry later", cache);
    return verdict;
  }

  private verifyAt(bytes: Uint8Array, nowMs: number): Checked {
    const looked = this.lookup(bytes, nowMs);
    if (looked.kind === "done") return looked.checked;
    return this.settleMiss(looked.digestHex, this.verifyTimeIndependent(bytes, looked.digestHex), nowMs);
  }

  private async verifyAtAsync(bytes: Uint8Array): Promise<Checked> {
    const looked = this.lookup(bytes, this.clock.nowMs());
    if (looked.kind === "done") return looked.checked;
    const { digestHex } = looked;
    let pending = this.inFlight.get(digestHex);
    if (pending === undefined) {
      pending = this.verifyTimeIndependentAsync(bytes, digestHex);
      this.inFlight.set(digestHex, pending);
    }
    let full: FullResult;
    try {
      full = await pending;
    } finally {
      this.inFlight.delete(digestHex);
    }
    // The first waiter to resume caches the outcome; the others find it in the cache. Time is read
    // again: the verification took a while.
    const nowMs = this.clock.nowMs();
    const again = this.lookup(bytes, nowMs, false);
    return again.kind === "done" ? again.checked : this.settleMiss(digestHex, full, nowMs);
  }

  /** A cache hit (positive or rejection), or the digest to verify. */
  private lookup(
    bytes: Uint8Array,
    nowMs: number,
    countMiss = true,
  ): { readonly kind: "done"; readonly checked: Checked } | { readonly kind: "miss"; readonly digestHex: string } {
    if (!(bytes instanceof Uint8Array) || bytes.length > NITRO_LIMITS.maxDocumentBytes) {
      this.counters.documentCacheMisses++;
      const detail = `malformed document: document is over ${NITRO_LIMITS.maxDocumentBytes} bytes`;
      return { kind: "done", checked: { verdict: rejected("malformed", detail, "miss"), entry: null } };
    }
    const digestHex = createHash("sha256").update(bytes).digest("hex");
    const cached = this.documents.get(digestHex, nowMs);
    if (cached !== undefined) {
      if (countMiss) this.counters.documentCacheHits++;
      const timeProblem = this.timeCheck(cached, nowMs, countMiss ? "hit" : "miss");
      const verdict = countMiss ? cached.hitVerdict : missVerdict(cached);
      return { kind: "done", checked: timeProblem === null ? { verdict, entry: cached } : { verdict: timeProblem, entry: null } };
    }
    const cachedRejection = this.rejections.get(digestHex, nowMs);
    if (cachedRejection !== undefined) {
      if (countMiss) {
        this.counters.documentCacheHits++;
        this.counters.rejectionCacheHits++;
      }
      return { kind: "done", checked: { verdict: countMiss ? cachedRejection : { ...cachedRejection, cache: "miss" }, entry: null } };
    }
    if (countMiss) this.counters.documentCacheMisses++;
    return { kind: "miss", digestHex };
  }

  /** Caches a fresh verification's outcome and applies the time checks at `nowMs`. */
  private settleMiss(digestHex: string, full: FullResult, nowMs: number): Checked {
    if (full.kind !== "ok") {
      this.rememberRejection(digestHex, full, nowMs);
      return { verdict: full, entry: null };
    }
    const entry = full.entry;
    const timeProblem = this.timeCheck(entry, nowMs, "miss");
    if (timeProblem !== null) {
      // Past usableUntilMs the document can never become usable again: remember the rejection. A
      // document from the future or a certificate not yet valid may become usable: keep the entry.
      if (nowMs > entry.document.usableUntilMs) this.rememberRejection(digestHex, timeProblem, nowMs);
      else this.documents.set(digestHex, entry, entry.document.usableUntilMs + 1, nowMs);
      return { verdict: timeProblem, entry: null };
    }
    // Usable through usableUntilMs inclusive; the LRU's expiry is exclusive.
    this.documents.set(digestHex, entry, entry.document.usableUntilMs + 1, nowMs);
    return { verdict: missVerdict(entry), entry };
  }

  private rememberRejection(digestHex: string, verdict: AttestationRejected, nowMs: number): void {
    const asHit: AttestationRejected = Object.freeze({ ...verdict, cache: "hit" });
    this.rejections.set(digestHex, asHit, nowMs + this.policy.maxAttestationAgeMs, nowMs);
  }

  private verifyTimeIndependent(bytes: Uint8Array, digestHex: string): FullResult {
    const parsed = parseNitroDocument(bytes);
    if (parsed.kind !== "ok") return rejected("malformed", `malformed document: ${parsed.detail}`, "miss");
    const doc = parsed.document;
    const chain = this.verifyChainCached(doc);
    if (chain.kind !== "ok") return chain;
    const signed = coseSigStructure(doc.protectedHeader, doc.payload);
    let signatureOk = false;
    try {
      signatureOk = cryptoVerify("sha384", signed, { key: chain.leafPublicKey, dsaEncoding: "ieee-p1363" }, doc.signature);
    } catch {
      signatureOk = false; // OpenSSL errors on hostile input count as a bad signature
    }
    return this.completeDocument(doc, digestHex, chain, signatureOk);
  }

  /**
   * Same steps and verdicts as `verifyTimeIndependent`, with the certificate links and the COSE
   * signature checked at the same time on the thread pool. A chain fault is still reported before a
   * bad COSE signature, as in the synchronous order.
   */
  private async verifyTimeIndependentAsync(bytes: Uint8Array, digestHex: string): Promise<FullResult> {
    const parsed = parseNitroDocument(bytes);
    if (parsed.kind !== "ok") return rejected("malformed", `malformed document: ${parsed.detail}`, "miss");
    const doc = parsed.document;
    const chainKey = chainCacheKey(doc);
    const cachedChain = this.chains.get(chainKey, this.clock.nowMs());
    let chain: ChainCacheValue;
    let signatureOk: boolean;
    if (cachedChain !== undefined) {
      this.counters.chainCacheHits++;
      chain = cachedChain;
      if (chain.kind !== "ok") return chain;
      signatureOk = await verifyOffThread("sha384", coseSigStructure(doc.protectedHeader, doc.payload), { key: chain.leafPublicKey, dsaEncoding: "ieee-p1363" }, doc.signature);
    } else {
      this.counters.chainCacheMisses++;
      // The leaf key is known once the chain's other checks pass: the COSE check starts then,
      // alongside the certificate links.
      let cose: Promise<boolean> = Promise.resolve(false);
      const signed = coseSigStructure(doc.protectedHeader, doc.payload);
      const result = await verifyCertificateChainAsync(doc.cabundle, doc.certificate, this.trustedRoots, this.certificates, (key) => {
        cose = verifyOffThread("sha384", signed, { key, dsaEncoding: "ieee-p1363" }, doc.signature);
      });
      const coseOk = await cose;
      chain = this.rememberChain(chainKey, result, this.clock.nowMs());
      if (chain.kind !== "ok") return chain;
      signatureOk = coseOk;
    }
    return this.completeDocument(doc, digestHex, chain, signatureOk);
  }

  /** After the chain and the COSE signature: PCR policy, session keys, the cache entry. */
  private completeDocument(
    doc: NitroDocument,
    digestHex: string,
    chain: Extract<ChainResult, { kind: "ok" }>,
    signatureOk: boolean,
  ): FullResult {
    if (!signatureOk) return rejected("signature_invalid", "COSE signature invalid", "miss");

    const pcrProblem = checkPcrs(this.policy, doc.pcrs);
    if (pcrProblem !== null) {
      return pcrProblem.code === "debug_pcrs"
        ? rejected("debug_pcrs", "debug-mode PCRs rejected (all-zero PCR0..2; accepted only in dev mode)", "miss")
        : rejected("pcr_not_allowed", `pcr${pcrProblem.pcr ?? 0} not in allowlist`, "miss");
    }

    const sessionKeys = parseEnclaveSessionKeys(doc.publicKey);
    let sessionPublicKey: Uint8Array | null = null;
    if (sessionKeys !== null) {
      try {
        ed25519PublicKeyFromRaw(sessionKeys.sessionPublicKey); // throws when the bytes are not a key
        sessionPublicKey = sessionKeys.sessionPublicKey;
      } catch {
        sessionPublicKey = null;
      }
    }
    let certsExpireMs = Number.POSITIVE_INFINITY;
    for (const w of chain.windows) certsExpireMs = Math.min(certsExpireMs, w.notAfterMs);
    const usableUntilMs = Math.min(doc.timestampMs + this.policy.maxAttestationAgeMs, certsExpireMs);
    const document: VerifiedDocument = Object.freeze({
      digestHex,
      moduleId: doc.moduleId,
      timestampMs: doc.timestampMs,
      pcrs: Object.freeze(pcrsHex(doc)),
      publicKey: doc.publicKey,
      userData: doc.userData,
      nonce: doc.nonce,
      sessionKeys: sessionPublicKey === null ? null : sessionKeys,
      usableUntilMs,
    });
    const hitVerdict: AttestationVerdict = Object.freeze({ kind: "ok", document, cache: "hit" });
    return { kind: "ok", entry: { document, windows: chain.windows, sessionPublicKey, hitVerdict } };
  }

  private verifyChainCached(doc: NitroDocument): ChainCacheValue {
    const nowMs = this.clock.nowMs();
    const key = chainCacheKey(doc);
    const cached = this.chains.get(key, nowMs);
    if (cached !== undefined) {
      this.counters.chainCacheHits++;
      return cached;
    }
    this.counters.chainCacheMisses++;
    return this.rememberChain(key, verifyCertificateChain(doc.cabundle, doc.certificate, this.trustedRoots, this.certificates), nowMs);
  }

  private rememberChain(key: string, result: ChainResult, nowMs: number): ChainCacheValue {
    let value: ChainCacheValue;
    let expiresAtMs: number;
    if (result.kind === "ok") {
      value = result;
      expiresAtMs = Number.POSITIVE_INFINITY;
      for (const w of result.windows) expiresAtMs = Math.min(expiresAtMs, w.notAfterMs + 1);
    } else {
      value =
        result.code === "untrusted_root"
          ? rejected("untrusted_root", "certificate chain does not end at a trusted root", "miss")
          : result.code === "leaf_key_not_p384"
            ? rejected("leaf_key_not_p384", "leaf key is not P-384", "miss")
            : rejected("chain_invalid", `certificate chain invalid: ${result.detail}`, "miss");
      expiresAtMs = nowMs + this.policy.maxAttestationAgeMs;
    }
    this.chains.set(key, value, expiresAtMs, nowMs);
    return value;
  }

  private timeCheck(entry: CacheEntry, nowMs: number, cache: CacheOutcome): AttestationRejected | null {
    // Reasons quote the document's own timestamp, not "now", so a cached rejection stays accurate.
    const { timestampMs } = entry.document;
    if (nowMs - timestampMs > this.policy.maxAttestationAgeMs) {
      const stamp = new Date(timestampMs).toISOString();
      const max = seconds(this.policy.maxAttestationAgeMs);
      return rejected("document_too_old", `document too old (timestamp ${stamp}, max age ${max})`, cache);
    }
    if (timestampMs - nowMs > this.policy.maxClockSkewMs) {
      const stamp = new Date(timestampMs).toISOString();
      const max = seconds(this.policy.maxClockSkewMs);
      return rejected("document_from_future", `document from the future (timestamp ${stamp}, max skew ${max})`, cache);
    }
    const problem = certificateValidityAt(entry.windows, nowMs);
    if (problem !== null) {
      const label = certLabel(problem.index, entry.windows.length);
      const when = new Date(problem.boundaryMs).toISOString();
      const detail = problem.problem === "expired" ? `${label} expired at ${when}` : `${label} not valid before ${when}`;
      return rejected("certificate_not_valid", detail, cache);
    }
    return null;
  }
}

type Checked = { readonly verdict: AttestationVerdict; readonly entry: CacheEntry | null };

function missVerdict(entry: CacheEntry): AttestationVerdict {
  return Object.freeze({ kind: "ok", document: entry.document, cache: "miss" });
}

function assertBindingHash(binding: RequestBinding): void {
  if (!(binding.bindingHash instanceof Uint8Array) || binding.bindingHash.length !== BINDING_HASH_BYTES) {
    throw ccrError("binding hash must be 32 bytes", Code.InvalidArgument);
  }
}

/** SHA-256 over the length-prefixed certificates, root first: the chain cache's key. */
function chainCacheKey(doc: NitroDocument): string {
  const h = createHash("sha256");
  const len = Buffer.alloc(4);
  for (const der of [...doc.cabundle, doc.certificate]) {
    len.writeUInt32BE(der.length, 0);
    h.update(len).update(der);
  }
  return h.digest("hex");
}

function pcrsHex(doc: NitroDocument): Record<number, string> {
  const out: Record<number, string> = {};
  for (const [index, value] of doc.pcrs) out[index] = Buffer.from(value).toString("hex");
  return out;
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

export function createAttestationVerifier(options: AttestationVerifierOptions): AttestationVerifier {
  return new AttestationVerifier(options);
}
