import { describe, expect, it } from "vitest";
import { capMemory } from "../../../src/wasm/memory-limit.js";
import { assemble, bigInitialMemoryGuest, constResultGuest, op } from "../../fixtures/wasm/modules.js";

const PAGE = 65536;

/** The memory limits as the engine sees them after compiling: instantiate and probe the maximum. */
function maxPagesOf(bytes: Uint8Array): number {
  const WA = (globalThis as any).WebAssembly;
  const instance = new WA.Instance(new WA.Module(bytes), {});
  const memory = instance.exports.memory;
  let pages = memory.buffer.byteLength / PAGE;
  // Grow one page at a time until the engine refuses (JS-side grow throws): the enforced maximum.
  for (;;) {
    try {
      memory.grow(1);
    } catch {
      return pages;
    }
    pages++;
  }
}

describe("capMemory", () => {
  it("adds a maximum to a memory that declares none, and the engine enforces it", () => {
    const guest = constResultGuest('{"value":1}');
    const capped = capMemory(guest, 5);
    expect(capped.kind).toBe("ok");
    if (capped.kind !== "ok") return;
    expect(capped.maxPages).toBe(5);
    expect(maxPagesOf(capped.bytes)).toBe(5);
  });

  it("lowers a declared maximum above the cap, and keeps one below it untouched", () => {
    const high = assemble({ memory: { min: 1, max: 100 }, funcs: [] });
    const cappedHigh = capMemory(high, 3);
    expect(cappedHigh).toMatchObject({ kind: "ok", maxPages: 3 });
    if (cappedHigh.kind === "ok") expect(maxPagesOf(cappedHigh.bytes)).toBe(3);

    const low = assemble({ memory: { min: 1, max: 2 }, funcs: [] });
    const cappedLow = capMemory(low, 3);
    expect(cappedLow).toMatchObject({ kind: "ok", maxPages: 2 });
    if (cappedLow.kind === "ok") expect(cappedLow.bytes).toBe(low);
  });

  it("keeps every other section byte for byte (code and data still work)", () => {
    const guest = constResultGuest('{"value":"kept"}', { offset: 2048 });
    const capped = capMemory(guest, 4);
    if (capped.kind !== "ok") throw new Error(capped.kind);
    const WA = (globalThis as any).WebAssembly;
    const instance = new WA.Instance(new WA.Module(capped.bytes), {});
    const packed = BigInt.asUintN(64, instance.exports.execute(0, 0));
    const ptr = Number(packed >> 32n);
    const len = Number(packed & 0xffffffffn);
    expect(Buffer.from(instance.exports.memory.buffer, ptr, len).toString()).toBe('{"value":"kept"}');
  });

  it("refuses a module whose initial memory is over the cap", () => {
    const out = capMemory(bigInitialMemoryGuest(10), 4);
    expect(out.kind).toBe("memory-limit");
    if (out.kind === "memory-limit") expect(out.message).toContain("10 pages");
  });

  it("refuses an imported memory, a shared memory and a module without memory", () => {
    const imported = Uint8Array.from([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
      // import section: ("env" "mem" memory {min 1})
      0x02, 0x0c, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x01,
    ]);
    expect(capMemory(imported, 4)).toMatchObject({ kind: "invalid", message: expect.stringContaining("imports its memory") });

    const shared = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x05, 0x04, 0x01, 0x03, 0x01, 0x02]);
    expect(capMemory(shared, 4)).toMatchObject({ kind: "invalid", message: expect.stringContaining("shared") });

    const none = assemble({ funcs: [{ params: [], results: [], body: op.unreachable }] });
    expect(capMemory(none, 4)).toMatchObject({ kind: "invalid", message: expect.stringContaining("defines no memory") });
  });

  it("answers malformed bytes as invalid instead of throwing", () => {
    expect(capMemory(Uint8Array.from([1, 2, 3]), 4).kind).toBe("invalid");
    const truncated = constResultGuest('{"value":1}').subarray(0, 20);
    expect(capMemory(truncated, 4).kind).toBe("invalid");
  });
});
