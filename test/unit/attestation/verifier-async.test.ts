/**
 * The off-event-loop verifier path (`verifyDocumentAsync`, `checkRequestAsync`): same verdicts as the
 * synchronous path on every positive and negative document, one shared verification for concurrent
 * requests on a new document, and certificate signatures checked over the exact signed bytes.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import {
  DEFAULT_MAX_ATTESTATION_AGE_MS,
  createAttestationPolicy,
  createAttestationVerifier,
  encodeEnclaveSessionKeys,
  issueDevIntermediate,
  issueDevLeaf,
  signSessionBinding,
  type AttestationPolicy,
  type AttestationVerdict,
} from "../../../src/domain/attestation/index.js";
import { parseCertificateSignature } from "../../../src/domain/attestation/certificate-signature.js";
import { parseNitroDocument } from "../../../src/domain/attestation/nitro-document.js";
import {
  EXAMPLE_TIMESTAMP_MS,
  HOUR,
  INVALID_TIMESTAMP_MS,
  PCR0,
  PCR1,
  PCR2,
  T0,
  buildDocument,
  defaultPcrs,
  hex,
  makePki,
  readVector,
  seededRandom,
  type DocSpec,
  type TestPki,
} from "./fixtures.js";

const pki = makePki("verifier-async");
const ALLOWED = { pcr0: hex(PCR0), pcr1: hex(PCR1), pcr2: hex(PCR2) };
const devPolicy = createAttestationPolicy({ allowedPcrSets: [ALLOWED], devMode: true, devRoots: [pki.root.certificateDer] });
const doc = (spec: Partial<DocSpec> = {}, at: TestPki = pki): Uint8Array => buildDocument({ pki: at, timestampMs: T0 + 1000, ...spec });
const binding = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

/** A copy of `der` with the last occurrence of `find` replaced by `replace` (same length). */
function patchLast(der: Uint8Array, find: string, replace: string): Uint8Array {
  const h = Buffer.from(der).toString("hex");
  const at = h.lastIndexOf(find);
  if (at < 0 || at % 2 !== 0) throw new Error("pattern not found");
  return new Uint8Array(Buffer.from(h.slice(0, at) + replace + h.slice(at + find.length), "hex"));
}

const ECDSA_SHA384 = "300a06082a8648ce3d040303";
const ECDSA_SHA256 = "300a06082a8648ce3d040302";

/** The intermediate with one bit of its signature flipped: names and structure intact. */
function badSignatureChain(): TestPki {
  const der = pki.intermediate.certificateDer.slice();
  der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
  return { ...pki, cabundle: [pki.root.certificateDer, der] };
}

interface Case {
  readonly name: string;
  readonly document: Uint8Array;
  readonly atMs: number;
  readonly policy: AttestationPolicy;
}

function cases(): Case[] {
  const at = T0 + 1000;
  const stranger = makePki("verifier-async-stranger");
  const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const p256Leaf = issueDevLeaf(pki.intermediate, { nowMs: T0, randomBytes: seededRandom("p256"), commonName: "p256", publicKey: p256.publicKey });
  const random = seededRandom("short-mid");
  const mid = issueDevIntermediate(pki.root, { nowMs: T0 - HOUR, randomBytes: random, commonName: "short", validityMs: 2 * HOUR });
  const midLeaf = issueDevLeaf(mid, { nowMs: T0 - HOUR, randomBytes: random, commonName: "leaf", validityMs: 10 * HOUR });
  const midChain: TestPki = { ...pki, cabundle: [pki.root.certificateDer, mid.certificateDer], leaf: midLeaf, leafKey: midLeaf.privateKey! };
  const zero = new Map(defaultPcrs());
  for (const i of [0, 1, 2]) zero.set(i, new Uint8Array(48));
  const strict = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true, devRoots: [pki.root.certificateDer], acceptDebugPcrs: false });
  const examplePolicy = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true });
  const production = createAttestationPolicy({ allowedPcrSets: "unchecked" });
  const algMismatch = patchLast(pki.intermediate.certificateDer, ECDSA_SHA384, ECDSA_SHA256);
  const bothSha256 = patchLast(algMismatch, ECDSA_SHA384, ECDSA_SHA256);
  // The leaf with its EC point's format byte changed (04, uncompressed, to 05): not a certificate.
  const leafHex = Buffer.from(pki.leaf.certificateDer).toString("hex");
  const pointAt = leafHex.indexOf("0362000004") + 8;
  const badPointLeaf = new Uint8Array(Buffer.from(leafHex.slice(0, pointAt) + "05" + leafHex.slice(pointAt + 2), "hex"));
  return [
    { name: "valid", document: doc({ userData: binding(1) }), atMs: at, policy: devPolicy },
    {
      name: "leaf key not a curve point",
      document: doc({}, { ...pki, leaf: { ...pki.leaf, certificateDer: badPointLeaf } }),
      atMs: at,
      policy: devPolicy,
    },
    { name: "COSE tag 18", document: doc({ tag: 18 }), atMs: at, policy: devPolicy },
    { name: "tampered signature", document: doc({ mapSignature: (s) => s.map((b, i) => (i === 40 ? b ^ 1 : b)) }), atMs: at, policy: devPolicy },
    { name: "untrusted root", document: doc({}, stranger), atMs: at, policy: devPolicy },
    { name: "leaf from another CA", document: doc({}, { ...pki, leaf: stranger.leaf, leafKey: stranger.leafKey }), atMs: at, policy: devPolicy },
    { name: "intermediate signature invalid", document: doc({}, badSignatureChain()), atMs: at, policy: devPolicy },
    {
      name: "outer signature algorithm differs from TBSCertificate's",
      document: doc({}, { ...pki, cabundle: [pki.root.certificateDer, algMismatch] }),
      atMs: at,
      policy: devPolicy,
    },
    {
      name: "signature checked with the wrong hash",
      document: doc({}, { ...pki, cabundle: [pki.root.certificateDer, bothSha256] }),
      atMs: at,
      policy: devPolicy,
    },
    {
      name: "non-P-384 leaf",
      document: doc(
        {
          signer: pki.leafKey,
          mapSignature: () => new Uint8Array([...sign("sha384", Buffer.from("x"), { key: p256.privateKey, dsaEncoding: "ieee-p1363" }), ...new Uint8Array(32)]),
        },
        { ...pki, leaf: p256Leaf },
      ),
      atMs: at,
      policy: devPolicy,
    },
    { name: "leaf expired", document: doc({ timestampMs: pki.leaf.notAfterMs - 60_000 }), atMs: pki.leaf.notAfterMs + 60_000, policy: devPolicy },
    { name: "intermediate expired", document: doc({ timestampMs: mid.notAfterMs - 1000 }, midChain), atMs: mid.notAfterMs + 1000, policy: devPolicy },
    { name: "leaf not yet valid", document: doc({ timestampMs: T0 - 10_000 }), atMs: T0 - 10_000, policy: devPolicy },
    { name: "stale", document: doc(), atMs: at + DEFAULT_MAX_ATTESTATION_AGE_MS + 1, policy: devPolicy },
    { name: "from the future", document: doc({ timestampMs: at + 10 * 60_000 }), atMs: at, policy: devPolicy },
    { name: "debug PCRs", document: doc({ pcrs: zero }), atMs: at, policy: strict },
    { name: "PCR not allowed", document: doc({ pcrs: new Map([...defaultPcrs(), [1, new Uint8Array(48).fill(5)]]) }), atMs: at, policy: devPolicy },
    { name: "oversized field", document: doc({ userData: new Uint8Array(1025) }), atMs: at, policy: devPolicy },
    { name: "indefinite length", document: new Uint8Array([0x5f, 0x41, 0x00, 0xff]), atMs: at, policy: devPolicy },
    { name: "real AWS document, dev policy", document: readVector("example_attestation.b64"), atMs: EXAMPLE_TIMESTAMP_MS, policy: examplePolicy },
    { name: "real AWS document, production policy", document: readVector("example_attestation.b64"), atMs: EXAMPLE_TIMESTAMP_MS, policy: production },
    { name: "real invalid AWS document", document: readVector("invalid_attestation.b64"), atMs: INVALID_TIMESTAMP_MS, policy: examplePolicy },
  ];
}

const summary = (v: AttestationVerdict) => (v.kind === "ok" ? { kind: v.kind, cache: v.cache, digest: v.document.digestHex } : v);

describe("verifyDocumentAsync gives the synchronous verdict", () => {
  it.each(cases())("$name", async ({ document, atMs, policy }) => {
    const sync = createAttestationVerifier({ policy, clock: new ManualClock(atMs) });
    const async = createAttestationVerifier({ policy, clock: new ManualClock(atMs) });
    const expected = sync.verifyDocument(document);
    expect(summary(await async.verifyDocumentAsync(document))).toEqual(summary(expected));
    // And again, from the caches both filled.
    expect(summary(await async.verifyDocumentAsync(document))).toEqual(summary(sync.verifyDocument(document)));
    expect(async.stats()).toEqual(sync.stats());
  });

  it("rejects a certificate whose key does not decode, instead of throwing (a document the issue 9 fuzzer made)", async () => {
    // Its leaf parses as X.509, but reading the key throws OpenSSL's "decode error".
    const hexText = readFileSync(fileURLToPath(new URL("./fuzz-leaf-key-undecodable.hex", import.meta.url)), "utf8").trim();
    const document = new Uint8Array(Buffer.from(hexText, "hex"));
    const parsed = parseNitroDocument(document);
    if (parsed.kind !== "ok") throw new Error("fixture did not parse");
    const policy = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true, devRoots: [parsed.document.cabundle[0]!] });
    const expected = {
      code: "chain_invalid",
      reason: "attestation: certificate chain invalid: certificate 2 of 2 (leaf) is not a valid X.509 certificate",
    };
    const at = () => new ManualClock(parsed.document.timestampMs);
    expect(createAttestationVerifier({ policy, clock: at() }).verifyDocument(document)).toMatchObject(expected);
    expect(await createAttestationVerifier({ policy, clock: at() }).verifyDocumentAsync(document)).toMatchObject(expected);
  });

  it("names the bad links the way the synchronous check does", async () => {
    const verifier = createAttestationVerifier({ policy: devPolicy, clock: new ManualClock(T0 + 1000) });
    expect(await verifier.verifyDocumentAsync(doc({}, badSignatureChain()))).toMatchObject({
      code: "chain_invalid",
      reason: "attestation: certificate chain invalid: certificate 2 of 3 is not issued by certificate 1 of 3 (root)",
    });
    const mismatch = doc({}, { ...pki, cabundle: [pki.root.certificateDer, patchLast(pki.intermediate.certificateDer, ECDSA_SHA384, ECDSA_SHA256)] });
    expect(await verifier.verifyDocumentAsync(mismatch)).toMatchObject({
      code: "chain_invalid",
      reason: "attestation: certificate chain invalid: certificate 2 of 3: signature algorithm differs from the one in TBSCertificate",
    });
  });
});

describe("verifyDocumentAsync on a new document", () => {
  it("shares one verification among concurrent requests", async () => {
    const verifier = createAttestationVerifier({ policy: devPolicy, clock: new ManualClock(T0 + 1000) });
    const document = doc({ userData: binding(9) });
    const verdicts = await Promise.all(Array.from({ length: 8 }, () => verifier.verifyDocumentAsync(document)));
    expect(verdicts.every((v) => v.kind === "ok")).toBe(true);
    expect(verifier.stats()).toMatchObject({ chainCacheMisses: 1, certificateLinksVerified: 2, documentCacheSize: 1 });
    expect((await verifier.verifyDocumentAsync(document)).kind === "ok" && verifier.stats().documentCacheHits).toBe(1);
  });

  it("shares a rejection the same way, and caches it", async () => {
    const verifier = createAttestationVerifier({ policy: devPolicy, clock: new ManualClock(T0 + 1000) });
    const document = doc({}, badSignatureChain());
    const verdicts = await Promise.all(Array.from({ length: 4 }, () => verifier.verifyDocumentAsync(document)));
    expect(new Set(verdicts.map((v) => v.kind === "rejected" && v.code))).toEqual(new Set(["chain_invalid"]));
    expect(verifier.stats().chainCacheMisses).toBe(1);
    expect(await verifier.verifyDocumentAsync(document)).toMatchObject({ code: "chain_invalid", cache: "hit" });
  });
});

describe("checkRequestAsync", () => {
  it("checks both binding modes and replays as checkRequest does", async () => {
    const clock = new ManualClock(T0 + 1000);
    const verifier = createAttestationVerifier({ policy: devPolicy, clock });
    const now = clock.nowMs();
    const modeA = doc({ userData: binding(1) });
    expect((await verifier.checkRequestAsync(modeA, { mode: "user_data", bindingHash: binding(1), requestTimestampMs: now })).kind).toBe("ok");
    expect(await verifier.checkRequestAsync(modeA, { mode: "user_data", bindingHash: binding(1), requestTimestampMs: now })).toMatchObject({
      code: "replayed_request",
    });
    expect(await verifier.checkRequestAsync(modeA, { mode: "user_data", bindingHash: binding(2), requestTimestampMs: now })).toMatchObject({
      code: "binding_mismatch",
    });

    const session = generateKeyPairSync("ed25519");
    const raw = new Uint8Array(session.publicKey.export({ format: "der", type: "spki" }).subarray(12));
    const modeB = doc({ publicKey: encodeEnclaveSessionKeys({ sessionPublicKey: raw, encryptionPublicKey: new Uint8Array(32) }) });
    const request = (fill: number, signedFill = fill) => ({
      mode: "session_signature" as const,
      bindingHash: binding(fill),
      requestTimestampMs: now,
      sessionSignature: signSessionBinding(session.privateKey, binding(signedFill)),
    });
    expect((await verifier.checkRequestAsync(modeB, request(3))).kind).toBe("ok");
    expect(await verifier.checkRequestAsync(modeB, request(4, 5))).toMatchObject({ code: "session_signature_invalid" });
    await expect(verifier.checkRequestAsync(modeB, { ...request(6), bindingHash: new Uint8Array(31) })).rejects.toThrow(/32 bytes/);
  });
});

describe("parseCertificateSignature", () => {
  const real = parseNitroDocument(readVector("example_attestation.b64"));
  if (real.kind !== "ok") throw new Error("vector did not parse");
  const ders = [...real.document.cabundle, real.document.certificate];

  it("reads every certificate of the real AWS chain as ECDSA with SHA-384 over its TBSCertificate", () => {
    for (const der of ders) {
      const parsed = parseCertificateSignature(der);
      expect(parsed.kind).toBe("ok");
      if (parsed.kind !== "ok") continue;
      expect(parsed.value.hash).toBe("sha384");
      expect(parsed.value.tbs[0]).toBe(0x30);
      expect(parsed.value.signature[0]).toBe(0x30); // DER ECDSA-Sig-Value
      expect(parsed.value.tbs.length + parsed.value.signature.length).toBeLessThan(der.length);
    }
  });

  it("refuses truncated or extended DER, other algorithms, and malformed BIT STRINGs", () => {
    const der = ders[1]!;
    expect(parseCertificateSignature(der.subarray(0, der.length - 1))).toEqual({ kind: "rejected", detail: "malformed DER" });
    expect(parseCertificateSignature(new Uint8Array([...der, 0]))).toMatchObject({ kind: "rejected", detail: "not one DER SEQUENCE" });
    const rsa = patchLast(patchLast(der, ECDSA_SHA384, "300a06082a864886f70d010b"), ECDSA_SHA384, "300a06082a864886f70d010b");
    expect(parseCertificateSignature(rsa)).toMatchObject({ detail: "signature algorithm is not ECDSA with SHA-256/384/512" });
    const h = Buffer.from(der).toString("hex");
    const bitStringAt = h.lastIndexOf(ECDSA_SHA384) + ECDSA_SHA384.length;
    const unusedBits = h.slice(0, bitStringAt + 4) + "01" + h.slice(bitStringAt + 6);
    expect(parseCertificateSignature(new Uint8Array(Buffer.from(unusedBits, "hex")))).toMatchObject({ detail: "signature BIT STRING is malformed" });
    expect(parseCertificateSignature(new Uint8Array([0x30, 0x80, 0, 0]))).toMatchObject({ kind: "rejected" });
  });
});
