import { describe, expect, it } from "vitest";
import { ModuleCache } from "../../../src/wasm/module-cache.js";

describe("ModuleCache", () => {
  it("evicts the least recently used entry when over the count bound", () => {
    const cache = new ModuleCache<string>({ maxModules: 2, maxBytes: 1000 });
    cache.set("a", "A", 10);
    cache.set("b", "B", 10);
    expect(cache.get("a")).toBe("A"); // a is now the most recent
    cache.set("c", "C", 10);
    expect(cache.has("b")).toBe(false);
    expect(cache.has("a")).toBe(true);
    expect(cache.has("c")).toBe(true);
    expect(cache.stats()).toMatchObject({ modules: 2, bytes: 20, evictions: 1 });
  });

  it("evicts as many entries as needed to fit the byte bound, and never caches an entry larger than it", () => {
    const cache = new ModuleCache<string>({ maxModules: 10, maxBytes: 100 });
    cache.set("a", "A", 40);
    cache.set("b", "B", 40);
    cache.set("c", "C", 90);
    expect(cache.has("a")).toBe(false);
    expect(cache.has("b")).toBe(false);
    expect(cache.stats()).toMatchObject({ modules: 1, bytes: 90, evictions: 2 });
    cache.set("huge", "H", 101);
    expect(cache.has("huge")).toBe(false);
    expect(cache.has("c")).toBe(true);
  });

  it("shares one load between concurrent callers and does not cache a failed outcome", async () => {
    const cache = new ModuleCache<{ ok: true }>({ maxModules: 4, maxBytes: 100 });
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setImmediate(r));
      return { ok: true as const };
    };
    const [x, y] = await Promise.all([cache.getOrLoad("k", 1, load, (r) => r), cache.getOrLoad("k", 1, load, (r) => r)]);
    expect(loads).toBe(1);
    expect(x).toBe(y);
    await cache.getOrLoad("k", 1, load, (r) => r);
    expect(loads).toBe(1);

    let failing = 0;
    const fail = async () => {
      failing++;
      return { ok: false as const };
    };
    await cache.getOrLoad("bad", 1, fail, () => undefined);
    await cache.getOrLoad("bad", 1, fail, () => undefined);
    expect(failing).toBe(2);
    expect(cache.has("bad")).toBe(false);
  });
});
