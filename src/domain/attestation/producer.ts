/**
 * Where an enclave gets its attestation documents (issue 6, "Attestation producer").
 *
 * `AttestationProducer` is the seam: in production an NSM backend implements it by sending
 * `Request::Attestation { public_key, user_data, nonce }` to the Nitro Secure Module (`/dev/nsm`,
 * via the aws-nitro-enclaves-nsm-api ioctl) and returning the COSE_Sign1 bytes the NSM signs with
 * AWS's keys; the NSM sets module_id, timestamp and PCRs itself. No /dev/nsm exists here, so
 * development uses `DevAttestationProducer`: the same document format, signed by a leaf of the dev
 * authority (dev-authority.ts), accepted only by a dev-mode policy.
 */
import { X509Certificate, createPublicKey, sign, type KeyObject } from "node:crypto";
import type { Clock, RandomBytes } from "../clock.js";
import { Code, ccrError } from "../errors.js";
import { encodeCbor, type CborEncodable } from "./cbor.js";
import { COSE_ALG_ES384, NITRO_LIMITS, coseSigStructure } from "./nitro-document.js";
import { DEFAULT_DEV_LEAF_VALIDITY_MS, issueDevLeaf, type DevCertificateAuthority } from "./dev-authority.js";

/** What the caller asks the NSM to embed; `undefined` = producer default, `null` = absent. */
export interface AttestationRequest {
  readonly publicKey?: Uint8Array | null;
  readonly userData?: Uint8Array | null;
  readonly nonce?: Uint8Array | null;
}

/** PCR0 (image), PCR1 (kernel + bootstrap), PCR2 (application): 48-byte SHA-384 values. */
export interface EnclaveMeasurements {
  readonly pcr0: Uint8Array;
  readonly pcr1: Uint8Array;
  readonly pcr2: Uint8Array;
}

export interface AttestationProducer {
  /** "dev" signs with the dev authority; "nsm" is the Nitro Secure Module. */
  readonly kind: "dev" | "nsm";
  readonly moduleId: string;
  /** The PCR0..2 this producer's documents carry (for `Info` and allowlists). */
  measurements(): EnclaveMeasurements;
  /** A fresh COSE_Sign1 attestation document. */
  attest(request: AttestationRequest): Promise<Uint8Array>;
}

interface DevSigner {
  readonly cabundle: readonly Uint8Array[];
  readonly certificateDer: Uint8Array;
  readonly privateKey: KeyObject;
  readonly notAfterMs: number;
}

interface DevCommonOptions {
  /** e.g. "i-0123456789abcdef0-enc0123456789abcdef"; 1–256 bytes. */
  readonly moduleId: string;
  readonly measurements: EnclaveMeasurements;
  readonly clock: Clock;
  readonly randomBytes: RandomBytes;
}

export interface DevProducerFromAuthorityOptions extends DevCommonOptions {
  readonly authority: DevCertificateAuthority;
  /** CA certificates between the authority and the leaf, root first (usually none). */
  readonly intermediates?: readonly DevCertificateAuthority[];
  readonly leafValidityMs?: number;
  /** Renew the leaf when less than this is left. Default 1 h. */
  readonly leafRenewBeforeMs?: number;
}

export interface DevProducerFromLeafOptions extends DevCommonOptions {
  /** CA certificates (DER), root first. */
  readonly cabundle: readonly Uint8Array[];
  readonly certificateDer: Uint8Array;
  /** The leaf's P-384 private key. */
  readonly privateKey: KeyObject;
}

const PROTECTED_HEADER = encodeCbor({ mapEntries: [[1, COSE_ALG_ES384]] });
const PCR_COUNT = 16;
const DEFAULT_NONCE_BYTES = 32;

export class DevAttestationProducer implements AttestationProducer {
  readonly kind = "dev" as const;
  readonly moduleId: string;
  private readonly pcrs: EnclaveMeasurements;
  private readonly clock: Clock;
  private readonly randomBytes: RandomBytes;
  private signer: DevSigner;
  private readonly renew: (() => DevSigner) | null;
  private readonly renewBeforeMs: number;

  private constructor(options: DevCommonOptions, signer: DevSigner, renew: (() => DevSigner) | null, renewBeforeMs: number) {
    const moduleIdBytes = Buffer.byteLength(options.moduleId, "utf8");
    if (moduleIdBytes === 0 || moduleIdBytes > NITRO_LIMITS.maxModuleIdBytes) {
      throw ccrError(`moduleId must be 1–${NITRO_LIMITS.maxModuleIdBytes} bytes`, Code.InvalidArgument);
    }
    for (const k of ["pcr0", "pcr1", "pcr2"] as const) {
      if (options.measurements[k].length !== 48) throw ccrError(`${k} must be 48 bytes (SHA-384)`, Code.InvalidArgument);
    }
    const key = signer.privateKey;
    if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "secp384r1") {
      throw ccrError("the dev attestation leaf key must be P-384", Code.InvalidArgument);
    }
    this.moduleId = options.moduleId;
    this.pcrs = Object.freeze({
      pcr0: options.measurements.pcr0.slice(),
      pcr1: options.measurements.pcr1.slice(),
      pcr2: options.measurements.pcr2.slice(),
    });
    this.clock = options.clock;
    this.randomBytes = options.randomBytes;
    this.signer = signer;
    this.renew = renew;
    this.renewBeforeMs = renewBeforeMs;
  }

  /** Issues its own leaf from the authority, and a new one when the current one nears expiry. */
  static fromAuthority(options: DevProducerFromAuthorityOptions): DevAttestationProducer {
    const intermediates = options.intermediates ?? [];
    const issuer = intermediates.at(-1) ?? options.authority;
    const cabundle = [options.authority.certificateDer, ...intermediates.map((i) => i.certificateDer)];
    const issue = (): DevSigner => {
      const leaf = issueDevLeaf(issuer, {
        nowMs: options.clock.nowMs(),
        randomBytes: options.randomBytes,
        commonName: options.moduleId.slice(0, 64),
        validityMs: options.leafValidityMs ?? DEFAULT_DEV_LEAF_VALIDITY_MS,
      });
      return { cabundle, certificateDer: leaf.certificateDer, privateKey: leaf.privateKey as KeyObject, notAfterMs: leaf.notAfterMs };
    };
    // Never renew earlier than half-way through a leaf's life, or short leaves would renew on every call.
    const validityMs = options.leafValidityMs ?? DEFAULT_DEV_LEAF_VALIDITY_MS;
    const renewBeforeMs = Math.min(options.leafRenewBeforeMs ?? 60 * 60 * 1000, Math.floor(validityMs / 2));
    return new DevAttestationProducer(options, issue(), issue, renewBeforeMs);
  }

  /** Signs with a fixed leaf (e.g. files written by `ccr init`). */
  static fromLeaf(options: DevProducerFromLeafOptions): DevAttestationProducer {
    if (options.cabundle.length === 0) throw ccrError("cabundle must contain the root", Code.InvalidArgument);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(options.certificateDer);
    } catch (e) {
      throw ccrError("the leaf certificate is not valid DER", Code.InvalidArgument, e);
    }
    if (!cert.checkPrivateKey(options.privateKey)) {
      throw ccrError("the leaf private key does not match the leaf certificate", Code.InvalidArgument);
    }
    const signer: DevSigner = {
      cabundle: options.cabundle.map((c) => c.slice()),
      certificateDer: options.certificateDer.slice(),
      privateKey: options.privateKey,
      notAfterMs: Number.POSITIVE_INFINITY,
    };
    return new DevAttestationProducer(options, signer, null, 0);
  }

  measurements(): EnclaveMeasurements {
    return this.pcrs;
  }

  /** The leaf's public key (P-384), e.g. to show in `Info`. */
  leafPublicKey(): KeyObject {
    return createPublicKey(this.signer.privateKey);
  }

  attest(request: AttestationRequest): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.attestSync(request));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Synchronous form (the dev signer does no I/O). */
  attestSync(request: AttestationRequest): Uint8Array {
    const nowMs = this.clock.nowMs();
    if (this.renew !== null && nowMs >= this.signer.notAfterMs - this.renewBeforeMs) this.signer = this.renew();
    const nonce = request.nonce === undefined ? this.randomBytes(DEFAULT_NONCE_BYTES) : request.nonce;
    const optional = (v: Uint8Array | null | undefined, what: string): Uint8Array | null => {
      if (v === undefined || v === null) return null;
      if (v.length > NITRO_LIMITS.maxOptionalFieldBytes) {
        throw ccrError(`${what} must be at most ${NITRO_LIMITS.maxOptionalFieldBytes} bytes`, Code.InvalidArgument);
      }
      return v;
    };
    const zero = new Uint8Array(48);
    const pcrs: (readonly [number, CborEncodable])[] = [];
    for (let i = 0; i < PCR_COUNT; i++) {
      pcrs.push([i, i === 0 ? this.pcrs.pcr0 : i === 1 ? this.pcrs.pcr1 : i === 2 ? this.pcrs.pcr2 : zero]);
    }
    // Field order as the NSM emits it (see the real vectors).
    const payload = encodeCbor({
      mapEntries: [
        ["module_id", this.moduleId],
        ["digest", "SHA384"],
        ["timestamp", nowMs],
        ["pcrs", { mapEntries: pcrs }],
        ["certificate", this.signer.certificateDer],
        ["cabundle", this.signer.cabundle],
        ["public_key", optional(request.publicKey, "public_key")],
        ["user_data", optional(request.userData, "user_data")],
        ["nonce", optional(nonce, "nonce")],
      ],
    });
    const signature = sign("sha384", coseSigStructure(PROTECTED_HEADER, payload), {
      key: this.signer.privateKey,
      dsaEncoding: "ieee-p1363",
    });
    // Untagged, as the NSM returns it.
    return encodeCbor([PROTECTED_HEADER, { mapEntries: [] }, payload, new Uint8Array(signature)]);
  }
}
