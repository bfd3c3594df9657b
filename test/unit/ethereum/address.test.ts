import { describe, expect, it } from "vitest";
import { isAddress, parseOwner, toChecksumAddress } from "../../../src/domain/ethereum/address.js";

// The EIP-55 specification's test vectors.
const VECTORS = [
  "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
  "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
  "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
  "0x52908400098527886E0F7030069857D2E4169EE7",
  "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
  "0xde709f2102306220921060314715629080e2fb77",
  "0x27b1fdb04752bbc536007a920d24acb045561c26",
];

describe("EIP-55 owner addresses", () => {
  it.each(VECTORS)("checksums %s from its lowercase and uppercase spellings", (expected) => {
    expect(toChecksumAddress(expected.toLowerCase())).toBe(expected);
    expect(toChecksumAddress("0x" + expected.slice(2).toUpperCase())).toBe(expected);
  });

  it("rejects what is not a 0x-prefixed 20-byte hex address, with the upstream message", () => {
    for (const bad of ["", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "0xZaAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]) {
      expect(isAddress(bad)).toBe(false);
      expect(parseOwner(bad)).toEqual({ kind: "invalid", reason: "owner must be a 0x-prefixed 20-byte hex address" });
    }
    expect(() => toChecksumAddress("0x1234")).toThrow("owner must be a 0x-prefixed 20-byte hex address");
  });
});
