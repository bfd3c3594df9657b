/**
 * Test vectors for every relay hash and signature layout (src/contract/relay-hash.ts). The same
 * vectors are published in docs/relay-protocol.md §5; the last test checks that the document still
 * lists them, so an implementer in another language can trust the page.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  answerSignaturePayload,
  authorizationPayload,
  capabilityBindingHash,
  CapabilityResultSchema,
  ExecuteCapabilityRequestSchema,
  GetSecretsRequestSchema,
  handshakePayload,
  relayResultHash,
  RelayErrorSchema,
  SecretErrorKind,
  secretsBindingHash,
  SecretsResultSchema,
  type GetSecretsRequest,
  type RelayResult,
} from "../../../src/contract/index.js";
import { ed25519SignerFromSeed, ed25519Verify } from "../../../src/domain/crypto/ed25519.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

const VECTORS = {
  secretsBindingHash: "2d51bdffd735580518419fb0dc2eb7513d694524915248b6ab6d139fa74c4649",
  capabilityBindingHash: "908cf432aaaeda0da4569da4a00df76bc1217c45a08d551231ed41e72a2da9f3",
  secretsResultHash: "4879518606c3c1f11c6408c4bf8b3b41254827a975a5cea0708305834b89ee17",
  capabilityResultHash: "1479d2987490a1442efe79c0b07eb6d18fc711fe24aebc37391ccdb445ddbd43",
  errorResultHash: "1442f6e520de6c1c9817281121b1e7bd3859cec1fa10d919e4fa011e6257fbf6",
  answerPayload:
    "6363722e76312e72656c61792e616e737765720000000000000000201479d2987490a1442efe79c0b07eb6d18fc711fe24aebc37391ccdb445ddbd43",
  nodePublicKey: "677a74d964e4a84ffa5025a8b5537b5c4a37ad6d146e854783ac734684a207c4",
  answerSignature:
    "6c6d77abd89568f81d056d9212d50344a701499c3ec7915d1b099a957e6a2d4be407c37d3cac7c2365c97b6191a507a4f799519281e6f2b761e04b1799ed4e0d",
  handshakePayload:
    "6363722e76312e676174657761792e68616e647368616b6500000000000000000467772d310000000000000005646f6e2d310000018bcfe56800000000000000002033333333333333333333333333333333333333333333333333333333333333330000000000000020677a74d964e4a84ffa5025a8b5537b5c4a37ad6d146e854783ac734684a207c4",
  handshakeSignature:
    "de7e529b1c371604fb08243d543d2b12e787b092da753326f4d8bf1971f8c7babf850652a6891e9240adcd1ac47cfe540be428d32dedf48c336bfe419c783c0c",
  authorizationPayload:
    "6363722e76312e776f726b666c6f772e617574686f72697a6174696f6e00000000000000002a307835616165623630353366336539346339623961303966333336363934333565376566316265616564000000000000004061626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162000000000000004063646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364636463646364",
} as const;

const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

function secretsRequest(overrides: Exclude<MessageInitShape<typeof GetSecretsRequestSchema>, GetSecretsRequest> = {}) {
  return create(GetSecretsRequestSchema, {
    requestId: "req-1",
    workflowId: "ab".repeat(32),
    owner: OWNER,
    executionId: "cd".repeat(32),
    orgId: "org-1",
    secrets: [{ key: "API_KEY" }, { key: "DB_PASSWORD", namespace: "prod" }],
    enclavePublicKey: fill(32, 7),
    enclaveConfig: { signers: [fill(32, 2), fill(32, 1)], f: 1 },
    timestampMs: 1_700_000_000_000n,
    attestation: { document: utf8("doc") },
    authorization: { signatures: [{ signer: fill(32, 0x0a), signature: fill(64, 0x0b) }] },
    ...overrides,
  });
}

const capabilityRequest = create(ExecuteCapabilityRequestSchema, {
  requestId: "req-2",
  workflowId: "ab".repeat(32),
  owner: OWNER,
  executionId: "cd".repeat(32),
  referenceId: "17",
  capabilityId: "echo@1.0.0",
  payload: utf8("hello"),
  timestampMs: 1_700_000_000_000n,
});

const secretsResult: RelayResult = {
  case: "secrets",
  value: create(SecretsResultSchema, {
    secrets: [
      { id: { key: "API_KEY", namespace: "main" }, outcome: { case: "encrypted", value: { encapsulatedKey: fill(32, 0x11), ciphertext: fill(48, 0x22) } } },
      {
        id: { key: "DB_PASSWORD", namespace: "prod" },
        outcome: { case: "error", value: { kind: SecretErrorKind.NOT_FOUND, message: "secret not found: prod/DB_PASSWORD" } },
      },
    ],
  }),
};
const capabilityResult: RelayResult = { case: "capability", value: create(CapabilityResultSchema, { payload: utf8("hello") }) };
const errorResult: RelayResult = { case: "error", value: create(RelayErrorSchema, { code: 5, message: "secret not found: main/API_KEY" }) };
const nodeSigner = ed25519SignerFromSeed(fill(32, 0x40));

// An independent encoder for the documented framing (not CanonicalWriter), to pin the layout itself.
function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
const bytes = (b: Uint8Array): Buffer => Buffer.concat([u64(b.length), b]);
const str = (s: string): Buffer => bytes(utf8(s));
const domain = (d: string): Buffer => Buffer.from(`${d}\0`);

describe("relay hash layouts (docs/relay-protocol.md §5)", () => {
  it("binding hash of confidential.secrets.get", () => {
    expect(hex(secretsBindingHash(secretsRequest()))).toBe(VECTORS.secretsBindingHash);
  });

  it("binding hash of confidential.capability.execute, byte for byte as documented", () => {
    const preimage = Buffer.concat([
      domain("ccr.v1.relay.binding"),
      str("confidential.capability.execute"),
      str("req-2"),
      u64(1_700_000_000_000n),
      str("ab".repeat(32)),
      str(OWNER),
      str("cd".repeat(32)),
      str(""), // org_id
      str("17"),
      str("echo@1.0.0"),
      bytes(utf8("hello")),
      Buffer.of(0), // no enclave_config
      u64(0), // no authorization signatures
    ]);
    const expected = createHash("sha256").update(preimage).digest("hex");
    expect(expected).toBe(VECTORS.capabilityBindingHash);
    expect(hex(capabilityBindingHash(capabilityRequest))).toBe(VECTORS.capabilityBindingHash);
  });

  it("the binding hash excludes the attestation, treats signers as a set and an unset namespace as main", () => {
    const base = hex(secretsBindingHash(secretsRequest()));
    expect(hex(secretsBindingHash(secretsRequest({ attestation: { document: utf8("other"), sessionSignature: fill(64, 1) } })))).toBe(base);
    expect(hex(secretsBindingHash(secretsRequest({ enclaveConfig: { signers: [fill(32, 1), fill(32, 2)], f: 1 } })))).toBe(base);
    expect(hex(secretsBindingHash(secretsRequest({ secrets: [{ key: "API_KEY", namespace: "main" }, { key: "DB_PASSWORD", namespace: "prod" }] })))).toBe(base);
    // Everything else is covered.
    expect(hex(secretsBindingHash(secretsRequest({ requestId: "req-2" })))).not.toBe(base);
    expect(hex(secretsBindingHash(secretsRequest({ timestampMs: 1_700_000_000_001n })))).not.toBe(base);
    expect(hex(secretsBindingHash(secretsRequest({ enclaveConfig: { signers: [fill(32, 1), fill(32, 2)], f: 2 } })))).not.toBe(base);
    expect(hex(secretsBindingHash(secretsRequest({ enclaveConfig: undefined })))).not.toBe(base);
    expect(hex(secretsBindingHash(secretsRequest({ authorization: undefined })))).not.toBe(base);
  });

  it("result hashes of a secrets result, a capability result and an agreed error", () => {
    const sb = secretsBindingHash(secretsRequest());
    expect(hex(relayResultHash(sb, secretsResult))).toBe(VECTORS.secretsResultHash);
    expect(hex(relayResultHash(capabilityBindingHash(capabilityRequest), capabilityResult))).toBe(VECTORS.capabilityResultHash);
    expect(hex(relayResultHash(sb, errorResult))).toBe(VECTORS.errorResultHash);
  });

  it("the capability result hash, byte for byte as documented", () => {
    const preimage = Buffer.concat([
      domain("ccr.v1.relay.result"),
      bytes(Buffer.from(VECTORS.capabilityBindingHash, "hex")),
      Buffer.of(2),
      bytes(utf8("hello")),
      str(""),
    ]);
    expect(createHash("sha256").update(preimage).digest("hex")).toBe(VECTORS.capabilityResultHash);
  });

  it("a result hash binds the result to its request: the same result for another request hashes differently", () => {
    const other = secretsBindingHash(secretsRequest({ requestId: "req-9" }));
    expect(hex(relayResultHash(other, secretsResult))).not.toBe(VECTORS.secretsResultHash);
  });

  it("the answer signature payload and a node's signature over it", () => {
    const payload = answerSignaturePayload(Buffer.from(VECTORS.capabilityResultHash, "hex"));
    expect(hex(payload)).toBe(VECTORS.answerPayload);
    expect(Buffer.from(payload).equals(Buffer.concat([domain("ccr.v1.relay.answer"), bytes(Buffer.from(VECTORS.capabilityResultHash, "hex"))]))).toBe(true);
    expect(hex(nodeSigner.publicKey)).toBe(VECTORS.nodePublicKey);
    expect(hex(nodeSigner.sign(payload))).toBe(VECTORS.answerSignature); // ed25519 is deterministic
    expect(ed25519Verify(nodeSigner.publicKey, payload, Buffer.from(VECTORS.answerSignature, "hex"))).toBe(true);
  });

  it("the handshake payload and signature", () => {
    const payload = handshakePayload({
      gatewayId: "gw-1",
      donId: "don-1",
      timestampMs: 1_700_000_000_000,
      nonce: fill(32, 0x33),
      nodePublicKey: nodeSigner.publicKey,
    });
    expect(hex(payload)).toBe(VECTORS.handshakePayload);
    expect(
      Buffer.from(payload).equals(
        Buffer.concat([domain("ccr.v1.gateway.handshake"), str("gw-1"), str("don-1"), u64(1_700_000_000_000), bytes(fill(32, 0x33)), bytes(nodeSigner.publicKey)]),
      ),
    ).toBe(true);
    expect(hex(nodeSigner.sign(payload))).toBe(VECTORS.handshakeSignature);
  });

  it("the authorization payload lowercases the owner", () => {
    const payload = authorizationPayload({ owner: OWNER, workflowId: "ab".repeat(32), executionId: "cd".repeat(32) });
    expect(hex(payload)).toBe(VECTORS.authorizationPayload);
    expect(hex(authorizationPayload({ owner: OWNER.toLowerCase(), workflowId: "ab".repeat(32), executionId: "cd".repeat(32) }))).toBe(
      VECTORS.authorizationPayload,
    );
  });

  it("docs/relay-protocol.md publishes every vector", () => {
    const doc = readFileSync(new URL("../../../docs/relay-protocol.md", import.meta.url), "utf8").replace(/\s+/g, "");
    for (const [name, value] of Object.entries(VECTORS)) {
      expect(doc.includes(value), `docs/relay-protocol.md is missing the ${name} vector`).toBe(true);
    }
  });
});
