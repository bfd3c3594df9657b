import { X509Certificate, createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  createDevRootAuthority,
  generateP384PrivateKey,
  issueDevIntermediate,
  issueDevLeaf,
  loadDevAuthority,
  sha256FingerprintHex,
} from "../../../src/domain/attestation/index.js";
import { DAY, HOUR, T0, seededRandom } from "./fixtures.js";

const spki = (k: import("node:crypto").KeyObject) => createPublicKey(k).export({ type: "spki", format: "der" }).toString("hex");

describe("generateP384PrivateKey", () => {
  it("makes a P-384 key determined by the injected randomness", () => {
    const a = generateP384PrivateKey(seededRandom("k"));
    const b = generateP384PrivateKey(seededRandom("k"));
    const c = generateP384PrivateKey(seededRandom("other"));
    expect(a.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
    expect(spki(a)).toBe(spki(b));
    expect(spki(a)).not.toBe(spki(c));
  });

  it("rejects scalars outside [1, n-1] and draws again", () => {
    let calls = 0;
    const random = (n: number) => (calls++ === 0 ? new Uint8Array(n).fill(0xff) : new Uint8Array(n).fill(0x01));
    expect(generateP384PrivateKey(random).asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
    expect(calls).toBe(2);
  });
});

describe("dev attestation authority", () => {
  const root = createDevRootAuthority({ nowMs: T0 + 123, randomBytes: seededRandom("root") });

  it("creates a self-signed P-384 CA root, valid from now (floored to the second) for 10 years", () => {
    const cert = new X509Certificate(root.certificateDer);
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
    expect(cert.checkIssued(cert)).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(root.privateKey)).toBe(true);
    expect(new Date(cert.validFrom).getTime()).toBe(T0);
    expect(root.notBeforeMs).toBe(T0);
    expect(root.notAfterMs).toBe(T0 + 10 * 365 * DAY);
    expect(cert.subject).toContain("CN=ccr dev attestation root (not for production)");
    expect(root.fingerprintSha256).toBe(sha256FingerprintHex(root.certificateDer));
    expect(new X509Certificate(root.certificatePem).raw.equals(Buffer.from(root.certificateDer))).toBe(true);
    expect(root.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("issues intermediates and leaves whose chain node:crypto verifies", () => {
    const random = seededRandom("chain");
    const mid = issueDevIntermediate(root, { nowMs: T0, randomBytes: random, commonName: "mid" });
    const leaf = issueDevLeaf(mid, { nowMs: T0, randomBytes: random, commonName: "enclave-1", validityMs: 3 * HOUR });
    const r = new X509Certificate(root.certificateDer);
    const m = new X509Certificate(mid.certificateDer);
    const l = new X509Certificate(leaf.certificateDer);
    expect(m.ca).toBe(true);
    expect(m.checkIssued(r) && m.verify(r.publicKey)).toBe(true);
    expect(l.ca).toBe(false);
    expect(l.checkIssued(m) && l.verify(m.publicKey)).toBe(true);
    expect(l.checkIssued(r)).toBe(false);
    expect(l.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
    expect(l.checkPrivateKey(leaf.privateKey as import("node:crypto").KeyObject)).toBe(true);
    expect(leaf.notAfterMs - leaf.notBeforeMs).toBe(3 * HOUR);
    expect(l.serialNumber).not.toBe(m.serialNumber);
  });

  it("certifies a caller-supplied key (e.g. P-256, for negative tests) without returning a private key", () => {
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const leaf = issueDevLeaf(root, { nowMs: T0, randomBytes: seededRandom("p256"), commonName: "p256", publicKey: p256.publicKey });
    expect(leaf.privateKey).toBeNull();
    expect(leaf.privateKeyPem).toBeNull();
    expect(new X509Certificate(leaf.certificateDer).publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  it("caps a certificate's validity at its issuer's, and writes post-2049 times as GeneralizedTime", () => {
    const late = createDevRootAuthority({ nowMs: Date.parse("2045-01-01T00:00:00Z"), randomBytes: seededRandom("late") });
    expect(new Date(new X509Certificate(late.certificateDer).validTo).toISOString()).toBe("2054-12-30T00:00:00.000Z");
    const leaf = issueDevLeaf(root, { nowMs: T0, randomBytes: seededRandom("cap"), commonName: "x", validityMs: 20 * 365 * DAY });
    expect(leaf.notAfterMs).toBe(root.notAfterMs);
  });

  it("reloads from the PEM files `ccr init` writes, and keeps issuing verifiable leaves", () => {
    const loaded = loadDevAuthority({ certificatePem: root.certificatePem, privateKeyPem: root.privateKeyPem });
    expect(loaded.fingerprintSha256).toBe(root.fingerprintSha256);
    expect(loaded.commonName).toBe(root.commonName);
    expect(loaded.notAfterMs).toBe(root.notAfterMs);
    const leaf = issueDevLeaf(loaded, { nowMs: T0, randomBytes: seededRandom("reload"), commonName: "e" });
    const l = new X509Certificate(leaf.certificateDer);
    const r = new X509Certificate(root.certificateDer);
    expect(l.checkIssued(r) && l.verify(r.publicKey)).toBe(true);
  });

  it("refuses a key that does not match, a non-P-384 key, or a non-CA certificate", () => {
    const other = createDevRootAuthority({ nowMs: T0, randomBytes: seededRandom("other") });
    expect(() => loadDevAuthority({ certificatePem: root.certificatePem, privateKeyPem: other.privateKeyPem })).toThrow(
      /does not match/,
    );
    const p256 = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    expect(() =>
      loadDevAuthority({
        certificatePem: root.certificatePem,
        privateKeyPem: p256.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      }),
    ).toThrow(/must be P-384/);
    const leaf = issueDevLeaf(root, { nowMs: T0, randomBytes: seededRandom("leaf"), commonName: "e" });
    expect(() =>
      loadDevAuthority({ certificatePem: leaf.certificatePem, privateKeyPem: leaf.privateKeyPem as string }),
    ).toThrow(/not a CA/);
  });
});
