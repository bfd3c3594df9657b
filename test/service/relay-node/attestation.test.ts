/**
 * The node with the real attestation verifier (dev authority, dev-mode policy): binding modes (a)
 * and (b), replay, PCR allowlist, the attested encryption key, and the dev-mode gauge.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { capabilityBindingHash, secretsBindingHash } from "../../../src/contract/relay-hash.js";
import {
  DevAttestationProducer,
  createDevRootAuthority,
  encodeEnclaveSessionKeys,
  signSessionBinding,
  type AttestationPolicyOptions,
} from "../../../src/domain/attestation/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import { ed25519RawPublicKey } from "../../../src/domain/crypto/ed25519.js";
import { createAttestationPort } from "../../../src/services/relay-node/attestation-port.js";
import type { RelayOutcome } from "../../../src/services/relay-node/relay-handler.js";
import { capabilityRequest, ENCLAVE_KEY, makeHandler, makeNode, never, NOW_MS, secretsRequest } from "./fixtures.js";

const DAY = 24 * 60 * 60 * 1000;
const measurements = { pcr0: new Uint8Array(48).fill(1), pcr1: new Uint8Array(48).fill(2), pcr2: new Uint8Array(48).fill(3) };
const rnd = (n: number) => new Uint8Array(randomBytes(n));

function setup(allowed = measurements) {
  const clock = new ManualClock(NOW_MS);
  const authority = createDevRootAuthority({ nowMs: NOW_MS - DAY, randomBytes: rnd });
  const producer = DevAttestationProducer.fromAuthority({ authority, moduleId: "i-relay-test-enc", measurements, clock, randomBytes: rnd });
  const policy: AttestationPolicyOptions = {
    allowedPcrSets: [allowed],
    devMode: true,
    devRoots: [authority.certificateDer],
  };
  const attestation = createAttestationPort(policy, clock);
  return { clock, producer, ...makeHandler({ attestation, clock }) };
}

function result(outcome: RelayOutcome): { case: string | undefined; code?: number; message?: string } {
  if (outcome.kind !== "signed") throw new Error(`expected signed, got ${outcome.kind}`);
  const r = outcome.answer.result;
  return r.case === "error" ? { case: "error", code: r.value.code, message: r.value.message } : { case: r.case };
}

describe("relay node with the real attestation verifier", () => {
  it("mode (a): user_data = binding hash is accepted once; the same request again is a replay", async () => {
    const { handler, producer } = setup();
    const req = secretsRequest({ attestation: undefined });
    req.attestation = { $typeName: "ccr.v1.Attestation", document: await producer.attest({ userData: secretsBindingHash(req) }), sessionSignature: new Uint8Array() };
    expect(result(await handler.handle({ case: "getSecrets", value: req }, never))).toEqual({ case: "secrets" });
    expect(result(await handler.handle({ case: "getSecrets", value: req }, never))).toEqual({
      case: "error",
      code: Code.PermissionDenied,
      message: "attestation: replayed request",
    });
  });

  it("mode (a): a document bound to another request is a binding mismatch", async () => {
    const { handler, producer } = setup();
    const other = capabilityRequest({ requestId: "other" });
    const req = capabilityRequest({ attestation: { document: await producer.attest({ userData: capabilityBindingHash(other) }) } });
    expect(result(await handler.handle({ case: "executeCapability", value: req }, never))).toEqual({
      case: "error",
      code: Code.PermissionDenied,
      message: "attestation: binding mismatch (user_data is not the request's binding hash)",
    });
  });

  it("an enclave build outside the allowlist is refused with an actionable reason", async () => {
    const { handler, producer } = setup({ ...measurements, pcr0: new Uint8Array(48).fill(9) });
    const req = capabilityRequest({ attestation: undefined });
    req.attestation = { $typeName: "ccr.v1.Attestation", document: await producer.attest({ userData: capabilityBindingHash(req) }), sessionSignature: new Uint8Array() };
    expect(result(await handler.handle({ case: "executeCapability", value: req }, never))).toEqual({
      case: "error",
      code: Code.PermissionDenied,
      message: "attestation: pcr0 not in allowlist",
    });
  });

  it("a request without attestation is refused", async () => {
    const { handler } = setup();
    expect(result(await handler.handle({ case: "getSecrets", value: secretsRequest({ attestation: undefined }) }, never))).toEqual({
      case: "error",
      code: Code.PermissionDenied,
      message: "attestation: missing attestation document",
    });
  });

  describe("mode (b): attested session keys", () => {
    const session = generateKeyPairSync("ed25519");
    const sessionKeys = { sessionPublicKey: ed25519RawPublicKey(session.publicKey), encryptionPublicKey: ENCLAVE_KEY };

    it("one document serves many requests, each with its own session signature (cache hits)", async () => {
      const { handler, producer, metrics } = setup();
      const document = await producer.attest({ publicKey: encodeEnclaveSessionKeys(sessionKeys) });
      for (const id of ["r-1", "r-2", "r-3"]) {
        const req = secretsRequest({ requestId: id, attestation: undefined });
        req.attestation = { $typeName: "ccr.v1.Attestation", document, sessionSignature: signSessionBinding(session.privateKey, secretsBindingHash(req)) };
        expect(result(await handler.handle({ case: "getSecrets", value: req }, never))).toEqual({ case: "secrets" });
      }
      const text = await metrics.registry.metrics();
      expect(text).toContain('ccr_relay_node_attestation_cache_total{result="hit"} 2');
      expect(text).toContain('ccr_relay_node_attestation_cache_total{result="miss"} 1');
    });

    it("secrets go only to the attested encryption key", async () => {
      const { handler, producer } = setup();
      const document = await producer.attest({ publicKey: encodeEnclaveSessionKeys(sessionKeys) });
      const req = secretsRequest({ enclavePublicKey: new Uint8Array(32).fill(0x11), attestation: undefined });
      req.attestation = { $typeName: "ccr.v1.Attestation", document, sessionSignature: signSessionBinding(session.privateKey, secretsBindingHash(req)) };
      expect(result(await handler.handle({ case: "getSecrets", value: req }, never))).toEqual({
        case: "error",
        code: Code.PermissionDenied,
        message: "attestation: enclave_public_key is not the attested encryption key",
      });
    });

    it("a session signature over another request is refused", async () => {
      const { handler, producer } = setup();
      const document = await producer.attest({ publicKey: encodeEnclaveSessionKeys(sessionKeys) });
      const req = secretsRequest({ attestation: undefined });
      req.attestation = {
        $typeName: "ccr.v1.Attestation",
        document,
        sessionSignature: signSessionBinding(session.privateKey, secretsBindingHash(secretsRequest({ requestId: "another" }))),
      };
      expect(result(await handler.handle({ case: "getSecrets", value: req }, never))).toMatchObject({
        code: Code.PermissionDenied,
        message: "attestation: session signature invalid",
      });
    });
  });

  it("dev mode is exported as a gauge", async () => {
    const { attestation } = setup();
    const { node } = makeNode({ attestation });
    expect(await node.metrics.registry.metrics()).toContain("ccr_relay_node_attestation_dev_mode 1");
    await node.close();
  });
});
