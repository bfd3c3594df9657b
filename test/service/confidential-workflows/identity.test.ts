/**
 * The enclave's identity (issue 6, "Attestation producer"): boot-time keys, measurements computed
 * from the build or configured, documents from the dev producer chained to the configured or an
 * ephemeral dev authority, `Info` with the caller's nonce — and the Vault's documented secret-box
 * vectors opened through the whole secrets path.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createAttestationPolicy,
  createAttestationVerifier,
  createDevRootAuthority,
  encodeEnclaveSessionKeys,
  parseNitroDocument,
} from "../../../src/domain/attestation/index.js";
import { computeEnclaveMeasurements, MEASURED_SOURCES } from "../../../src/services/confidential-workflows/index.js";
import { defaultSourceRoot } from "../../../src/services/confidential-workflows/measurements.js";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import { counterRandom, executeRequest, hex, MEASUREMENTS, NOW_MS, resultOf, sha256, startHarness, triggerRequest, type Harness } from "./harness.js";

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

describe("Info", () => {
  it("returns the public keys, the measurements and a fresh document carrying the caller's nonce", async () => {
    const h = await harness();
    const nonce = new Uint8Array(64).fill(0x5a);
    const info = await h.client.info({ nonce });
    const identity = h.host.identity()!;
    expect(info.capabilityId).toBe("confidential-workflows@1.0.0-alpha");
    expect(hex(info.encryptionPublicKey)).toBe(hex(identity.encryptionPublicKey));
    expect(hex(info.sessionPublicKey)).toBe(hex(identity.sessionPublicKey));
    expect(info.pcrs.map(hex)).toEqual([MEASUREMENTS.pcr0, MEASUREMENTS.pcr1, MEASUREMENTS.pcr2]);

    const parsed = parseNitroDocument(info.attestationDocument);
    if (parsed.kind !== "ok") throw new Error(parsed.kind);
    expect(hex(parsed.document.nonce!)).toBe(hex(nonce));
    expect(hex(parsed.document.publicKey!)).toBe(
      hex(encodeEnclaveSessionKeys({ sessionPublicKey: identity.sessionPublicKey, encryptionPublicKey: identity.encryptionPublicKey })),
    );
    expect(parsed.document.timestampMs).toBe(NOW_MS);

    const verifier = createAttestationVerifier({
      policy: createAttestationPolicy({ allowedPcrSets: [MEASUREMENTS], devMode: true, acceptDebugPcrs: false, devRoots: [identity.devRootCertificateDer!] }),
      clock: h.clock,
    });
    expect(verifier.verifyDocument(info.attestationDocument)).toMatchObject({ kind: "ok" });
  });

  it("refuses a nonce over 64 bytes", async () => {
    const h = await harness();
    const error = await h.client.info({ nonce: new Uint8Array(65) }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toBe("nonce must be at most 64 bytes");
  });

  it("signs with a leaf of the configured dev authority (the CA `ccr init` writes)", async () => {
    const authority = createDevRootAuthority({ nowMs: NOW_MS - 1000, randomBytes: counterRandom(), commonName: "test dev root" });
    const h = await harness({
      attestation: { measurements: MEASUREMENTS, devAuthority: { certificatePem: authority.certificatePem, privateKeyPem: authority.privateKeyPem }, moduleId: "i-test-enc01" },
    });
    const identity = h.host.identity()!;
    expect(hex(identity.devRootCertificateDer!)).toBe(hex(authority.certificateDer));
    expect(identity.moduleId).toBe("i-test-enc01");
    const info = await h.client.info({});
    const verifier = createAttestationVerifier({
      policy: createAttestationPolicy({ allowedPcrSets: [MEASUREMENTS], devMode: true, devRoots: [authority.certificatePem] }),
      clock: h.clock,
    });
    expect(verifier.verifyDocument(info.attestationDocument)).toMatchObject({ kind: "ok", document: { moduleId: "i-test-enc01" } });
  });

  it("each start of a host is a new identity", async () => {
    const flipped = counterRandom();
    const a = await harness({}, { randomBytes: counterRandom() });
    const b = await harness({}, { randomBytes: (n) => flipped(n).map((x) => x ^ 0xff) });
    expect(hex(a.host.identity()!.encryptionPublicKey)).not.toBe(hex(b.host.identity()!.encryptionPublicKey));
    expect(hex(a.host.identity()!.sessionPublicKey)).not.toBe(hex(b.host.identity()!.sessionPublicKey));
  });
});

describe("measurements", () => {
  it("are computed from the enclave build's sources when none are configured", async () => {
    const h = await harness({ attestation: {} });
    const expected = await computeEnclaveMeasurements();
    const m = h.host.identity()!.measurements;
    expect([m.pcr0, m.pcr1, m.pcr2].map(hex)).toEqual([expected.pcr0, expected.pcr1, expected.pcr2].map(hex));
    for (const pcr of [m.pcr0, m.pcr1, m.pcr2]) expect(pcr).toHaveLength(48);
  });

  it("change when a measured source file changes (PCR2: the enclave host, PCR1: the runtime)", async () => {
    const root = mkdtempSync(join(tmpdir(), "ccr-measure-"));
    try {
      for (const dir of [...MEASURED_SOURCES.pcr1, ...MEASURED_SOURCES.pcr2]) cpSync(join(defaultSourceRoot(), dir), join(root, dir), { recursive: true });
      const before = await computeEnclaveMeasurements(root);
      expect(hex(before.pcr2)).toBe(hex((await computeEnclaveMeasurements()).pcr2));
      const file = join(root, "src/services/confidential-workflows/options.ts");
      writeFileSync(file, readFileSync(file, "utf8") + "\n// one more line\n");
      const after = await computeEnclaveMeasurements(root);
      expect(hex(after.pcr1)).toBe(hex(before.pcr1));
      expect(hex(after.pcr2)).not.toBe(hex(before.pcr2));
      expect(hex(after.pcr0)).not.toBe(hex(before.pcr0));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** The test vectors exactly as published in docs/secret-encryption.md. */
function documentedVectors(): Array<Record<string, string>> {
  const doc = readFileSync(new URL("../../../docs/secret-encryption.md", import.meta.url), "utf8");
  return [...doc.matchAll(/```text vector\n([\s\S]*?)```/g)].map((block) => {
    const fields: Record<string, string> = {};
    for (const line of block[1]!.split("\n")) {
      const match = /^([a-z_]+)\s*=\s*(.*)$/.exec(line.trim());
      if (match) fields[match[1]!] = (fields[match[1]!] ?? "") + match[2]!.trim();
    }
    return fields;
  });
}

describe("decryption round trip against the Vault's documented vectors", () => {
  const vectors = documentedVectors();

  it("the page publishes vectors", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(2);
  });

  it.each(vectors.map((v, i) => [i + 1, v] as const))("vector %i: the guest receives the plaintext through the relay path", async (_, v) => {
    const h = await harness({}, { keys: { encryptionPrivateKey: Buffer.from(v["enclave_private_key"]!, "hex"), sessionSeed: new Uint8Array(32).fill(3) } });
    expect(hex(h.host.identity()!.encryptionPublicKey)).toBe(v["enclave_public_key"]);
    h.gateway.boxes.set(`${v["namespace"]}/${v["key"]}`, {
      encapsulatedKey: Buffer.from(v["encapsulated_key"]!, "hex"),
      ciphertext: Buffer.from(v["ciphertext"]!, "hex"),
    });
    const plaintext = Buffer.from(v["plaintext"]!, "hex").toString("utf8");
    const bin = h.binary(probe);
    const res = await h.client.execute(
      executeRequest(bin, triggerRequest({ mode: "secrets", keys: [v["key"]], namespaces: [v["namespace"]] }), {
        owner: v["owner"]!,
        secrets: [{ key: v["key"]!, namespace: v["namespace"]! }],
      }),
    );
    const result = resultOf(res.executionResult);
    expect(result.result.case).toBe("value");
    const json = result.result.case === "value" ? result.result.value : undefined;
    const entry = json?.kind.case === "listValue" ? json.kind.value.values[0] : undefined;
    const fields = entry?.kind.case === "structValue" ? entry.kind.value.fields : {};
    expect(fields["sha256"]?.kind).toEqual({ case: "stringValue", value: hex(sha256(plaintext)) });
  });

  it("a box for another owner does not open (the identity is bound into the key schedule)", async () => {
    const v = vectors[0]!;
    const h = await harness({}, { keys: { encryptionPrivateKey: Buffer.from(v["enclave_private_key"]!, "hex"), sessionSeed: new Uint8Array(32).fill(3) } });
    h.gateway.boxes.set(`${v["namespace"]}/${v["key"]}`, { encapsulatedKey: Buffer.from(v["encapsulated_key"]!, "hex"), ciphertext: Buffer.from(v["ciphertext"]!, "hex") });
    const bin = h.binary(probe);
    const res = await h.client.execute(
      executeRequest(bin, triggerRequest({ mode: "secrets", keys: [v["key"]], namespaces: [v["namespace"]] }), {
        owner: "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        secrets: [{ key: v["key"]!, namespace: v["namespace"]! }],
      }),
    );
    const result = resultOf(res.executionResult);
    const json = result.result.case === "value" ? result.result.value : undefined;
    const entry = json?.kind.case === "listValue" ? json.kind.value.values[0] : undefined;
    const fields = entry?.kind.case === "structValue" ? entry.kind.value.fields : {};
    expect(fields["error"]?.kind).toEqual({ case: "stringValue", value: "secret could not be decrypted by this enclave" });
  });
});
