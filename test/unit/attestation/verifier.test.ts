import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import {
  DEFAULT_MAX_ATTESTATION_AGE_MS,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  createAttestationPolicy,
  createAttestationVerifier,
  encodeEnclaveSessionKeys,
  issueDevIntermediate,
  issueDevLeaf,
  signSessionBinding,
  type AttestationPolicyOptions,
  type AttestationVerdict,
  type DevCertificateAuthority,
} from "../../../src/domain/attestation/index.js";
import { certificateSubjectName } from "../../../src/domain/attestation/der.js";
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

const pki = makePki("verifier");
const ALLOWED = { pcr0: hex(PCR0), pcr1: hex(PCR1), pcr2: hex(PCR2) };
const MAX_AGE = DEFAULT_MAX_ATTESTATION_AGE_MS;
const SKEW = DEFAULT_MAX_CLOCK_SKEW_MS;

function devPolicy(extra: Partial<AttestationPolicyOptions> = {}) {
  return createAttestationPolicy({
    allowedPcrSets: [ALLOWED],
    devMode: true,
    devRoots: [pki.root.certificateDer],
    ...extra,
  });
}

function setup(options: { policy?: ReturnType<typeof devPolicy>; nowMs?: number; replayCacheSize?: number } = {}) {
  const clock = new ManualClock(options.nowMs ?? T0 + 1000);
  const verifier = createAttestationVerifier({
    policy: options.policy ?? devPolicy(),
    clock,
    ...(options.replayCacheSize === undefined ? {} : { replayCacheSize: options.replayCacheSize }),
  });
  return { clock, verifier };
}

function doc(spec: Partial<DocSpec> = {}, at: TestPki = pki): Uint8Array {
  return buildDocument({ pki: at, timestampMs: T0 + 1000, ...spec });
}

function reasonOf(v: AttestationVerdict): string | null {
  return v.kind === "ok" ? null : v.reason;
}

const binding = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

describe("real AWS Nitro vectors, verified as of their timestamp", () => {
  const example = readVector("example_attestation.b64");
  const invalid = readVector("invalid_attestation.b64");
  const at = (ms: number) => new ManualClock(ms);

  it("accepts example_attestation cryptographically in dev mode (debug PCRs allowed, Root-G1 chain)", () => {
    const policy = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true });
    const v = createAttestationVerifier({ policy, clock: at(EXAMPLE_TIMESTAMP_MS) }).verifyDocument(example);
    expect(v.kind).toBe("ok");
    if (v.kind !== "ok") return;
    expect(v.document.moduleId).toBe("i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a");
    expect(v.document.pcrs[0]).toBe("00".repeat(48));
    expect(v.document.sessionKeys).toBeNull();
    // The leaf lives until 22:49:12 that day, later than the 5-minute freshness limit.
    expect(v.document.usableUntilMs).toBe(EXAMPLE_TIMESTAMP_MS + MAX_AGE);
  });

  it("rejects example_attestation under the production policy: debug PCRs", () => {
    const policy = createAttestationPolicy({ allowedPcrSets: "unchecked" });
    const v = createAttestationVerifier({ policy, clock: at(EXAMPLE_TIMESTAMP_MS) }).verifyDocument(example);
    expect(v).toMatchObject({ kind: "rejected", code: "debug_pcrs" });
    expect(reasonOf(v)).toMatch(/^attestation: debug-mode PCRs rejected/);
  });

  it("rejects example_attestation today: too old (and its leaf expired in 2024)", () => {
    const policy = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true });
    const v = createAttestationVerifier({ policy, clock: at(Date.parse("2026-11-21T00:00:00Z")) }).verifyDocument(example);
    expect(reasonOf(v)).toBe("attestation: document too old (timestamp 2024-09-09T19:49:12.400Z, max age 300 s)");
  });

  it("applies the allowlist to the real document's PCRs", () => {
    const zero = "00".repeat(48);
    const ok = createAttestationPolicy({ allowedPcrSets: [{ pcr0: zero, pcr1: zero, pcr2: zero }], devMode: true });
    expect(createAttestationVerifier({ policy: ok, clock: at(EXAMPLE_TIMESTAMP_MS) }).verifyDocument(example).kind).toBe("ok");
    const other = createAttestationPolicy({ allowedPcrSets: [ALLOWED], devMode: true });
    const v = createAttestationVerifier({ policy: other, clock: at(EXAMPLE_TIMESTAMP_MS) }).verifyDocument(example);
    expect(reasonOf(v)).toBe("attestation: pcr0 not in allowlist");
  });

  it("rejects invalid_attestation: COSE signature invalid", () => {
    for (const devMode of [false, true]) {
      const policy = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode });
      const v = createAttestationVerifier({ policy, clock: at(INVALID_TIMESTAMP_MS) }).verifyDocument(invalid);
      expect(v).toMatchObject({ kind: "rejected", code: "signature_invalid", reason: "attestation: COSE signature invalid" });
    }
  });
});

describe("generated documents: authenticity", () => {
  it("accepts a document from the trusted dev PKI", () => {
    const { verifier } = setup();
    const v = verifier.verifyDocument(doc({ userData: binding(1) }));
    expect(v.kind).toBe("ok");
    if (v.kind !== "ok") return;
    expect(v.cache).toBe("miss");
    expect(v.document.timestampMs).toBe(T0 + 1000);
    expect(v.document.pcrs[1]).toBe(hex(PCR1));
    expect(v.document.digestHex).toMatch(/^[0-9a-f]{64}$/);
  });

  it("accepts the same document wrapped in COSE_Sign1 tag 18", () => {
    expect(setup().verifier.verifyDocument(doc({ tag: 18 })).kind).toBe("ok");
  });

  it("rejects a tampered payload", () => {
    const { verifier } = setup();
    const tampered = doc({
      mapPayload: (p) => {
        const out = p.slice();
        const at = Buffer.from(out).indexOf("i-0123456789abcdef0");
        out[at + 2] = "9".charCodeAt(0); // still valid CBOR text, different module id
        return out;
      },
    });
    expect(verifier.verifyDocument(tampered)).toMatchObject({ code: "signature_invalid", reason: "attestation: COSE signature invalid" });
  });

  it("rejects a tampered signature", () => {
    const { verifier } = setup();
    const tampered = doc({
      mapSignature: (s) => {
        const out = s.slice();
        out[40] = (out[40] as number) ^ 0x01;
        return out;
      },
    });
    expect(verifier.verifyDocument(tampered)).toMatchObject({ code: "signature_invalid" });
  });

  it("rejects a chain to an untrusted root, and the dev root itself outside dev mode", () => {
    const stranger = makePki("stranger");
    expect(setup().verifier.verifyDocument(doc({}, stranger))).toMatchObject({
      code: "untrusted_root",
      reason: "attestation: certificate chain does not end at a trusted root",
    });
    const production = createAttestationPolicy({ allowedPcrSets: [ALLOWED] });
    expect(setup({ policy: production }).verifier.verifyDocument(doc())).toMatchObject({ code: "untrusted_root" });
  });

  it("rejects a leaf from another CA presented with the trusted root's bundle", () => {
    const stranger = makePki("stranger-2");
    const mixed: TestPki = { ...pki, leaf: stranger.leaf, leafKey: stranger.leafKey };
    expect(reasonOf(setup().verifier.verifyDocument(doc({}, mixed)))).toBe(
      "attestation: certificate chain invalid: certificate 3 of 3 (leaf) is not issued by certificate 2 of 3",
    );
  });

  it("rejects a chain whose intermediate is not a CA", () => {
    const random = seededRandom("not-ca");
    const notCa = issueDevLeaf(pki.root, { nowMs: T0 - HOUR, randomBytes: random, commonName: "not a ca", validityMs: 10 * HOUR });
    const fakeIssuer: DevCertificateAuthority = {
      ...pki.intermediate,
      commonName: "not a ca",
      certificateDer: notCa.certificateDer,
      subjectNameDer: certificateSubjectName(notCa.certificateDer),
      privateKey: notCa.privateKey as NonNullable<typeof notCa.privateKey>,
      notAfterMs: notCa.notAfterMs,
    };
    const leaf = issueDevLeaf(fakeIssuer, { nowMs: T0, randomBytes: random, commonName: "leaf" });
    const chain: TestPki = {
      ...pki,
      cabundle: [pki.root.certificateDer, notCa.certificateDer],
      leaf,
      leafKey: leaf.privateKey as NonNullable<typeof leaf.privateKey>,
    };
    expect(reasonOf(setup().verifier.verifyDocument(doc({}, chain)))).toBe(
      "attestation: certificate chain invalid: certificate 2 of 3 is not a CA",
    );
  });

  it("rejects a non-P-384 leaf (CL112-12), even with a well-formed 96-byte signature", () => {
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const leaf = issueDevLeaf(pki.intermediate, {
      nowMs: T0,
      randomBytes: seededRandom("p256-leaf"),
      commonName: "p256",
      publicKey: p256.publicKey,
    });
    const chain: TestPki = { ...pki, leaf, leafKey: pki.leafKey };
    const document = doc({
      signer: pki.leafKey,
      // A P-256 r‖s is 64 bytes; the parser's 96-byte rule would catch that first, so pad it.
      mapSignature: () => {
        const s = sign("sha384", Buffer.from("x"), { key: p256.privateKey, dsaEncoding: "ieee-p1363" });
        return new Uint8Array([...s, ...new Uint8Array(32)]);
      },
    }, chain);
    expect(setup().verifier.verifyDocument(document)).toMatchObject({
      code: "leaf_key_not_p384",
      reason: "attestation: leaf key is not P-384",
    });
  });

  it("rejects an expired chain, naming the certificate and when it expired", () => {
    const { verifier, clock } = setup();
    // Leaf valid T0 .. T0+3h; a document made one minute before the leaf expires, checked two
    // minutes later: fresh, but the leaf has expired.
    const expiresMs = pki.leaf.notAfterMs;
    const document = doc({ timestampMs: expiresMs - 60_000 });
    clock.set(expiresMs + 60_000);
    expect(reasonOf(verifier.verifyDocument(document))).toBe(
      `attestation: certificate 3 of 3 (leaf) expired at ${new Date(expiresMs).toISOString()}`,
    );
  });

  it("rejects a chain whose intermediate has expired", () => {
    const random = seededRandom("short-intermediate");
    const mid = issueDevIntermediate(pki.root, { nowMs: T0 - HOUR, randomBytes: random, commonName: "short", validityMs: 2 * HOUR });
    const leaf = issueDevLeaf(mid, { nowMs: T0 - HOUR, randomBytes: random, commonName: "leaf", validityMs: 10 * HOUR });
    const chain: TestPki = { ...pki, cabundle: [pki.root.certificateDer, mid.certificateDer], leaf, leafKey: leaf.privateKey as NonNullable<typeof leaf.privateKey> };
    const { verifier, clock } = setup();
    clock.set(mid.notAfterMs + 1000);
    const v = verifier.verifyDocument(doc({ timestampMs: mid.notAfterMs - 1000 }, chain));
    expect(reasonOf(v)).toBe(`attestation: certificate 2 of 3 expired at ${new Date(mid.notAfterMs).toISOString()}`);
  });

  it("rejects a document signed before its leaf was valid", () => {
    const { verifier, clock } = setup();
    clock.set(T0 - 10_000);
    const v = verifier.verifyDocument(doc({ timestampMs: T0 - 10_000 }));
    expect(reasonOf(v)).toBe(`attestation: certificate 3 of 3 (leaf) not valid before ${new Date(T0).toISOString()}`);
  });
});

describe("generated documents: policy and freshness", () => {
  it("rejects stale documents: usable through timestamp + max age, not a millisecond later", () => {
    const document = doc();
    const { verifier, clock } = setup();
    clock.set(T0 + 1000 + MAX_AGE);
    expect(verifier.verifyDocument(document).kind).toBe("ok");
    clock.set(T0 + 1000 + MAX_AGE + 1);
    expect(verifier.verifyDocument(document)).toMatchObject({
      code: "document_too_old",
      reason: `attestation: document too old (timestamp ${new Date(T0 + 1000).toISOString()}, max age 300 s)`,
    });
  });

  it("rejects documents from the future beyond the clock skew", () => {
    const { verifier } = setup({ nowMs: T0 + 1000 });
    expect(verifier.verifyDocument(doc({ timestampMs: T0 + 1000 + SKEW })).kind).toBe("ok");
    expect(verifier.verifyDocument(doc({ timestampMs: T0 + 1000 + SKEW + 1 }))).toMatchObject({
      code: "document_from_future",
      reason: `attestation: document from the future (timestamp ${new Date(T0 + 1000 + SKEW + 1).toISOString()}, max skew 30 s)`,
    });
  });

  it("accepts a future document once its time has come (the rejection is not cached for good)", () => {
    const { verifier, clock } = setup({ nowMs: T0 + 1000 });
    const document = doc({ timestampMs: T0 + 1000 + SKEW + 5000 });
    expect(verifier.verifyDocument(document).kind).toBe("rejected");
    clock.advance(5000);
    expect(verifier.verifyDocument(document)).toMatchObject({ kind: "ok", cache: "hit" });
  });

  it("rejects debug (all-zero) PCRs when the policy does not accept them", () => {
    const zero = new Map(defaultPcrs());
    for (const i of [0, 1, 2]) zero.set(i, new Uint8Array(48));
    const strict = devPolicy({ allowedPcrSets: "unchecked", acceptDebugPcrs: false });
    expect(reasonOf(setup({ policy: strict }).verifier.verifyDocument(doc({ pcrs: zero })))).toBe(
      "attestation: debug-mode PCRs rejected (all-zero PCR0..2; accepted only in dev mode)",
    );
    const lenient = devPolicy({ allowedPcrSets: "unchecked" });
    expect(setup({ policy: lenient }).verifier.verifyDocument(doc({ pcrs: zero })).kind).toBe("ok");
  });

  it("rejects PCRs outside the allowlist, naming the PCR, and accepts any of several builds", () => {
    const other = new Uint8Array(48).fill(0x5e);
    const withPcr = (i: number, v: Uint8Array) => new Map([...defaultPcrs(), [i, v]]);
    const { verifier } = setup();
    expect(reasonOf(verifier.verifyDocument(doc({ pcrs: withPcr(0, other) })))).toBe("attestation: pcr0 not in allowlist");
    expect(reasonOf(verifier.verifyDocument(doc({ pcrs: withPcr(1, other) })))).toBe("attestation: pcr1 not in allowlist");
    expect(reasonOf(verifier.verifyDocument(doc({ pcrs: withPcr(2, other) })))).toBe("attestation: pcr2 not in allowlist");
    const twoBuilds = devPolicy({ allowedPcrSets: [ALLOWED, { ...ALLOWED, pcr2: hex(other) }] });
    expect(setup({ policy: twoBuilds }).verifier.verifyDocument(doc({ pcrs: withPcr(2, other) })).kind).toBe("ok");
  });

  it("rejects malformed documents with the parser's reason: oversized fields, indefinite lengths", () => {
    const { verifier } = setup();
    expect(reasonOf(verifier.verifyDocument(doc({ userData: new Uint8Array(1025) })))).toBe(
      "attestation: malformed document: user_data must be at most 1024 bytes, got 1025",
    );
    expect(reasonOf(verifier.verifyDocument(new Uint8Array([0x5f, 0x41, 0x00, 0xff])))).toBe(
      "attestation: malformed document: indefinite-length byte strings are not allowed",
    );
    expect(reasonOf(verifier.verifyDocument(new Uint8Array(40_000)))).toBe(
      "attestation: malformed document: document is over 32768 bytes",
    );
  });
});

describe("request binding", () => {
  it("mode (a): user_data must equal the request's binding hash", () => {
    const { verifier, clock } = setup();
    const document = doc({ userData: binding(1) });
    const now = clock.nowMs();
    expect(verifier.checkRequest(document, { mode: "user_data", bindingHash: binding(1), requestTimestampMs: now }).kind).toBe("ok");
    expect(verifier.checkRequest(document, { mode: "user_data", bindingHash: binding(2), requestTimestampMs: now })).toMatchObject({
      code: "binding_mismatch",
      reason: "attestation: binding mismatch (user_data is not the request's binding hash)",
    });
    const noUserData = doc({ userData: null });
    expect(verifier.checkRequest(noUserData, { mode: "user_data", bindingHash: binding(1), requestTimestampMs: now })).toMatchObject({
      code: "binding_mismatch",
    });
  });

  it("mode (b): the attested session key must have signed the binding hash", () => {
    const session = generateKeyPairSync("ed25519");
    const other = generateKeyPairSync("ed25519");
    const raw = (k: typeof session.publicKey) => new Uint8Array(k.export({ format: "der", type: "spki" }).subarray(12));
    const keys = encodeEnclaveSessionKeys({ sessionPublicKey: raw(session.publicKey), encryptionPublicKey: new Uint8Array(32).fill(9) });
    const { verifier, clock } = setup();
    const document = doc({ publicKey: keys });
    const now = clock.nowMs();
    const check = (hash: Uint8Array, sig: Uint8Array) =>
      verifier.checkRequest(document, { mode: "session_signature", bindingHash: hash, requestTimestampMs: now, sessionSignature: sig });

    const ok = check(binding(1), signSessionBinding(session.privateKey, binding(1)));
    expect(ok.kind).toBe("ok");
    if (ok.kind === "ok") {
      expect(ok.document.sessionKeys?.encryptionPublicKey).toEqual(new Uint8Array(32).fill(9));
    }
    expect(check(binding(2), signSessionBinding(session.privateKey, binding(3)))).toMatchObject({
      code: "session_signature_invalid",
      reason: "attestation: session signature invalid",
    });
    expect(check(binding(4), signSessionBinding(other.privateKey, binding(4)))).toMatchObject({ code: "session_signature_invalid" });
    expect(check(binding(5), new Uint8Array(0))).toMatchObject({ code: "session_signature_invalid" });

    const noKeys = doc({ publicKey: new TextEncoder().encode("dummy") });
    expect(
      verifier.checkRequest(noKeys, {
        mode: "session_signature",
        bindingHash: binding(6),
        requestTimestampMs: now,
        sessionSignature: signSessionBinding(session.privateKey, binding(6)),
      }),
    ).toMatchObject({ code: "no_session_keys" });
  });

  it("rejects a replayed request, and accepts a different request on the same document", () => {
    const session = generateKeyPairSync("ed25519");
    const raw = new Uint8Array(session.publicKey.export({ format: "der", type: "spki" }).subarray(12));
    const document = doc({ publicKey: encodeEnclaveSessionKeys({ sessionPublicKey: raw, encryptionPublicKey: new Uint8Array(32) }) });
    const { verifier, clock } = setup();
    const request = (fill: number) => ({
      mode: "session_signature" as const,
      bindingHash: binding(fill),
      requestTimestampMs: T0 + 1000,
      sessionSignature: signSessionBinding(session.privateKey, binding(fill)),
    });
    expect(verifier.checkRequest(document, request(1)).kind).toBe("ok");
    clock.advance(10_000);
    expect(verifier.checkRequest(document, request(1))).toMatchObject({
      code: "replayed_request",
      reason: "attestation: replayed request",
    });
    expect(verifier.checkRequest(document, request(2)).kind).toBe("ok");
  });

  it("does not burn a binding hash on a request that failed", () => {
    const { verifier, clock } = setup();
    const now = clock.nowMs();
    const good = doc({ userData: binding(7) });
    const wrongPcrs = doc({ userData: binding(7), pcrs: new Map([...defaultPcrs(), [0, new Uint8Array(48).fill(3)]]) });
    expect(verifier.checkRequest(wrongPcrs, { mode: "user_data", bindingHash: binding(7), requestTimestampMs: now }).kind).toBe("rejected");
    expect(verifier.checkRequest(good, { mode: "user_data", bindingHash: binding(7), requestTimestampMs: now }).kind).toBe("ok");
  });

  it("rejects request timestamps outside the freshness window, so replays cannot outlive the replay cache", () => {
    const { verifier, clock } = setup();
    const now = clock.nowMs();
    const document = doc({ userData: binding(8) });
    const at = (ts: number) => verifier.checkRequest(document, { mode: "user_data", bindingHash: binding(8), requestTimestampMs: ts });
    expect(at(now - MAX_AGE - 1)).toMatchObject({
      code: "request_timestamp_out_of_window",
      reason: "attestation: request timestamp outside the freshness window",
    });
    expect(at(now + SKEW + 1)).toMatchObject({ code: "request_timestamp_out_of_window" });
    expect(at(now - MAX_AGE).kind).toBe("ok");
  });

  it("fails closed when the replay cache is full of live entries", () => {
    const { verifier, clock } = setup({ replayCacheSize: 1 });
    const now = clock.nowMs();
    expect(verifier.checkRequest(doc({ userData: binding(1) }), { mode: "user_data", bindingHash: binding(1), requestTimestampMs: now }).kind).toBe("ok");
    expect(verifier.checkRequest(doc({ userData: binding(2) }), { mode: "user_data", bindingHash: binding(2), requestTimestampMs: now })).toMatchObject({
      code: "replay_cache_full",
      reason: "attestation: replay cache full, retry later",
    });
  });

  it("refuses a binding hash that is not 32 bytes (a caller bug)", () => {
    const { verifier } = setup();
    expect(() =>
      verifier.checkRequest(doc(), { mode: "user_data", bindingHash: new Uint8Array(31), requestTimestampMs: T0 }),
    ).toThrow(/32 bytes/);
  });

  it("never puts request data in a reason", () => {
    const { verifier, clock } = setup();
    const secretish = new Uint8Array(32).fill(0xab);
    const document = doc({ userData: secretish });
    const v = verifier.checkRequest(document, { mode: "user_data", bindingHash: binding(0xcd), requestTimestampMs: clock.nowMs() });
    expect(v.kind).toBe("rejected");
    expect(reasonOf(v)).not.toMatch(/abab|cdcd/);
  });
});

describe("caches", () => {
  it("a second verification of the same document is a cache hit", () => {
    const { verifier } = setup();
    const document = doc();
    expect(verifier.verifyDocument(document)).toMatchObject({ kind: "ok", cache: "miss" });
    expect(verifier.verifyDocument(Uint8Array.from(document))).toMatchObject({ kind: "ok", cache: "hit" });
    expect(verifier.stats()).toMatchObject({ documentCacheHits: 1, documentCacheMisses: 1, documentCacheSize: 1 });
  });

  it("an entry expires at the document's freshness limit", () => {
    const { verifier, clock } = setup();
    const document = doc();
    verifier.verifyDocument(document);
    clock.set(T0 + 1000 + MAX_AGE);
    expect(verifier.verifyDocument(document)).toMatchObject({ kind: "ok", cache: "hit" });
    clock.set(T0 + 1000 + MAX_AGE + 1);
    expect(verifier.verifyDocument(document)).toMatchObject({ code: "document_too_old", cache: "miss" });
    expect(verifier.stats().documentCacheSize).toBe(0);
    // From then on the rejection itself is cached.
    expect(verifier.verifyDocument(document)).toMatchObject({ code: "document_too_old", cache: "hit" });
  });

  it("an entry expires no later than its earliest certificate", () => {
    const short = makePki("short-leaf", T0, 60_000);
    const policy = createAttestationPolicy({ allowedPcrSets: [ALLOWED], devMode: true, devRoots: [short.root.certificatePem] });
    const clock = new ManualClock(T0 + 1000);
    const verifier = createAttestationVerifier({ policy, clock });
    const v = verifier.verifyDocument(doc({}, short));
    expect(v.kind === "ok" && v.document.usableUntilMs).toBe(T0 + 60_000);
    clock.set(T0 + 60_001);
    expect(verifier.verifyDocument(doc({}, short))).toMatchObject({ code: "certificate_not_valid" });
  });

  it("a new document over an already verified chain skips the chain check", () => {
    const { verifier } = setup();
    verifier.verifyDocument(doc({ userData: binding(1) }));
    verifier.verifyDocument(doc({ userData: binding(2) }));
    expect(verifier.stats()).toMatchObject({ documentCacheMisses: 2, chainCacheMisses: 1, chainCacheHits: 1 });
  });

  it("a new enclave behind already verified intermediates costs only its own leaf", () => {
    const { verifier } = setup();
    verifier.verifyDocument(doc());
    // The dev root was given to the policy as DER, so the verifier parsed it up front (pinned).
    expect(verifier.stats()).toMatchObject({ certificatesParsed: 2, certificateLinksVerified: 2 });
    const sibling = issueDevLeaf(pki.intermediate, { nowMs: T0, randomBytes: seededRandom("sibling"), commonName: "enclave-2" });
    const siblingPki: TestPki = { ...pki, leaf: sibling, leafKey: sibling.privateKey as NonNullable<typeof sibling.privateKey> };
    expect(verifier.verifyDocument(doc({}, siblingPki)).kind).toBe("ok");
    expect(verifier.stats()).toMatchObject({ chainCacheMisses: 2, certificatesParsed: 3, certificateLinksVerified: 3 });
  });

  it("a resent bad document is answered from the rejection cache", () => {
    const { verifier } = setup();
    const bad = doc({ mapSignature: (s) => s.map((b) => b ^ 0xff) });
    const first = verifier.verifyDocument(bad);
    const second = verifier.verifyDocument(bad);
    expect(first).toMatchObject({ code: "signature_invalid", cache: "miss" });
    expect(second).toMatchObject({ code: "signature_invalid", cache: "hit" });
    expect(verifier.stats().rejectionCacheHits).toBe(1);
  });

  it("does not accept a policy object that was not validated", () => {
    const policy = { ...devPolicy() };
    expect(() => createAttestationVerifier({ policy, clock: new ManualClock(T0) })).toThrow(/createAttestationPolicy/);
  });
});
