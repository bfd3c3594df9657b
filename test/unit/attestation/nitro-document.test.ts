import { describe, expect, it } from "vitest";
import { encodeCbor } from "../../../src/domain/attestation/cbor.js";
import { NITRO_LIMITS, coseSigStructure, parseNitroDocument } from "../../../src/domain/attestation/nitro-document.js";
import {
  EXAMPLE_TIMESTAMP_MS,
  INVALID_TIMESTAMP_MS,
  Raw,
  T0,
  buildDocument,
  defaultPcrs,
  makePki,
  readVector,
  type DocSpec,
} from "./fixtures.js";

const pki = makePki("nitro-document");

function parse(spec: Partial<DocSpec>) {
  return parseNitroDocument(buildDocument({ pki, timestampMs: T0, ...spec }));
}

function malformed(spec: Partial<DocSpec>): string {
  const r = parse(spec);
  if (r.kind !== "malformed") throw new Error("expected a malformed document");
  return r.detail;
}

describe("parseNitroDocument: real AWS vectors", () => {
  it("parses example_attestation with the fields its README lists", () => {
    const r = parseNitroDocument(readVector("example_attestation.b64"));
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    const d = r.document;
    expect(d.moduleId).toBe("i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a");
    expect(d.timestampMs).toBe(EXAMPLE_TIMESTAMP_MS);
    expect(d.pcrs.size).toBe(16);
    expect(Buffer.from(d.pcrs.get(0) as Uint8Array).equals(Buffer.alloc(48))).toBe(true);
    expect(Buffer.from(d.pcrs.get(3) as Uint8Array).toString("hex")).toMatch(/^671ca1e328f75015/);
    expect(Buffer.from(d.publicKey as Uint8Array).toString()).toBe("dummy");
    expect(d.userData?.length).toBe(68);
    expect(Buffer.from(d.nonce as Uint8Array).toString("hex")).toBe("00".repeat(19) + "01");
    expect(d.cabundle.length).toBe(4);
    expect(d.signature.length).toBe(96);
  });

  it("parses invalid_attestation (its problem is the signature, not the structure)", () => {
    const r = parseNitroDocument(readVector("invalid_attestation.b64"));
    expect(r.kind).toBe("ok");
    if (r.kind === "ok") expect(r.document.timestampMs).toBe(INVALID_TIMESTAMP_MS);
  });

  it("copies fields, so reusing the input buffer does not change a parsed document", () => {
    const bytes = readVector("example_attestation.b64");
    const r = parseNitroDocument(bytes);
    bytes.fill(0);
    if (r.kind !== "ok") throw new Error("expected ok");
    expect(r.document.moduleId).toBe("i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a");
    expect(Buffer.from(r.document.publicKey as Uint8Array).toString()).toBe("dummy");
  });

  it("builds the Sig_structure around the original bytes", () => {
    const s = coseSigStructure(Uint8Array.of(0xa1, 0x01, 0x38, 0x22), Uint8Array.of(0xa0));
    expect(Buffer.from(s).toString("hex")).toBe("846a5369676e61747572653144a101382240" + "41a0");
  });
});

describe("parseNitroDocument: generated documents", () => {
  it("accepts a well-formed document, tagged (18) or not, with absent or null optional fields", () => {
    expect(parse({}).kind).toBe("ok");
    expect(parse({ tag: 18 }).kind).toBe("ok");
    const r = parse({ fields: { public_key: undefined, user_data: undefined, nonce: undefined } });
    expect(r.kind === "ok" && r.document.nonce).toBe(null);
  });

  it.each([
    ["a tag other than 18", { tag: 17 }, /tag 17 is not COSE_Sign1/],
    ["alg other than ES384", { protectedHeader: encodeCbor({ mapEntries: [[1, -7]] }) }, /ES384/],
    ["alg given as text", { protectedHeader: encodeCbor({ mapEntries: [[1, "ES384"]] }) }, /ES384/],
    [
      "an extra protected header parameter",
      { protectedHeader: encodeCbor({ mapEntries: [[1, -35], [4, new Uint8Array(1)]] }) },
      /exactly \{1: alg\}/,
    ],
    ["a 95-byte signature", { mapSignature: (s: Uint8Array) => s.subarray(0, 95) }, /96 bytes/],
    ["a 64-byte (P-256 sized) signature", { mapSignature: (s: Uint8Array) => s.subarray(0, 64) }, /96 bytes/],
    ["an extra field", { fields: { extra: 1 } }, /unknown field "extra"/],
    ["a long unknown field name (quoted, cut to 32 characters)", { fields: { ["x".repeat(100)]: 1 } }, /unknown field "x{32}…"$/],
    ["a missing field", { fields: { cabundle: undefined } }, /lacks cabundle/],
    ["module_id of the wrong type", { fields: { module_id: new Uint8Array(4) } }, /module_id must be text/],
    ["timestamp of the wrong type", { fields: { timestamp: "1" } }, /timestamp must be/],
    ["a negative timestamp", { fields: { timestamp: -1 } }, /timestamp must be/],
    ["digest other than SHA384", { fields: { digest: "SHA256" } }, /digest must be "SHA384"/],
    ["pcrs of the wrong type", { fields: { pcrs: [] } }, /pcrs must be a map/],
    ["cabundle of the wrong type", { fields: { cabundle: new Uint8Array(10) } }, /cabundle must be an array/],
    ["user_data of the wrong type", { fields: { user_data: "text" } }, /user_data must be a byte string/],
  ])("rejects %s", (_name, spec, message) => {
    expect(malformed(spec as Partial<DocSpec>)).toMatch(message);
  });

  it("rejects indefinite-length strings in the payload", () => {
    // module_id as an indefinite-length text string: 7f 63 "i-0" ff
    const indefiniteText = new Raw(Uint8Array.of(0x7f, 0x63, 0x69, 0x2d, 0x30, 0xff));
    expect(malformed({ fields: { module_id: indefiniteText } })).toMatch(/indefinite-length text strings/);
    const indefiniteBytes = new Raw(Uint8Array.of(0x5f, 0x42, 1, 2, 0x41, 3, 0xff));
    expect(malformed({ fields: { user_data: indefiniteBytes } })).toMatch(/indefinite-length byte strings/);
  });

  it("rejects an indefinite-length payload byte string in the COSE structure", () => {
    const good = buildDocument({ pki, timestampMs: T0 });
    // COSE: 84 44 <a1013822> a0 59 <len16> <payload> 58 60 <sig>
    const payloadLength = (good[7] as number) * 256 + (good[8] as number);
    const payload = good.subarray(9, 9 + payloadLength);
    const rebuilt = Buffer.concat([
      good.subarray(0, 6),
      Buffer.from([0x5f, 0x59, good[7] as number, good[8] as number]),
      payload,
      Buffer.from([0xff]),
      good.subarray(9 + payloadLength),
    ]);
    const r = parseNitroDocument(rebuilt);
    expect(r.kind === "malformed" && r.detail).toMatch(/indefinite-length byte strings/);
  });

  describe("bounded field sizes", () => {
    const big = (n: number): Uint8Array => new Uint8Array(n).fill(1);
    it.each([
      ["public_key", NITRO_LIMITS.maxOptionalFieldBytes],
      ["user_data", NITRO_LIMITS.maxOptionalFieldBytes],
      ["nonce", NITRO_LIMITS.maxOptionalFieldBytes],
    ])("%s: %d bytes accepted, one more rejected", (field, limit) => {
      expect(parse({ fields: { [field]: big(limit) } }).kind).toBe("ok");
      expect(malformed({ fields: { [field]: big(limit + 1) } })).toMatch(new RegExp(`${field} must be at most ${limit}`));
    });

    it("module_id: 1–256 bytes", () => {
      expect(parse({ fields: { module_id: "m".repeat(256) } }).kind).toBe("ok");
      expect(malformed({ fields: { module_id: "m".repeat(257) } })).toMatch(/module_id must be 1–256 bytes/);
      expect(malformed({ fields: { module_id: "" } })).toMatch(/module_id must be 1–256 bytes/);
    });

    it("certificate and cabundle entries: 1–2048 bytes; cabundle: 1–8 entries", () => {
      expect(malformed({ fields: { certificate: big(2049) } })).toMatch(/certificate must be 1–2048 bytes/);
      expect(malformed({ fields: { certificate: new Uint8Array(0) } })).toMatch(/certificate must be 1–2048 bytes/);
      expect(malformed({ fields: { cabundle: [big(2049)] } })).toMatch(/cabundle\[0\] must be 1–2048 bytes/);
      expect(malformed({ fields: { cabundle: [] } })).toMatch(/cabundle must have 1–8 entries/);
      expect(malformed({ fields: { cabundle: Array.from({ length: 9 }, () => big(10)) } })).toMatch(
        /cabundle must have 1–8 entries/,
      );
    });

    it("pcrs: 1–32 entries, index 0–31, values of 32, 48 or 64 bytes, PCR0..2 present", () => {
      const pcrs = (entries: [number, Uint8Array][]) => ({ pcrs: new Map([...defaultPcrs(), ...entries]) });
      expect(parse(pcrs([[3, new Uint8Array(32)], [4, new Uint8Array(64)]])).kind).toBe("ok");
      expect(malformed(pcrs([[3, new Uint8Array(47)]]))).toMatch(/pcrs\[3\] must be 32, 48 or 64 bytes, got 47/);
      expect(malformed(pcrs([[32, new Uint8Array(48)]]))).toMatch(/pcr index must be an integer 0–31/);
      const many = new Map<number, Uint8Array>();
      for (let i = 0; i < 32; i++) many.set(i, new Uint8Array(48).fill(1));
      expect(parse({ pcrs: many }).kind).toBe("ok");
      const only01 = new Map([...defaultPcrs()].filter(([i]) => i !== 2));
      expect(malformed({ pcrs: only01 })).toMatch(/lacks PCR2/);
      expect(malformed({ pcrs: new Map() })).toMatch(/pcrs must have 1–32 entries/);
    });

    it("the whole document: at most 32 KiB", () => {
      const r = parseNitroDocument(new Uint8Array(NITRO_LIMITS.maxDocumentBytes + 1));
      expect(r.kind === "malformed" && r.detail).toMatch(/more than 32768/);
    });
  });

  it("rejects a COSE array of the wrong length and a non-empty unprotected header", () => {
    expect(parseNitroDocument(encodeCbor([new Uint8Array(1), { mapEntries: [] }, new Uint8Array(1)]))).toEqual({
      kind: "malformed",
      detail: "COSE_Sign1 must be an array of 4 items",
    });
    const header = encodeCbor({ mapEntries: [[1, -35]] });
    const withUnprotected = encodeCbor([header, { mapEntries: [[4, new Uint8Array(2)]] }, encodeCbor({ mapEntries: [] }), new Uint8Array(96)]);
    expect(parseNitroDocument(withUnprotected)).toEqual({
      kind: "malformed",
      detail: "COSE unprotected header must be an empty map",
    });
  });
});
