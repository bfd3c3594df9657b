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
 *
 * It writes into one growing buffer: relay nodes build two layouts per request, and a buffer per
 * field cost more than the hashing itself.
 */
const TWO_32 = 2 ** 32;

export class CanonicalWriter {
  private buf: Buffer;
  private len = 0;

  constructor(domain: string, initialCapacity = 512) {
    this.buf = Buffer.allocUnsafe(Math.max(initialCapacity, domain.length * 3 + 1));
    this.len = this.buf.write(domain, 0, "utf8");
    this.buf[this.len++] = 0;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(value: number): this {
    this.ensure(1);
    this.buf[this.len++] = value & 0xff;
    return this;
  }

  u64(value: number | bigint): this {
    this.ensure(8);
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
      this.buf.writeUInt32BE(Math.floor(value / TWO_32), this.len);
      this.buf.writeUInt32BE(value % TWO_32, this.len + 4);
    } else {
      this.buf.writeBigUInt64BE(BigInt.asUintN(64, BigInt(value)), this.len);
    }
    this.len += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.u64(value.length);
    return this.raw(value);
  }

  str(value: string): this {
    const n = Buffer.byteLength(value, "utf8");
    this.u64(n);
    this.ensure(n);
    this.len += this.buf.write(value, this.len, "utf8");
    return this;
  }

  /** Appends bytes with no length prefix; only for fixed-size fields (hashes). */
  raw(value: Uint8Array): this {
    this.ensure(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
    return this;
  }

  /** The layout; the writer must not be used afterwards. */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}
