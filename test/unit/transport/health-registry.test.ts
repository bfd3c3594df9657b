import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { HealthRegistry, ServingStatus } from "../../../src/transport/health.js";

async function take<T>(it: AsyncIterator<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done === true) break;
    out.push(r.value);
  }
  return out;
}

describe("HealthRegistry", () => {
  it("freezes every status at NOT_SERVING on shutdown", () => {
    const registry = new HealthRegistry();
    registry.set("", ServingStatus.SERVING);
    registry.set("a", ServingStatus.SERVING);
    registry.shutdown();
    registry.set("a", ServingStatus.SERVING);
    expect(Object.fromEntries(registry.snapshot())).toEqual({ "": ServingStatus.NOT_SERVING, a: ServingStatus.NOT_SERVING });
  });

  it("gives a watcher the current status, then the latest after each change, and ends after shutdown", async () => {
    const registry = new HealthRegistry();
    registry.set("a", ServingStatus.SERVING);
    const watch = registry.watch("a", new AbortController().signal);
    expect(await take(watch, 1)).toEqual([ServingStatus.SERVING]);
    const next = watch.next();
    registry.set("a", ServingStatus.NOT_SERVING);
    expect((await next).value).toBe(ServingStatus.NOT_SERVING);
    const last = watch.next();
    registry.shutdown();
    // Already NOT_SERVING: no repeat; the stream just ends.
    expect((await last).done).toBe(true);
  });

  it("rejects a pending watch with the signal's own reason", async () => {
    const registry = new HealthRegistry();
    const controller = new AbortController();
    const watch = registry.watch("x", controller.signal);
    expect(await take(watch, 1)).toEqual([ServingStatus.SERVICE_UNKNOWN]);
    const pending = watch.next();
    const reason = new ConnectError("the operation timed out", Code.DeadlineExceeded);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});
