// Standard base64 (RFC 4648 §4, with padding): how byte fields cross the guest boundary
// (docs/wasm-abi.md, "Encoding").

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64Encode(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(((n + 2) / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const t = (<u32>bytes[i] << 16) | (<u32>bytes[i + 1] << 8) | <u32>bytes[i + 2];
    out[o++] = <u8>ALPHABET.charCodeAt((t >> 18) & 63);
    out[o++] = <u8>ALPHABET.charCodeAt((t >> 12) & 63);
    out[o++] = <u8>ALPHABET.charCodeAt((t >> 6) & 63);
    out[o++] = <u8>ALPHABET.charCodeAt(t & 63);
  }
  const rest = n - i;
  if (rest > 0) {
    const t = (<u32>bytes[i] << 16) | (rest == 2 ? <u32>bytes[i + 1] << 8 : 0);
    out[o++] = <u8>ALPHABET.charCodeAt((t >> 18) & 63);
    out[o++] = <u8>ALPHABET.charCodeAt((t >> 12) & 63);
    out[o++] = rest == 2 ? <u8>ALPHABET.charCodeAt((t >> 6) & 63) : 0x3d;
    out[o++] = 0x3d;
  }
  return String.UTF8.decodeUnsafe(out.dataStart, <usize>out.length);
}

function sextet(c: i32): i32 {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26;
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52;
  if (c == 0x2b) return 62;
  if (c == 0x2f) return 63;
  return -1;
}

/** Decodes padded standard base64; null when the text is not exactly that. */
export function base64Decode(text: string): Uint8Array | null {
  const n = text.length;
  if (n % 4 != 0) return null;
  let pad = 0;
  if (n > 0 && text.charCodeAt(n - 1) == 0x3d) pad++;
  if (n > 1 && text.charCodeAt(n - 2) == 0x3d) pad++;
  const out = new Uint8Array((n / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < n; i += 4) {
    const last = i + 4 == n;
    const a = sextet(text.charCodeAt(i));
    const b = sextet(text.charCodeAt(i + 1));
    const c = last && pad == 2 ? 0 : sextet(text.charCodeAt(i + 2));
    const d = last && pad >= 1 ? 0 : sextet(text.charCodeAt(i + 3));
    if (a < 0 || b < 0 || c < 0 || d < 0) return null;
    const t = (<u32>a << 18) | (<u32>b << 12) | (<u32>c << 6) | <u32>d;
    out[o++] = <u8>(t >> 16);
    if (o < out.length) out[o++] = <u8>(t >> 8);
    if (o < out.length) out[o++] = <u8>t;
  }
  return out;
}
