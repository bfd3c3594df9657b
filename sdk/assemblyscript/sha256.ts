// SHA-256 (FIPS 180-4), for guests: hashes in guest memory, so a secret's digest can leave the
// guest without the secret. Checked against node:crypto in test/unit/wasm.

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/** The 32-byte SHA-256 digest of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  let h0: u32 = 0x6a09e667;
  let h1: u32 = 0xbb67ae85;
  let h2: u32 = 0x3c6ef372;
  let h3: u32 = 0xa54ff53a;
  let h4: u32 = 0x510e527f;
  let h5: u32 = 0x9b05688c;
  let h6: u32 = 0x1f83d9ab;
  let h7: u32 = 0x5be0cd19;

  // Padding: 0x80, zeros, then the bit length as a big-endian u64, to a multiple of 64 bytes.
  const len = data.length;
  const total = ((len + 9 + 63) >> 6) << 6;
  const block = new Uint8Array(total);
  block.set(data);
  block[len] = 0x80;
  const bits: u64 = <u64>len << 3;
  for (let i = 0; i < 8; i++) block[total - 1 - i] = <u8>(bits >> (<u64>i << 3));

  const w = new StaticArray<u32>(64);
  for (let off = 0; off < total; off += 64) {
    for (let t = 0; t < 16; t++) {
      const p = off + (t << 2);
      w[t] = (<u32>block[p] << 24) | (<u32>block[p + 1] << 16) | (<u32>block[p + 2] << 8) | <u32>block[p + 3];
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15];
      const y = w[t - 2];
      const s0 = rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3);
      const s1 = rotr<u32>(y, 17) ^ rotr<u32>(y, 19) ^ (y >>> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = h + S1 + ch + K[t] + w[t];
      const S0 = rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = S0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h0 += a;
    h1 += b;
    h2 += c;
    h3 += d;
    h4 += e;
    h5 += f;
    h6 += g;
    h7 += h;
  }

  const out = new Uint8Array(32);
  const hs: StaticArray<u32> = [h0, h1, h2, h3, h4, h5, h6, h7];
  for (let i = 0; i < 8; i++) {
    const v = hs[i];
    out[i << 2] = <u8>(v >>> 24);
    out[(i << 2) + 1] = <u8>(v >>> 16);
    out[(i << 2) + 2] = <u8>(v >>> 8);
    out[(i << 2) + 3] = <u8>v;
  }
  return out;
}

const HEX = "0123456789abcdef";

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  const out = new Uint8Array(bytes.length << 1);
  for (let i = 0; i < bytes.length; i++) {
    out[i << 1] = <u8>HEX.charCodeAt(bytes[i] >> 4);
    out[(i << 1) + 1] = <u8>HEX.charCodeAt(bytes[i] & 15);
  }
  return String.UTF8.decodeUnsafe(out.dataStart, <usize>out.length);
}

/** SHA-256 of a string's UTF-8 bytes, as lowercase hex. */
export function sha256HexOfString(text: string): string {
  return toHex(sha256(Uint8Array.wrap(String.UTF8.encode(text))));
}
