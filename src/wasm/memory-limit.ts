/**
 * Caps a guest's linear memory before it is compiled (docs/wasm-abi.md, "Limits").
 *
 * WebAssembly has no per-instance memory quota, but a memory's declared maximum is enforced by the
 * engine: `memory.grow` past it fails (answers -1) and instantiation refuses an initial size over it.
 * So the runtime rewrites the module's memory section: the maximum becomes min(declared maximum,
 * limit), and a module whose *initial* size is already over the limit is refused. Only the limits
 * bytes of that one section change; code, data and every index stay as they are.
 *
 * Refused shapes: an imported memory (the module must define its own, or the cap could be dodged),
 * shared memories (threads), 64-bit memories and more than one memory.
 */

export const WASM_PAGE_BYTES = 65_536;

export type MemoryLimitOutcome =
  | { readonly kind: "ok"; readonly bytes: Uint8Array; readonly maxPages: number }
  | { readonly kind: "invalid"; readonly message: string }
  | { readonly kind: "memory-limit"; readonly message: string };

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const IMPORT_KIND_MEMORY = 2;
const LIMITS_HAS_MAX = 0x01;
const LIMITS_SHARED = 0x02;
const LIMITS_MEMORY64 = 0x04;

class Malformed extends Error {}

/** A bounds-checked reader over the module bytes. */
class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw new Malformed("unexpected end of module");
    return this.bytes[this.pos++] as number;
  }

  /** Unsigned LEB128, at most 32 bits (5 bytes). */
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffff_ffff) throw new Malformed("LEB128 value exceeds 32 bits");
        return result;
      }
    }
    throw new Malformed("LEB128 value exceeds 32 bits");
  }

  skip(n: number): void {
    if (n > this.end - this.pos) throw new Malformed("unexpected end of module");
    this.pos += n;
  }
}

function encodeU32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** Whether the import section declares a memory import (its descriptors are walked, not guessed). */
function importsMemory(r: Reader): boolean {
  const count = r.u32();
  for (let i = 0; i < count; i++) {
    r.skip(r.u32()); // module name
    r.skip(r.u32()); // field name
    const kind = r.byte();
    switch (kind) {
      case 0: // function: type index
        r.u32();
        break;
      case 1: {
        // table: reftype, limits
        r.byte();
        const flags = r.byte();
        r.u32();
        if (flags & LIMITS_HAS_MAX) r.u32();
        break;
      }
      case IMPORT_KIND_MEMORY:
        return true;
      case 3: // global: valtype, mutability
        r.byte();
        r.byte();
        break;
      case 4: // tag: attribute, type index
        r.byte();
        r.u32();
        break;
      default:
        // An import kind from a proposal this parser does not know: let the compiler decide on the
        // bytes; a memory import would still be caught by the import check after compiling.
        return false;
    }
  }
  return false;
}

/**
 * Returns the module with its memory maximum capped at `maxPages`, or why it cannot run under it.
 * The input is never modified; when no rewrite is needed the same bytes come back.
 */
export function capMemory(bytes: Uint8Array, maxPages: number): MemoryLimitOutcome {
  try {
    if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
      return { kind: "invalid", message: "not a WebAssembly module (bad magic number)" };
    }
    const r = new Reader(bytes, 8, bytes.length);
    while (r.pos < r.end) {
      const sectionStart = r.pos;
      const id = r.byte();
      const size = r.u32();
      const contentStart = r.pos;
      r.skip(size);
      if (id === SECTION_IMPORT && importsMemory(new Reader(bytes, contentStart, contentStart + size))) {
        return { kind: "invalid", message: "the module imports its memory; it must define and export it (docs/wasm-abi.md)" };
      }
      if (id !== SECTION_MEMORY) continue;

      const m = new Reader(bytes, contentStart, contentStart + size);
      const count = m.u32();
      if (count === 0) continue;
      if (count > 1) return { kind: "invalid", message: `the module defines ${count} memories; exactly one is supported` };
      const flags = m.byte();
      if (flags & LIMITS_SHARED) return { kind: "invalid", message: "shared memories are not supported" };
      if (flags & LIMITS_MEMORY64) return { kind: "invalid", message: "64-bit memories are not supported" };
      if (flags & ~LIMITS_HAS_MAX) return { kind: "invalid", message: `unknown memory limits flags 0x${flags.toString(16)}` };
      const initial = m.u32();
      const declaredMax = flags & LIMITS_HAS_MAX ? m.u32() : undefined;
      if (m.pos !== m.end) return { kind: "invalid", message: "malformed memory section" };
      if (initial > maxPages) {
        return {
          kind: "memory-limit",
          message: `the module's initial memory is ${initial} pages (${initial * WASM_PAGE_BYTES} bytes), over the limit of ${maxPages} pages (${maxPages * WASM_PAGE_BYTES} bytes)`,
        };
      }
      const cappedMax = declaredMax === undefined ? maxPages : Math.min(declaredMax, maxPages);
      if (declaredMax === cappedMax) return { kind: "ok", bytes, maxPages: cappedMax };

      const content = [1, LIMITS_HAS_MAX, ...encodeU32(initial), ...encodeU32(cappedMax)];
      const header = [SECTION_MEMORY, ...encodeU32(content.length)];
      const out = new Uint8Array(sectionStart + header.length + content.length + (bytes.length - (contentStart + size)));
      out.set(bytes.subarray(0, sectionStart), 0);
      out.set(header, sectionStart);
      out.set(content, sectionStart + header.length);
      out.set(bytes.subarray(contentStart + size), sectionStart + header.length + content.length);
      return { kind: "ok", bytes: out, maxPages: cappedMax };
    }
    return { kind: "invalid", message: "the module defines no memory; it must define and export `memory` (docs/wasm-abi.md)" };
  } catch (error) {
    if (error instanceof Malformed) return { kind: "invalid", message: `malformed module: ${error.message}` };
    throw error;
  }
}
