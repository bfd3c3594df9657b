import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import {
  DevAttestationProducer,
  createAttestationPolicy,
  createAttestationVerifier,
  encodeEnclaveSessionKeys,
  parseNitroDocument,
  signSessionBinding,
  type AttestationProducer,
} from "../../../src/domain/attestation/index.js";
import { HOUR, MEASUREMENTS, PCR0, PCR1, PCR2, T0, hex, makePki, seededRandom } from "./fixtures.js";

const pki = makePki("producer");
const MODULE_ID = "i-0123456789abcdef0-enc0123456789abcdef";

function policy() {
  return createAttestationPolicy({
    allowedPcrSets: [{ pcr0: PCR0, pcr1: PCR1, pcr2: PCR2 }],
    devMode: true,
    devRoots: [pki.root.certificatePem],
  });
}

describe("DevAttestationProducer", () => {
  it("makes Nitro-format documents the verifier accepts, with the requested fields", async () => {
    const clock = new ManualClock(T0 + 5000);
    const producer: AttestationProducer = DevAttestationProducer.fromLeaf({
      moduleId: MODULE_ID,
      measurements: MEASUREMENTS,
      clock,
      randomBytes: seededRandom("nonce"),
      cabundle: pki.cabundle,
      certificateDer: pki.leaf.certificateDer,
      privateKey: pki.leafKey,
    });
    expect(producer.kind).toBe("dev");
    const userData = new Uint8Array(32).fill(4);
    const bytes = await producer.attest({ userData, publicKey: null, nonce: new Uint8Array([1, 2, 3]) });
    const parsed = parseNitroDocument(bytes);
    if (parsed.kind !== "ok") throw new Error(parsed.detail);
    const d = parsed.document;
    expect(d.moduleId).toBe(MODULE_ID);
    expect(d.timestampMs).toBe(T0 + 5000);
    expect([...d.pcrs.keys()]).toEqual([...Array(16).keys()]);
    expect(hex(d.pcrs.get(0) as Uint8Array)).toBe(hex(PCR0));
    expect(hex(d.pcrs.get(15) as Uint8Array)).toBe("00".repeat(48));
    expect(d.userData).toEqual(userData);
    expect(d.publicKey).toBeNull();
    expect(d.nonce).toEqual(new Uint8Array([1, 2, 3]));
    expect(d.cabundle.map(hex)).toEqual(pki.cabundle.map(hex));
    expect(bytes[0]).toBe(0x84); // untagged COSE_Sign1, as the NSM returns it

    const verifier = createAttestationVerifier({ policy: policy(), clock });
    expect(verifier.checkRequest(bytes, { mode: "user_data", bindingHash: userData, requestTimestampMs: T0 + 5000 }).kind).toBe("ok");
  });

  it("fills a random nonce by default", () => {
    const producer = DevAttestationProducer.fromLeaf({
      moduleId: MODULE_ID,
      measurements: MEASUREMENTS,
      clock: new ManualClock(T0),
      randomBytes: seededRandom("n"),
      cabundle: pki.cabundle,
      certificateDer: pki.leaf.certificateDer,
      privateKey: pki.leafKey,
    });
    const nonce = (b: Uint8Array) => {
      const p = parseNitroDocument(b);
      return p.kind === "ok" ? p.document.nonce : null;
    };
    const a = nonce(producer.attestSync({}));
    const b = nonce(producer.attestSync({}));
    expect(a?.length).toBe(32);
    expect(hex(a as Uint8Array)).not.toBe(hex(b as Uint8Array));
  });

  it("binds session keys (mode b) and renews its own leaf from the authority before it expires", () => {
    const clock = new ManualClock(T0);
    const producer = DevAttestationProducer.fromAuthority({
      authority: pki.root,
      intermediates: [pki.intermediate],
      moduleId: MODULE_ID,
      measurements: MEASUREMENTS,
      clock,
      randomBytes: seededRandom("renew"),
      leafValidityMs: 2 * HOUR,
    });
    const session = generateKeyPairSync("ed25519");
    const raw = new Uint8Array(session.publicKey.export({ format: "der", type: "spki" }).subarray(12));
    const publicKey = encodeEnclaveSessionKeys({ sessionPublicKey: raw, encryptionPublicKey: new Uint8Array(32).fill(1) });
    const leafOf = (b: Uint8Array) => {
      const p = parseNitroDocument(b);
      return p.kind === "ok" ? hex(p.document.certificate) : "";
    };
    const verifier = createAttestationVerifier({ policy: policy(), clock });
    const check = (bytes: Uint8Array, fill: number) =>
      verifier.checkRequest(bytes, {
        mode: "session_signature",
        bindingHash: new Uint8Array(32).fill(fill),
        requestTimestampMs: clock.nowMs(),
        sessionSignature: signSessionBinding(session.privateKey, new Uint8Array(32).fill(fill)),
      }).kind;

    const first = producer.attestSync({ publicKey });
    expect(check(first, 1)).toBe("ok");
    clock.advance(HOUR - 1000); // 1 s before the renewal point (1 h before expiry)
    const second = producer.attestSync({ publicKey });
    expect(leafOf(second)).toBe(leafOf(first));
    clock.advance(1000);
    const third = producer.attestSync({ publicKey });
    expect(leafOf(third)).not.toBe(leafOf(first));
    expect(check(third, 2)).toBe("ok");
  });

  it("does not renew a short-lived leaf on every call", () => {
    const clock = new ManualClock(T0);
    const producer = DevAttestationProducer.fromAuthority({
      authority: pki.root,
      moduleId: MODULE_ID,
      measurements: MEASUREMENTS,
      clock,
      randomBytes: seededRandom("short"),
      leafValidityMs: 30 * 60 * 1000,
    });
    const leafOf = (b: Uint8Array) => {
      const p = parseNitroDocument(b);
      return p.kind === "ok" ? hex(p.document.certificate) : "";
    };
    const first = leafOf(producer.attestSync({}));
    clock.advance(15 * 60 * 1000 - 1000);
    expect(leafOf(producer.attestSync({}))).toBe(first);
    clock.advance(1000);
    expect(leafOf(producer.attestSync({}))).not.toBe(first);
  });

  it("refuses bad configuration and oversized fields", () => {
    const base = {
      moduleId: MODULE_ID,
      measurements: MEASUREMENTS,
      clock: new ManualClock(T0),
      randomBytes: seededRandom("bad"),
      cabundle: pki.cabundle,
      certificateDer: pki.leaf.certificateDer,
      privateKey: pki.leafKey,
    };
    expect(() => DevAttestationProducer.fromLeaf({ ...base, privateKey: pki.intermediate.privateKey })).toThrow(/does not match/);
    expect(() => DevAttestationProducer.fromLeaf({ ...base, moduleId: "" })).toThrow(/moduleId/);
    expect(() => DevAttestationProducer.fromLeaf({ ...base, measurements: { ...MEASUREMENTS, pcr1: new Uint8Array(32) } })).toThrow(
      /pcr1 must be 48 bytes/,
    );
    const producer = DevAttestationProducer.fromLeaf(base);
    expect(() => producer.attestSync({ userData: new Uint8Array(1025) })).toThrow(/user_data must be at most 1024/);
    return expect(producer.attest({ nonce: new Uint8Array(2000) })).rejects.toThrow(/nonce/);
  });
});
