import { describe, expect, it } from "vitest";
import { resolveCapabilityOptions } from "../../../src/services/capability/options.js";

describe("resolveCapabilityOptions", () => {
  it("defaults to an empty allowlist, https only, 10 s timeout, 1 MiB caps, 5-minute memo", () => {
    const options = resolveCapabilityOptions();
    expect(options).toEqual({
      memo: { ttlMs: 300_000, maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
      maxPayloadBytes: 1024 * 1024,
      httpFetch: { allowedHosts: [], allowInsecureHttp: false, timeoutMs: 10_000, maxResponseBytes: 1024 * 1024 },
    });
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.httpFetch.allowedHosts)).toBe(true);
  });

  it("names the option at fault", () => {
    expect(() => resolveCapabilityOptions({ httpFetch: { timeoutMs: 0 } })).toThrow("capability.httpFetch.timeoutMs must be an integer from 1 to 600000 (got 0)");
    expect(() => resolveCapabilityOptions({ httpFetch: { allowedHosts: ["ok.com", "bad/host"] } })).toThrow('capability.httpFetch.allowedHosts[1] "bad/host"');
    expect(() => resolveCapabilityOptions({ memo: { maxEntries: 0 } })).toThrow("capability.memo.maxEntries");
    expect(() => resolveCapabilityOptions({ httpFetch: { allowInsecureHttp: "yes" as unknown as boolean } })).toThrow(
      "capability.httpFetch.allowInsecureHttp must be true or false",
    );
  });
});
