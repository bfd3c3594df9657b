import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { Capability } from "../../../src/contract/index.js";
import { implement, resolveServerOptions, serverDefaults } from "../../../src/transport/server-options.js";

describe("resolveServerOptions", () => {
  it("fills the defaults and freezes the result", () => {
    const resolved = resolveServerOptions({ services: [] });
    expect(resolved).toMatchObject({ ...serverDefaults, writeMaxBytes: undefined, maxTimeoutMs: undefined });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it("names the option and the expectation when a value is out of range", () => {
    const attempt = () => resolveServerOptions({ services: [], port: 70000 });
    expect(attempt).toThrow("server: port must be an integer 0–65535, got 70000");
    try {
      attempt();
    } catch (error) {
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
    }
    expect(() => resolveServerOptions({ services: [], readMaxBytes: 0 })).toThrow(/readMaxBytes must be an integer/);
  });

  it("refuses the same service twice", () => {
    const twice = [implement(Capability, {}), implement(Capability, {})];
    expect(() => resolveServerOptions({ services: twice })).toThrow("server: service ccr.v1.Capability is registered twice");
  });
});
