/**
 * The guest's secret and capability calls through the (fake) gateway (issue 6, "Secrets",
 * "Answers", "Tests"): what each relay request carries, the one-round-trip secret prefetch, the
 * quorum certificate check on every answer — forged certificates rejected and their data never
 * used — decryption with the enclave key, and how relay errors reach the guest.
 */
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { capabilityBindingHash, secretsBindingHash } from "../../../src/contract/index.js";
import { createAttestationPolicy, createAttestationVerifier, parseNitroDocument } from "../../../src/domain/attestation/index.js";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import { assemble, op } from "../../fixtures/wasm/modules.js";
import {
  AUTHORIZATION,
  EXECUTION_ID,
  executeRequest,
  F,
  hex,
  MEASUREMENTS,
  MEMBERS,
  NOW_MS,
  OWNER,
  resultOf,
  sha256,
  startHarness,
  triggerRequest,
  WORKFLOW_ID,
  type CertificatePlan,
  type Harness,
} from "./harness.js";

let probe: Uint8Array;
const harnesses: Harness[] = [];

beforeAll(async () => {
  probe = await conformanceGuestWasm();
}, 240_000);

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  harnesses.push(h);
  return h;
}

/** Runs the probe and returns its JSON value (or throws with the workflow error). */
async function run(h: Harness, config: unknown, options: Parameters<typeof executeRequest>[2] = {}, payload?: Uint8Array): Promise<unknown> {
  const bin = h.binary(probe, "probe.wasm");
  const res = await h.client.execute(executeRequest(bin, triggerRequest(config, payload), options));
  const result = resultOf(res.executionResult);
  if (result.result.case === "error") return { workflowError: result.result.value };
  if (result.result.case !== "value") throw new Error(`unexpected result ${result.result.case}`);
  return toJson(ValueSchema, result.result.value);
}

/** A hand-assembled guest whose `execute` makes two identical echo calls, then answers "done". */
function twoCallsGuest(): Uint8Array {
  const call = Buffer.from(JSON.stringify({ id: "echo@1.0.0", method: "Execute", payload: Buffer.from("{}").toString("base64") }));
  const result = Buffer.from('{"value":"done"}');
  const oneCall = [...op.i32Const(1024), ...op.i32Const(call.length), ...op.call(0), ...op.drop];
  return assemble({
    imports: [{ module: "ccr", name: "call_capability", params: ["i32", "i32"], results: ["i64"] }],
    memory: { min: 1 },
    funcs: [
      { params: ["i32"], results: ["i32"], body: op.i32Const(8192), export: "alloc" },
      { params: ["i32", "i32"], results: ["i64"], body: [...oneCall, ...oneCall, ...op.i64Const((2048n << 32n) | BigInt(result.length))], export: "execute" },
    ],
    data: [
      { offset: 1024, bytes: call },
      { offset: 2048, bytes: result },
    ],
  });
}

const secretsProbe = (keys: string[], namespaces: string[] = []) => ({ mode: "secrets", keys, namespaces });
const digest = (value: string) => hex(sha256(value));

describe("secrets", () => {
  it("fetches vault_don_secrets in one round trip before the guest starts, and opens them with the enclave key", async () => {
    const h = await harness();
    const out = await run(h, secretsProbe(["API_KEY"]), { secrets: [{ key: "API_KEY" }] });
    expect(out).toEqual([{ id: "API_KEY", namespace: "main", sha256: digest("s3cr3t-api-key") }]);
    // One round trip: the guest's get_secrets was answered from the prefetch.
    expect(h.gateway.secretRequests).toHaveLength(1);
    expect(h.gateway.secretRequests[0]!.secrets.map((s) => [s.key, s.namespace])).toEqual([["API_KEY", "main"]]);
  });

  it("sends all vault_don_secrets in the same single round trip", async () => {
    const h = await harness();
    h.gateway.secrets.set("prod/DB", "pw");
    await run(h, secretsProbe(["API_KEY", "DB"], ["main", "prod"]), { secrets: [{ key: "API_KEY" }, { key: "DB", namespace: "prod" }] });
    expect(h.gateway.secretRequests).toHaveLength(1);
    expect(h.gateway.secretRequests[0]!.secrets.map((s) => `${s.namespace}/${s.key}`)).toEqual(["main/API_KEY", "prod/DB"]);
  });

  it("sends the guest's further get_secrets through the gateway", async () => {
    const h = await harness();
    h.gateway.secrets.set("main/OTHER", "other-value");
    const out = await run(h, secretsProbe(["API_KEY", "OTHER"]), { secrets: [{ key: "API_KEY" }] });
    expect(out).toEqual([
      { id: "API_KEY", namespace: "main", sha256: digest("s3cr3t-api-key") },
      { id: "OTHER", namespace: "main", sha256: digest("other-value") },
    ]);
    expect(h.gateway.secretRequests.map((r) => r.secrets.map((s) => s.key))).toEqual([["API_KEY"], ["OTHER"]]);
  });

  it("hands a per-secret error to the guest as a SecretError entry; the other secrets still arrive", async () => {
    const h = await harness();
    const out = await run(h, secretsProbe(["MISSING", "API_KEY"]), { secrets: [{ key: "MISSING" }, { key: "API_KEY" }] });
    expect(out).toEqual([
      { id: "MISSING", namespace: "main", error: "secret not found: main/MISSING" },
      { id: "API_KEY", namespace: "main", sha256: digest("s3cr3t-api-key") },
    ]);
  });

  it("never writes a secret to the logs", async () => {
    const h = await harness();
    await run(h, { mode: "log", count: 1 }, { secrets: [{ key: "API_KEY" }] });
    await run(h, secretsProbe(["API_KEY"]), { secrets: [{ key: "API_KEY" }] });
    expect(h.logs()).not.toContain("s3cr3t-api-key");
    expect(h.logs()).toContain(WORKFLOW_ID);
  });
});

describe("what each relay request carries", () => {
  it("a fresh request id, the clock's timestamp, the enclave key, the DON config, the attestation and the authorization", async () => {
    const h = await harness();
    await run(h, { mode: "capability", id: "echo@1.0.0" }, { secrets: [{ key: "API_KEY" }] }, Buffer.from('{"a":1}'));
    await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from('{"a":2}'));
    const identity = h.host.identity()!;
    const all = [...h.gateway.secretRequests, ...h.gateway.capabilityRequests];
    expect(all).toHaveLength(3);
    expect(new Set(all.map((r) => r.requestId)).size).toBe(3);
    for (const r of all) {
      expect(r.requestId).toMatch(/^enc-[0-9a-f]{32}$/);
      expect(r.timestampMs).toBe(BigInt(NOW_MS));
      expect(r).toMatchObject({ workflowId: WORKFLOW_ID, owner: OWNER, executionId: EXECUTION_ID, orgId: "org-1" });
      expect(r.enclaveConfig!.f).toBe(F);
      expect(r.enclaveConfig!.signers.map(hex).sort()).toEqual(MEMBERS.map((m) => hex(m.publicKey)).sort());
      expect(r.authorization).toEqual(AUTHORIZATION);
    }
    expect(h.gateway.secretRequests[0]!.enclavePublicKey).toEqual(identity.encryptionPublicKey);

    // Binding mode (b): one session document, and a session signature a relay node accepts.
    const verifier = createAttestationVerifier({
      policy: createAttestationPolicy({ allowedPcrSets: [MEASUREMENTS], devMode: true, acceptDebugPcrs: false, devRoots: [identity.devRootCertificateDer!] }),
      clock: h.clock,
    });
    const documents = new Set(all.map((r) => hex(r.attestation!.document)));
    expect(documents.size).toBe(1);
    for (const r of h.gateway.secretRequests) {
      const verdict = verifier.checkRequest(r.attestation!.document, {
        mode: "session_signature",
        bindingHash: secretsBindingHash(r),
        requestTimestampMs: Number(r.timestampMs),
        sessionSignature: r.attestation!.sessionSignature,
      });
      expect(verdict).toMatchObject({ kind: "ok" });
      if (verdict.kind === "ok") expect(verdict.document.sessionKeys?.encryptionPublicKey).toEqual(identity.encryptionPublicKey);
    }
    for (const r of h.gateway.capabilityRequests) {
      expect(
        verifier.checkRequest(r.attestation!.document, {
          mode: "session_signature",
          bindingHash: capabilityBindingHash(r),
          requestTimestampMs: Number(r.timestampMs),
          sessionSignature: r.attestation!.sessionSignature,
        }).kind,
      ).toBe("ok");
    }
  });

  it("gives capability calls deterministic reference ids <execution_id>:<n>", async () => {
    const h = await harness();
    const bin = h.binary(twoCallsGuest());
    await h.client.execute(executeRequest(bin, triggerRequest({})));
    // The same execution run again (a retry) maps each call to the same reference id, so the
    // Capability service's memo answers it instead of repeating the call.
    await h.client.execute(executeRequest(bin, triggerRequest({})));
    expect(h.gateway.capabilityRequests.map((r) => r.referenceId)).toEqual([
      `${EXECUTION_ID}:0`,
      `${EXECUTION_ID}:1`,
      `${EXECUTION_ID}:0`,
      `${EXECUTION_ID}:1`,
    ]);
  });

  it("renews the session document once it is refreshIntervalMs old", async () => {
    const h = await harness({ attestation: { measurements: MEASUREMENTS, refreshIntervalMs: 60_000 } });
    await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from("{}"));
    h.clock.advance(60_000);
    await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from("{}"));
    const [a, b] = h.gateway.capabilityRequests.map((r) => r.attestation!.document);
    expect(hex(a!)).not.toBe(hex(b!));
    const second = parseNitroDocument(b!);
    expect(second.kind === "ok" && second.document.timestampMs).toBe(NOW_MS + 60_000);
  });

  it("binding mode (a): a fresh document per request with user_data = the binding hash", async () => {
    const h = await harness({ attestation: { measurements: MEASUREMENTS, bindingMode: "user-data" } });
    await run(h, secretsProbe(["API_KEY"]), { secrets: [{ key: "API_KEY" }] });
    await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from("{}"));
    const s = h.gateway.secretRequests[0]!;
    const c = h.gateway.capabilityRequests[0]!;
    expect(s.attestation!.sessionSignature).toHaveLength(0);
    const sd = parseNitroDocument(s.attestation!.document);
    const cd = parseNitroDocument(c.attestation!.document);
    expect(sd.kind === "ok" && hex(sd.document.userData!)).toBe(hex(secretsBindingHash(s)));
    expect(cd.kind === "ok" && hex(cd.document.userData!)).toBe(hex(capabilityBindingHash(c)));
    expect(h.host.stats().attestationDocuments).toMatchObject({ session: 0, per_request: 2 });
  });
});

describe("capability calls", () => {
  it("return the capability's payload to the guest", async () => {
    const h = await harness();
    const out = await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from('{"hello":"enclave"}'));
    expect(out).toBe('{"hello":"enclave"}');
    expect(h.gateway.capabilityRequests[0]!.capabilityId).toBe("echo@1.0.0");
  });

  it("pass the capability's own error to the guest", async () => {
    const h = await harness();
    h.gateway.capability = () => ({ error: "http-fetch: host x is not on the allowlist" });
    expect(await run(h, { mode: "capability", id: "http-fetch@1.0.0" })).toEqual({
      workflowError: "capability failed: http-fetch: host x is not on the allowlist",
    });
  });
});

describe("forged quorum certificates are rejected and their data never used", () => {
  const cases: Array<[CertificatePlan, string]> = [
    ["only-f", "relay answer rejected: quorum certificate has 1 valid member signatures, need 2"],
    ["non-member", "relay answer rejected: quorum certificate has 1 valid member signatures, need 2"],
    ["other-request", "relay answer rejected: quorum certificate is for another result or request"],
    ["tampered", "relay answer rejected: quorum certificate is for another result or request"],
  ];

  it.each(cases)("secrets, %s", async (plan, message) => {
    const h = await harness();
    h.gateway.plan = plan;
    const out = await run(h, secretsProbe(["API_KEY"]), { secrets: [{ key: "API_KEY" }] });
    expect(out).toEqual([{ id: "API_KEY", namespace: "main", error: message }]);
  });

  it.each(cases)("capability, %s", async (plan, message) => {
    const h = await harness();
    h.gateway.plan = plan;
    const out = await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from('{"real":true}'));
    expect(out).toEqual({ workflowError: `capability failed: ${message}` });
  });

  it("the same certificates are accepted when honest (control)", async () => {
    const h = await harness();
    expect(await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from('{"real":true}'))).toBe('{"real":true}');
  });
});

describe("attestation failures", () => {
  it("a producer failure (an NSM that does not answer) reaches the guest as an error; Info answers Internal", async () => {
    const measurements = { pcr0: new Uint8Array(48).fill(1), pcr1: new Uint8Array(48).fill(2), pcr2: new Uint8Array(48).fill(3) };
    const producer = {
      kind: "nsm" as const,
      moduleId: "i-broken-nsm",
      measurements: () => measurements,
      attest: async (): Promise<Uint8Array> => {
        throw new Error("nsm unavailable");
      },
    };
    const h = await harness({ attestation: { bindingMode: "user-data" } }, { producer });
    expect(h.host.identity()).toMatchObject({ producer: "nsm", moduleId: "i-broken-nsm", devRootCertificateDer: undefined });
    expect(await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from("{}"))).toEqual({
      workflowError: "capability failed: enclave could not attest the request: nsm unavailable",
    });
    expect(h.gateway.capabilityRequests).toHaveLength(0);
    const error = await h.client.info({}).then(
      () => undefined,
      (e: unknown) => e as { code: Code; rawMessage: string },
    );
    expect(error).toMatchObject({ code: Code.Internal, rawMessage: "could not produce an attestation document" });
  });
});

describe("relay errors", () => {
  it("an agreed RelayError reaches the guest once its certificate checks out", async () => {
    const h = await harness();
    h.gateway.plan = { relayError: { code: Code.PermissionDenied, message: "attestation: pcr0 not in allowlist" } };
    expect(await run(h, secretsProbe(["API_KEY"]), { secrets: [{ key: "API_KEY" }] })).toEqual([
      { id: "API_KEY", namespace: "main", error: "relay refused the request (PermissionDenied): attestation: pcr0 not in allowlist" },
    ]);
  });

  it("a RelayError without a valid certificate is reported as such", async () => {
    const h = await harness();
    h.gateway.plan = { relayError: { code: Code.PermissionDenied, message: "you are not allowed" }, certificate: "only-f" };
    expect(await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from("{}"))).toEqual({
      workflowError: "capability failed: relay error rejected: quorum certificate has 1 valid member signatures, need 2 (gateway answered PermissionDenied)",
    });
  });

  it("a transport error reaches the guest as an error", async () => {
    const h = await harness();
    h.gateway.plan = { transportError: { code: Code.Unavailable, message: "quorum unobtainable" } };
    expect(await run(h, { mode: "capability", id: "echo@1.0.0" }, {}, Buffer.from("{}"))).toEqual({
      workflowError: "capability failed: relay call failed (Unavailable): quorum unobtainable",
    });
    expect(await run(h, secretsProbe(["API_KEY"]), { secrets: [{ key: "API_KEY" }] })).toEqual([
      { id: "API_KEY", namespace: "main", error: "relay call failed (Unavailable): quorum unobtainable" },
    ]);
  });
});
