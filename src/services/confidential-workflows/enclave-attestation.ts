/**
 * The enclave's attestation for relay requests and for `Info` (docs/attestation.md §4, docs/enclave.md).
 *
 * Binding mode (b), "session" (default): one document per session whose `public_key` carries the
 * session keys; each request adds the session key's signature over its binding hash. Nodes verify
 * the document once (their cache) and one ed25519 signature per request. The session document is
 * replaced every `refreshIntervalMs` — by the host's timer, and in any case before use once it is
 * that old — so it never ages out of the nodes' window (refresh ≤ half the window, options.ts).
 *
 * Binding mode (a), "user-data": a fresh document per request with `user_data` = the binding hash
 * (upstream's mode). `public_key` still carries the keys, so nodes can check that secrets go to the
 * attested encryption key.
 *
 * The producer is the seam: the dev producer here, an NSM backend in production (docs/enclave.md).
 */
import { create } from "@bufbuild/protobuf";
import { AttestationSchema, type Attestation } from "../../contract/index.js";
import type { AttestationProducer } from "../../domain/attestation/index.js";
import type { Clock } from "../../domain/clock.js";
import type { EnclaveKeys } from "./enclave-keys.js";
import type { BindingMode } from "./options.js";

export type DocumentPurpose = "session" | "per_request" | "info";

export interface EnclaveAttestationOptions {
  readonly producer: AttestationProducer;
  readonly keys: EnclaveKeys;
  readonly clock: Clock;
  readonly mode: BindingMode;
  readonly refreshIntervalMs: number;
  /** Called for every document produced (metrics). */
  readonly onDocument?: (purpose: DocumentPurpose) => void;
}

interface SessionDocument {
  readonly document: Uint8Array;
  readonly producedAtMs: number;
}

export class EnclaveAttestation {
  private session: SessionDocument | undefined;
  private pending: Promise<SessionDocument> | undefined;
  private readonly producer: AttestationProducer;
  private readonly keys: EnclaveKeys;
  private readonly clock: Clock;
  private readonly refreshIntervalMs: number;
  private readonly onDocument: (purpose: DocumentPurpose) => void;
  readonly mode: BindingMode;
  /** Documents produced, by purpose. */
  readonly produced: Record<DocumentPurpose, number> = { session: 0, per_request: 0, info: 0 };

  constructor(options: EnclaveAttestationOptions) {
    this.producer = options.producer;
    this.keys = options.keys;
    this.clock = options.clock;
    this.mode = options.mode;
    this.refreshIntervalMs = options.refreshIntervalMs;
    this.onDocument = options.onDocument ?? (() => undefined);
  }

  private count(purpose: DocumentPurpose): void {
    this.produced[purpose]++;
    this.onDocument(purpose);
  }

  /** Makes a new session document now (the refresh timer calls this; concurrent calls share one). */
  refresh(): Promise<SessionDocument> {
    if (this.pending !== undefined) return this.pending;
    const pending: Promise<SessionDocument> = this.produceSession().finally(() => {
      if (this.pending === pending) this.pending = undefined;
    });
    this.pending = pending;
    return pending;
  }

  private async produceSession(): Promise<SessionDocument> {
    const producedAtMs = this.clock.nowMs();
    const document = await this.producer.attest({ publicKey: this.keys.attestedKeyBlock });
    this.count("session");
    this.session = { document, producedAtMs };
    return this.session;
  }

  /** The current session document, renewed first if it is due. */
  async sessionDocument(): Promise<Uint8Array> {
    const s = this.session;
    if (s !== undefined && this.clock.nowMs() - s.producedAtMs < this.refreshIntervalMs) return s.document;
    return (await this.refresh()).document;
  }

  /** The `attestation` field of a relay request whose binding hash is `bindingHash`. */
  async forRequest(bindingHash: Uint8Array): Promise<Attestation> {
    if (this.mode === "session") {
      return create(AttestationSchema, { document: await this.sessionDocument(), sessionSignature: this.keys.signBinding(bindingHash) });
    }
    const document = await this.producer.attest({ publicKey: this.keys.attestedKeyBlock, userData: bindingHash });
    this.count("per_request");
    return create(AttestationSchema, { document });
  }

  /** A fresh document for `Info`, with the caller's nonce (or the producer's random one). */
  async forInfo(nonce: Uint8Array | undefined): Promise<Uint8Array> {
    const document = await this.producer.attest({ publicKey: this.keys.attestedKeyBlock, ...(nonce === undefined ? {} : { nonce }) });
    this.count("info");
    return document;
  }
}
