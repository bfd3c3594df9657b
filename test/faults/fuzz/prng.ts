/**
 * A seeded PRNG for the fault suites, so every failure reproduces: the suites print their seed, and
 * `CCR_FAULTS_SEED=<seed>` replays the same inputs in the same order (up to the interleaving that
 * concurrency introduces in what the servers see).
 *
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter, 32-bit): passes PractRand to 2^40+ bytes, is
 * four 32-bit words of state and a few additions per draw, and is fast in V8 without BigInt.
 * `fork()` derives an independent stream, so one generator per request kind keeps each kind's
 * inputs stable when another kind's count changes.
 */

/** The seed from CCR_FAULTS_SEED (decimal or 0x-hex, 32-bit), else a fresh one. */
export function faultsSeed(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env["CCR_FAULTS_SEED"];
  if (raw !== undefined && raw.trim() !== "") {
    const value = Number(raw.trim());
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new Error(`CCR_FAULTS_SEED must be a 32-bit unsigned integer, got "${raw}"`);
    }
    return value >>> 0;
  }
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    // SplitMix32-style seeding so nearby seeds give unrelated streams.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`below(n) needs a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick() from an empty list");
    return items[this.below(items.length)] as T;
  }

  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of table) total += w;
    let x = this.float() * total;
    for (const [w, v] of table) {
      if (x < w) return v;
      x -= w;
    }
    return (table[table.length - 1] as readonly [number, T])[1];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }

  /** A length skewed toward small values (most fuzz inputs are short; some are long). */
  length(max: number): number {
    const r = this.float();
    if (r < 0.5) return this.below(Math.min(max, 16) + 1);
    if (r < 0.85) return this.below(Math.min(max, 256) + 1);
    return this.below(max + 1);
  }

  /** An independent generator derived from this one (and its label). */
  fork(label: string): Prng {
    let h = this.u32();
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Prng(h);
  }
}
