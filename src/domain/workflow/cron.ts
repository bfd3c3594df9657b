/**
 * Cron schedules for the `cron-trigger@1.0.0` trigger: standard five-field cron
 * (minute hour day-of-month month day-of-week) with an optional leading seconds field, as the
 * upstream cron trigger accepts (robfig/cron with SecondOptional), plus the usual @-descriptors
 * (@yearly, @monthly, @weekly, @daily, @hourly). Evaluated in UTC. Day-of-month and day-of-week
 * combine with OR when both are restricted, as in standard cron.
 *
 * cron-parser does the evaluation; this module only decides what is accepted (cron-parser alone
 * would also take "", or three fields, filling the rest with defaults) and turns its exceptions into
 * a reason. Pure: the caller passes the time to count from.
 */
import { CronExpressionParser } from "cron-parser";

export interface CronSchedule {
  /** The schedule as written. */
  readonly expression: string;
  /** The first fire time strictly after `afterMs` (ms since the epoch, UTC). */
  nextAfter(afterMs: number): number;
}

export type ParsedCronSchedule = { readonly kind: "ok"; readonly schedule: CronSchedule } | { readonly kind: "invalid"; readonly reason: string };

const DESCRIPTORS = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

export function parseCronSchedule(expression: string): ParsedCronSchedule {
  const trimmed = expression.trim();
  const normalized = trimmed === "@midnight" ? "@daily" : trimmed;
  if (!DESCRIPTORS.has(trimmed)) {
    const fields = trimmed === "" ? 0 : trimmed.split(/\s+/).length;
    if (fields !== 5 && fields !== 6) {
      return {
        kind: "invalid",
        reason: `cron schedule ${JSON.stringify(expression)} has ${fields} fields; expected 5 (minute hour day month weekday) or 6 (with seconds first)`,
      };
    }
  }
  try {
    // Parse once up front so a bad field is reported now, not at the first fire.
    CronExpressionParser.parse(normalized, { currentDate: new Date(0), tz: "UTC" }).next();
  } catch (error) {
    return { kind: "invalid", reason: `cron schedule ${JSON.stringify(expression)} is invalid: ${error instanceof Error ? error.message : String(error)}` };
  }
  const schedule: CronSchedule = Object.freeze({
    expression,
    nextAfter(afterMs: number): number {
      return CronExpressionParser.parse(normalized, { currentDate: new Date(afterMs), tz: "UTC" }).next().getTime();
    },
  });
  return { kind: "ok", schedule };
}
