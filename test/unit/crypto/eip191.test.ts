import { describe, expect, it } from "vitest";
import {
  addressOfPrivateKey,
  personalMessageDigest,
  personalSign,
  recoverPersonalSigner,
} from "../../../src/domain/ethereum/eip191.js";

// ethers.js's signMessage test vector (etherscan.io/verifySig/57): a signature any wallet makes.
const PRIVATE_KEY = Buffer.from("0123456789012345678901234567890123456789012345678901234567890123", "hex");
const ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325";
const MESSAGE = Buffer.from("hello world", "utf8");
const DIGEST = "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68";
const SIGNATURE = Buffer.from(
  "ddd0a7290af9526056b4e35a077b9a11b513aa0028ec6c9880948544508f3c63265e99e47ad31bb2cab9646c504576b3abc6939a1710afc08cbf3034d73214b81c",
  "hex",
);

describe("EIP-191 personal_sign", () => {
  it("hashes with the Ethereum Signed Message prefix", () => {
    expect(Buffer.from(personalMessageDigest(MESSAGE)).toString("hex")).toBe(DIGEST);
  });

  it("derives addresses from private keys (key 1 → the well-known address)", () => {
    expect(addressOfPrivateKey(PRIVATE_KEY)).toBe(ADDRESS);
    const one = new Uint8Array(32);
    one[31] = 1;
    expect(addressOfPrivateKey(one)).toBe("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  });

  it("signs exactly as ethers does (RFC 6979 deterministic)", () => {
    expect(Buffer.from(personalSign(PRIVATE_KEY, MESSAGE)).toString("hex")).toBe(SIGNATURE.toString("hex"));
  });

  it("recovers the wallet's address, with v as 27/28 or 0/1", () => {
    expect(recoverPersonalSigner(MESSAGE, SIGNATURE)).toEqual({ kind: "ok", address: ADDRESS });
    const zeroBased = Buffer.from(SIGNATURE);
    zeroBased[64] = SIGNATURE[64]! - 27;
    expect(recoverPersonalSigner(MESSAGE, zeroBased)).toEqual({ kind: "ok", address: ADDRESS });
  });

  it("recovers some other address for another message (a tampered request)", () => {
    const result = recoverPersonalSigner(Buffer.from("hello world!"), SIGNATURE);
    expect(result.kind === "ok" && result.address).not.toBe(ADDRESS);
  });

  it("refuses malformed signatures with a reason", () => {
    expect(recoverPersonalSigner(MESSAGE, SIGNATURE.subarray(0, 64))).toEqual({ kind: "invalid", reason: "signature must be 65 bytes r‖s‖v, got 64" });
    const badV = Buffer.from(SIGNATURE);
    badV[64] = 29;
    expect(recoverPersonalSigner(MESSAGE, badV)).toEqual({ kind: "invalid", reason: "signature v must be 27, 28, 0 or 1, got 29" });
    const zeroR = Buffer.from(SIGNATURE);
    zeroR.fill(0, 0, 32);
    expect(recoverPersonalSigner(MESSAGE, zeroR).kind).toBe("invalid");
  });

  it("refuses the high-S twin of a valid signature (EIP-2)", () => {
    const n = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    const s = BigInt(`0x${SIGNATURE.subarray(32, 64).toString("hex")}`);
    const twin = Buffer.from(SIGNATURE);
    Buffer.from((n - s).toString(16).padStart(64, "0"), "hex").copy(twin, 32);
    twin[64] = SIGNATURE[64] === 27 ? 28 : 27;
    expect(recoverPersonalSigner(MESSAGE, twin)).toEqual({ kind: "invalid", reason: "signature s must be in the lower half of the curve order (EIP-2)" });
  });
});
