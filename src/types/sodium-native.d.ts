/**
 * The part of sodium-native (libsodium bindings, MIT, holepunchto/sodium-native) that ccr uses. The
 * package ships no type declarations; these follow its README. Buffers may be any Uint8Array.
 */
declare module "sodium-native" {
  export const crypto_sign_PUBLICKEYBYTES: number;
  export const crypto_sign_SECRETKEYBYTES: number;
  export const crypto_sign_SEEDBYTES: number;
  export const crypto_sign_BYTES: number;
  /** Fills `publicKey` (32) and `secretKey` (64: seed ‖ public key) from a 32-byte seed. */
  export function crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void;
  /** Writes the 64-byte signature of `message` into `signature`. */
  export function crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  export function crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}
