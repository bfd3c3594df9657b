import { describe, expect, it } from "vitest";
import {
  AWS_NITRO_ROOT_G1_SHA256,
  DEFAULT_MAX_ATTESTATION_AGE_MS,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  createAttestationPolicy,
} from "../../../src/domain/attestation/index.js";
import { checkPcrs } from "../../../src/domain/attestation/policy.js";
import { sha256FingerprintHex } from "../../../src/domain/attestation/x509-chain.js";
import { PCR0, PCR1, PCR2, hex, makePki } from "./fixtures.js";

const set = { pcr0: hex(PCR0), pcr1: hex(PCR1), pcr2: hex(PCR2) };

describe("createAttestationPolicy", () => {
  it("defaults: production root only, 5 min max age, 30 s skew, not dev", () => {
    const p = createAttestationPolicy({ allowedPcrSets: [set] });
    expect(p).toEqual({
      pcrAllowlist: [set],
      devMode: false,
      acceptDebugPcrs: false,
      trustedRootFingerprints: [AWS_NITRO_ROOT_G1_SHA256],
      trustedRootCertificates: [expect.any(Uint8Array)],
      maxAttestationAgeMs: DEFAULT_MAX_ATTESTATION_AGE_MS,
      maxClockSkewMs: DEFAULT_MAX_CLOCK_SKEW_MS,
    });
    // The bundled Root-G1 bytes are exactly the pinned certificate.
    expect(sha256FingerprintHex(p.trustedRootCertificates[0]!)).toBe(AWS_NITRO_ROOT_G1_SHA256);
    expect(DEFAULT_MAX_ATTESTATION_AGE_MS).toBe(300_000);
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.pcrAllowlist)).toBe(true);
    expect(Object.isFrozen(p.trustedRootFingerprints)).toBe(true);
  });

  it("normalises PCR hex (0x prefix, case) and bytes to lowercase hex", () => {
    const p = createAttestationPolicy({
      allowedPcrSets: [{ pcr0: `0x${hex(PCR0).toUpperCase()}`, pcr1: PCR1, pcr2: hex(PCR2) }],
    });
    expect(p.pcrAllowlist).toEqual([set]);
  });

  it.each([
    ["an empty allowlist", { allowedPcrSets: [] }, /at least one PCR0\/1\/2 set/],
    ["non-hex PCRs", { allowedPcrSets: [{ ...set, pcr1: "zz" }] }, /pcr1 must be hex/],
    ["PCRs of a wrong length", { allowedPcrSets: [{ ...set, pcr2: "00ff" }] }, /must be 32, 48 or 64 bytes, got 2/],
    [
      "an all-zero set outside dev mode",
      { allowedPcrSets: [{ pcr0: "00".repeat(48), pcr1: "00".repeat(48), pcr2: "00".repeat(48) }] },
      /all-zero \(debug-mode\) PCRs/,
    ],
    ["dev roots outside dev mode", { allowedPcrSets: "unchecked", devRoots: ["AB".repeat(32)] }, /only when devMode is true/],
    ["a bad dev root", { allowedPcrSets: "unchecked", devMode: true, devRoots: ["not a cert"] }, /devRoots\[0\]/],
    ["acceptDebugPcrs outside dev mode", { allowedPcrSets: "unchecked", acceptDebugPcrs: true }, /requires devMode/],
    ["a zero max age", { allowedPcrSets: "unchecked", maxAttestationAgeMs: 0 }, /maxAttestationAgeMs/],
    ["a skew above the max age", { allowedPcrSets: "unchecked", maxAttestationAgeMs: 1000, maxClockSkewMs: 1001 }, /maxClockSkewMs/],
  ])("rejects %s", (_name, options, message) => {
    expect(() => createAttestationPolicy(options as never)).toThrow(message);
  });

  it("takes dev roots as DER, PEM or fingerprint, only in dev mode, alongside Root-G1", () => {
    const { root } = makePki("policy");
    const colonFingerprint = root.fingerprintSha256.match(/../g)?.join(":").toLowerCase() as string;
    for (const given of [root.certificateDer, root.certificatePem, colonFingerprint]) {
      const p = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true, devRoots: [given] });
      expect(p.trustedRootFingerprints).toEqual([AWS_NITRO_ROOT_G1_SHA256, root.fingerprintSha256]);
      // Bytes are kept for parsing up front when given; a fingerprint alone has none.
      const ders = p.trustedRootCertificates.map(sha256FingerprintHex);
      expect(ders).toEqual(given === colonFingerprint ? [AWS_NITRO_ROOT_G1_SHA256] : [AWS_NITRO_ROOT_G1_SHA256, root.fingerprintSha256]);
    }
  });
});

describe("checkPcrs", () => {
  const zero = new Uint8Array(48);
  const pcrs = (p0: Uint8Array, p1: Uint8Array, p2: Uint8Array) => new Map([[0, p0], [1, p1], [2, p2]]);
  const other = new Uint8Array(48).fill(0xee);
  const policy = createAttestationPolicy({
    allowedPcrSets: [set, { pcr0: hex(other), pcr1: hex(other), pcr2: hex(other) }],
  });

  it("accepts any allowed build", () => {
    expect(checkPcrs(policy, pcrs(PCR0, PCR1, PCR2))).toBeNull();
    expect(checkPcrs(policy, pcrs(other, other, other))).toBeNull();
  });

  it("names the first PCR that no allowed set matches", () => {
    expect(checkPcrs(policy, pcrs(PCR1, PCR1, PCR2))).toEqual({ code: "pcr_not_allowed", pcr: 0 });
    expect(checkPcrs(policy, pcrs(PCR0, other, PCR2))).toEqual({ code: "pcr_not_allowed", pcr: 1 });
    expect(checkPcrs(policy, pcrs(PCR0, PCR1, other))).toEqual({ code: "pcr_not_allowed", pcr: 2 });
  });

  it("rejects debug (all-zero) PCRs unless in dev mode, even with the allowlist off", () => {
    const unchecked = createAttestationPolicy({ allowedPcrSets: "unchecked" });
    expect(checkPcrs(unchecked, pcrs(zero, zero, zero))).toEqual({ code: "debug_pcrs", pcr: null });
    expect(checkPcrs(unchecked, pcrs(PCR0, zero, PCR2))).toEqual({ code: "debug_pcrs", pcr: null });
    expect(checkPcrs(unchecked, pcrs(PCR0, PCR1, PCR2))).toBeNull();
    const dev = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true });
    expect(checkPcrs(dev, pcrs(zero, zero, zero))).toBeNull();
    const strictDev = createAttestationPolicy({ allowedPcrSets: "unchecked", devMode: true, acceptDebugPcrs: false });
    expect(checkPcrs(strictDev, pcrs(zero, zero, zero))).toEqual({ code: "debug_pcrs", pcr: null });
  });
});
