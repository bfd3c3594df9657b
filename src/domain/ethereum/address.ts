/**
 * Ethereum owner addresses. Owners travel as 0x-prefixed 20-byte hex; ccr stores and compares the
 * EIP-55 checksummed form (https://eips.ethereum.org/EIPS/eip-55), whose checksum is keccak-256 of the
 * lowercase hex text — not of the 20 bytes, and not node:crypto's sha3-256.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

export const OWNER_FORMAT_MESSAGE = "owner must be a 0x-prefixed 20-byte hex address";

export function isAddress(value: string): boolean {
  return ADDRESS.test(value);
}

/** The EIP-55 form of `address`; throws when it is not a 0x-prefixed 20-byte hex address. */
export function toChecksumAddress(address: string): string {
  if (!ADDRESS.test(address)) throw new Error(OWNER_FORMAT_MESSAGE);
  const lower = address.slice(2).toLowerCase();
  const hash = keccak_256(Buffer.from(lower, "ascii"));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  }
  return out;
}

/** The tagged-union variant for validation paths. */
export function parseOwner(value: string): { kind: "ok"; owner: string } | { kind: "invalid"; reason: string } {
  return ADDRESS.test(value) ? { kind: "ok", owner: toChecksumAddress(value) } : { kind: "invalid", reason: OWNER_FORMAT_MESSAGE };
}
