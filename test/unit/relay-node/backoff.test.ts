import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../../../src/services/relay-node/backoff.js";

const config = { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitterRatio: 0.5 };

describe("reconnect backoff", () => {
  it("doubles from the initial delay and caps at the maximum (no jitter drawn)", () => {
    const delays = [0, 1, 2, 3, 4, 5, 10, 1000].map((a) => backoffDelayMs(a, config, () => 0));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
  });

  it("subtracts at most jitterRatio of the delay, as drawn by the injected random", () => {
    expect(backoffDelayMs(2, config, () => 0.5)).toBe(300); // 400 − 0.5·0.5·400
    expect(backoffDelayMs(5, config, () => 0.25)).toBe(875); // cap 1000, minus 0.25·0.5 of it
  });

  it("with jitterRatio 0 ignores the random draw", () => {
    expect(backoffDelayMs(1, { ...config, jitterRatio: 0 }, () => 0.9)).toBe(200);
  });
});
