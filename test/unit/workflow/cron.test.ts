import { describe, expect, it } from "vitest";
import { parseCronSchedule } from "../../../src/domain/workflow/cron.js";

function next(expression: string, afterMs: number): number {
  const parsed = parseCronSchedule(expression);
  if (parsed.kind !== "ok") throw new Error(parsed.reason);
  return parsed.schedule.nextAfter(afterMs);
}

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0); // a Thursday

describe("cron schedules (cron-trigger@1.0.0)", () => {
  it("takes five fields (minute first) or six (seconds first), in UTC", () => {
    expect(next("*/5 * * * *", T0)).toBe(T0 + 5 * 60_000);
    expect(next("*/10 * * * * *", T0)).toBe(T0 + 10_000);
    expect(next("0 9 * * *", T0)).toBe(Date.UTC(2026, 0, 1, 9, 0, 0));
    expect(next("@hourly", T0)).toBe(T0 + 3_600_000);
  });

  it("answers the first fire strictly after the given time", () => {
    expect(next("*/10 * * * * *", T0 + 10_000)).toBe(T0 + 20_000);
    expect(next("*/10 * * * * *", T0 + 9_999)).toBe(T0 + 10_000);
  });

  it("combines day-of-month and day-of-week with OR, as standard cron", () => {
    // The 15th, or any Monday: from Thu Jan 1 the next is Mon Jan 5.
    expect(next("0 0 15 * 1", T0)).toBe(Date.UTC(2026, 0, 5));
  });

  it("rejects what is not a 5- or 6-field schedule, saying why", () => {
    for (const [expression, fragment] of [
      ["", "has 0 fields"],
      ["* * *", "has 3 fields"],
      ["* * * * * * *", "has 7 fields"],
      ["61 * * * *", "is invalid"],
      ["every minute", "has 2 fields"],
    ] as const) {
      const parsed = parseCronSchedule(expression);
      expect(parsed.kind).toBe("invalid");
      expect(parsed.kind === "invalid" && parsed.reason).toContain(fragment);
    }
  });
});
