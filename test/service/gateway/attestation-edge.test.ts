/**
 * The gateway's edge check (attestation-edge.ts): the relay nodes' own verifier, run once before
 * fan-out, on real generated Nitro-format documents.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { relayBindingHash, type RelayParams } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import {
  DevAttestationProducer,
  createAttestationPolicy,
  createAttestationVerifier,
  createDevRootAuthority,
  encodeEnclaveSessionKeys,
  signSessionBinding,
} from "../../../src/domain/attestation/index.js";
import { attestationEdge } from "../../../src/services/gateway/attestation-edge.js";
import { capabilityRequest, secretsRequest } from "./fixtures.js";

const NOW = 1_700_000_000_000;
const clock = new ManualClock(NOW);
const root = createDevRootAuthority({ nowMs: NOW - 60_000, randomBytes });
const measurements = { pcr0: randomBytes(48), pcr1: randomBytes(48), pcr2: randomBytes(48) };
const producer = DevAttestationProducer.fromAuthority({ authority: root, moduleId: "i-0123456789abcdef0-enc0123456789abcdef", measurements, clock, randomBytes });
const session = generateKeyPairSync("ed25519");
const sessionRaw = new Uint8Array(session.publicKey.export({ format: "der", type: "spki" }).subarray(12));
const sessionDoc = producer.attestSync({ publicKey: encodeEnclaveSessionKeys({ sessionPublicKey: sessionRaw, encryptionPublicKey: new Uint8Array(32).fill(7) }) });

function edge(replayCacheSize?: number) {
  const policy = createAttestationPolicy({ allowedPcrSets: [measurements], devMode: true, devRoots: [root.certificateDer] });
  return attestationEdge(createAttestationVerifier({ policy, clock, ...(replayCacheSize === undefined ? {} : { replayCacheSize }) }));
}

/** A capability request in binding mode (b), signed by the attested session key. */
function sessionParams(requestId: string): { params: RelayParams; bindingHash: Uint8Array } {
  const unsigned: RelayParams = { case: "executeCapability", value: capabilityRequest(requestId, { timestampMs: BigInt(NOW), attestation: { document: sessionDoc } }) };
  const bindingHash = relayBindingHash(unsigned);
  unsigned.value.attestation!.sessionSignature = signSessionBinding(session.privateKey, bindingHash);
  return { params: unsigned, bindingHash };
}

describe("attestationEdge", () => {
  it("admits an attested request and names its sender by the attested session key", async () => {
    const { params, bindingHash } = sessionParams("r-1");
    expect(await edge().check(params, bindingHash)).toEqual({ kind: "ok", senderId: `session:${Buffer.from(sessionRaw).toString("hex")}` });
  });

  it("admits a mode (a) request and names its sender by the document's module id", async () => {
    const params: RelayParams = { case: "getSecrets", value: secretsRequest("r-2", { timestampMs: BigInt(NOW), enclavePublicKey: new Uint8Array(32).fill(7) }) };
    const bindingHash = relayBindingHash(params);
    params.value.attestation!.document = producer.attestSync({ userData: bindingHash });
    expect(await edge().check(params, bindingHash)).toEqual({ kind: "ok", senderId: "module:i-0123456789abcdef0-enc0123456789abcdef" });
  });

  it("refuses a missing document, a forged signature and a replay with PermissionDenied and the verifier's reason", async () => {
    const e = edge();
    const missing: RelayParams = { case: "executeCapability", value: capabilityRequest("r-3", { attestation: { document: new Uint8Array(0) } }) };
    expect(await e.check(missing, relayBindingHash(missing))).toEqual({
      kind: "rejected",
      code: Code.PermissionDenied,
      reason: "attestation: missing attestation document",
    });
    const { params, bindingHash } = sessionParams("r-4");
    params.value.attestation!.sessionSignature = new Uint8Array(64);
    expect(await e.check(params, bindingHash)).toEqual({ kind: "rejected", code: Code.PermissionDenied, reason: "attestation: session signature invalid" });
    const good = sessionParams("r-5");
    expect((await e.check(good.params, good.bindingHash)).kind).toBe("ok");
    expect(await e.check(good.params, good.bindingHash)).toEqual({ kind: "rejected", code: Code.PermissionDenied, reason: "attestation: replayed request" });
  });

  it("answers a full replay cache with ResourceExhausted: retry later, not a verdict on the request", async () => {
    const e = edge(1);
    const first = sessionParams("r-6");
    const second = sessionParams("r-7");
    expect((await e.check(first.params, first.bindingHash)).kind).toBe("ok");
    expect(await e.check(second.params, second.bindingHash)).toEqual({
      kind: "rejected",
      code: Code.ResourceExhausted,
      reason: "attestation: replay cache full, retry later",
    });
  });
});
