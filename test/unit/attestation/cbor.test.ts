import { describe, expect, it } from "vitest";
import { CborError, decodeCbor, encodeCbor } from "../../../src/domain/attestation/cbor.js";

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ""), "hex"));

describe("strict CBOR decoder", () => {
  it("decodes the subset a Nitro document uses", () => {
    const v = decodeCbor(h("a3 01 38 22 63 6b6579 43 010203 02 83 f6 f5 f4"));
    expect(v).toEqual(
      new Map<number | string, unknown>([
        [1, -35],
        ["key", new Uint8Array([1, 2, 3])],
        [2, [null, true, false]],
      ]),
    );
  });

  it("decodes 1-, 2-, 4- and 8-byte integers", () => {
    expect(decodeCbor(h("18 ff"))).toBe(255);
    expect(decodeCbor(h("19 0102"))).toBe(0x0102);
    expect(decodeCbor(h("1a 01020304"))).toBe(0x01020304);
    expect(decodeCbor(h("1b 00000191d8554450"))).toBe(1725911352400);
    expect(decodeCbor(h("1b 001fffffffffffff"))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => decodeCbor(h("1b 0020000000000000"))).toThrow(/too large/);
  });

  it.each([
    ["indefinite-length byte string", "5f 41 00 ff", /indefinite-length byte strings/],
    ["indefinite-length text string", "7f 61 61 ff", /indefinite-length text strings/],
    ["indefinite-length array", "9f 01 ff", /indefinite-length arrays/],
    ["indefinite-length map", "bf 01 02 ff", /indefinite-length maps/],
    ["float", "f9 3c00", /floats/],
    ["undefined", "f7", /undefined/],
    ["break outside an indefinite item", "ff", /break/],
    ["reserved additional info", "1c", /reserved/],
    ["duplicate map keys", "a2 01 01 01 02", /duplicate map key/],
    ["byte-string map key", "a1 41 00 01", /map keys/],
    ["trailing bytes", "01 02", /trailing bytes/],
    ["truncated byte string", "45 0102", /truncated/],
    ["array count larger than the input", "9a 7fffffff 01", /truncated/],
    ["invalid UTF-8", "62 c328", /UTF-8/],
  ])("rejects %s", (_name, bytes, message) => {
    expect(() => decodeCbor(h(bytes))).toThrow(CborError);
    expect(() => decodeCbor(h(bytes))).toThrow(message);
  });

  it("allows a tag only at the top level and only when asked", () => {
    expect(() => decodeCbor(h("d2 80"))).toThrow(/unexpected CBOR tag 18/);
    expect(decodeCbor(h("d2 80"), { allowTopLevelTag: true })).toEqual({ tag: 18, value: [] });
    expect(() => decodeCbor(h("81 d2 80"), { allowTopLevelTag: true })).toThrow(/unexpected CBOR tag/);
  });

  it("bounds nesting depth", () => {
    expect(() => decodeCbor(h("81 81 81 80"), { maxDepth: 3 })).toThrow(/too deep/);
    expect(decodeCbor(h("81 81 80"), { maxDepth: 3 })).toEqual([[[]]]);
  });
});

describe("CBOR encoder", () => {
  it("writes minimal lengths and round-trips through the decoder", () => {
    const value = {
      mapEntries: [
        ["n", 1725911352400],
        ["neg", -35],
        ["b", new Uint8Array(300).fill(9)],
        ["a", [null, true, "x"]],
      ],
    } as const;
    const bytes = encodeCbor(value);
    expect(Buffer.from(encodeCbor(-35)).toString("hex")).toBe("3822");
    expect(Buffer.from(encodeCbor(new Uint8Array(300))).subarray(0, 3).toString("hex")).toBe("59012c");
    expect(decodeCbor(bytes)).toEqual(
      new Map<string, unknown>([
        ["n", 1725911352400],
        ["neg", -35],
        ["b", new Uint8Array(300).fill(9)],
        ["a", [null, true, "x"]],
      ]),
    );
  });
});
