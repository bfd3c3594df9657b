/**
 * EIP-191 version 0x45 ("personal_sign") signatures by secp256k1 keys, as Ethereum wallets make them
 * (https://eips.ethereum.org/EIPS/eip-191): the signed digest is
 *
 *   keccak-256("\x19Ethereum Signed Message:\n" ‖ decimal(len(message)) ‖ message)
 *
 * and the signature travels as 65 bytes r ‖ s ‖ v with v ∈ {27, 28} (wallets) or {0, 1} (some
 * libraries). The signer is identified by recovering its public key from the signature and hashing
 * it into an address (last 20 bytes of keccak-256 of the uncompressed point without its 0x04 byte).
 *
 * node:crypto has neither secp256k1 public-key recovery nor keccak-256, so this uses @noble/curves and
 * @noble/hashes (node-recipes.md §8–9).
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { toChecksumAddress } from "./address.js";

const PREFIX = "\x19Ethereum Signed Message:\n";

export const EIP191_SIGNATURE_LENGTH = 65;

/** The digest `personal_sign` signs for `message`. */
export function personalMessageDigest(message: Uint8Array): Uint8Array {
  const prefix = Buffer.from(`${PREFIX}${message.length}`, "utf8");
  return keccak_256(Buffer.concat([prefix, message]));
}

/** The EIP-55 address of an uncompressed (65-byte) or compressed (33-byte) secp256k1 public key. */
export function addressOfPublicKey(publicKey: Uint8Array): string {
  const point = secp256k1.Point.fromBytes(publicKey);
  const uncompressed = point.toBytes(false);
  const hash = keccak_256(uncompressed.subarray(1));
  return toChecksumAddress(`0x${Buffer.from(hash.subarray(12)).toString("hex")}`);
}

/** The EIP-55 address of a 32-byte secp256k1 private key. */
export function addressOfPrivateKey(privateKey: Uint8Array): string {
  return addressOfPublicKey(secp256k1.getPublicKey(privateKey, false));
}

export type RecoveredSigner = { kind: "ok"; address: string } | { kind: "invalid"; reason: string };

/**
 * The EIP-55 address that made `signature` over `message` with `personal_sign`, or why the signature
 * is malformed. High-S signatures are refused (EIP-2): every wallet produces low-S ones, and refusing
 * the mirror image keeps exactly one valid signature per (key, message).
 */
export function recoverPersonalSigner(message: Uint8Array, signature: Uint8Array): RecoveredSigner {
  if (signature.length !== EIP191_SIGNATURE_LENGTH) {
    return { kind: "invalid", reason: `signature must be ${EIP191_SIGNATURE_LENGTH} bytes r‖s‖v, got ${signature.length}` };
  }
  const v = signature[64]!;
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery !== 0 && recovery !== 1) {
    return { kind: "invalid", reason: `signature v must be 27, 28, 0 or 1, got ${v}` };
  }
  try {
    const sig = secp256k1.Signature.fromBytes(signature.subarray(0, 64), "compact").addRecoveryBit(recovery);
    if (sig.hasHighS()) return { kind: "invalid", reason: "signature s must be in the lower half of the curve order (EIP-2)" };
    const point = sig.recoverPublicKey(personalMessageDigest(message));
    return { kind: "ok", address: addressOfPublicKey(point.toBytes(false)) };
  } catch {
    // r or s out of range, or no curve point for r: not a signature anyone could have made.
    return { kind: "invalid", reason: "signature does not recover to a public key" };
  }
}

/** Signs `message` like a wallet's `personal_sign`: 65 bytes r ‖ s ‖ v with v ∈ {27, 28}. */
export function personalSign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  const recovered = secp256k1.sign(personalMessageDigest(message), privateKey, { prehash: false, format: "recovered" });
  // noble's "recovered" format is recovery ‖ r ‖ s; Ethereum's is r ‖ s ‖ (27 + recovery).
  const out = new Uint8Array(EIP191_SIGNATURE_LENGTH);
  out.set(recovered.subarray(1), 0);
  out[64] = 27 + recovered[0]!;
  return out;
}
