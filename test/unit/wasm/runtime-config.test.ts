import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import { wasmRuntimeConfig } from "../../../src/wasm/runtime-config.js";

describe("wasmRuntimeConfig", () => {
  it("fills defaults, rounds the memory limit down to whole pages and freezes the result", () => {
    const clock = new ManualClock();
    const config = wasmRuntimeConfig({ maxWorkers: 3, memoryLimitBytes: 3 * 65536 + 100, clock });
    expect(config).toMatchObject({ maxWorkers: 3, maxQueued: 12, memoryLimitPages: 3, defaultTimeoutMs: 30_000 });
    expect(config.log).toEqual({ maxLineBytes: 2048, burst: 50, linesPerSecond: 10, maxLinesPerExecution: 1000 });
    expect(config.clock).toBe(clock);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.log)).toBe(true);
  });

  it("names the option that is out of range", () => {
    expect(() => wasmRuntimeConfig({ maxWorkers: 0 })).toThrow(/maxWorkers must be an integer in \[1, 256\], got 0/);
    expect(() => wasmRuntimeConfig({ memoryLimitBytes: 1000 })).toThrow(/memoryLimitBytes/);
    expect(() => wasmRuntimeConfig({ log: { linesPerSecond: 0 } })).toThrow(/log.linesPerSecond must be a positive number/);
    expect(() => wasmRuntimeConfig({ cache: { maxModules: 1.5 } })).toThrow(/cache.maxModules/);
  });
});
