/**
 * A writer for canonical, length-prefixed byte layouts (the pre-images of every hash and signature).
 *
 * Never hash JSON text or protobuf bytes: both admit several encodings of one value (upstream audit
 * CL112-05, CL112-14). Every field here is explicitly framed so no two distinct inputs share bytes:
 *   u8(n)    1 byte
 *   u64(n)   8 bytes big-endian (int64 values as two's complement)
 *   bytes(b) u64(len(b)) ‖ b
 *   str(s)   bytes(utf8(s))
 * and every layout starts with a NUL-terminated domain tag naming what it is.
 */
export class CanonicalWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  constructor(domain: string) {
    this.raw(Buffer.from(`${domain}\0`, "utf8"));
  }

  u8(value: number): this {
    return this.raw(Uint8Array.of(value & 0xff));
  }

  u64(value: number | bigint): this {
    const out = Buffer.allocUnsafe(8);
    out.writeBigUInt64BE(BigInt.asUintN(64, BigInt(value)));
    return this.raw(out);
  }

  bytes(value: Uint8Array): this {
    this.u64(value.length);
    return this.raw(value);
  }

  str(value: string): this {
    return this.bytes(Buffer.from(value, "utf8"));
  }

  /** Appends bytes with no length prefix; only for fixed-size fields (hashes). */
  raw(value: Uint8Array): this {
    this.chunks.push(value);
    this.length += value.length;
    return this;
  }

  finish(): Uint8Array {
    return Buffer.concat(this.chunks, this.length);
  }
}
