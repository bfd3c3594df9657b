/**
 * The trigger capabilities the engine serves locally, checked when `Subscribe` answers:
 * - `cron-trigger@1.0.0`: payload `{"schedule": "<cron>"}` (five fields, or six with seconds first;
 *   UTC). Each fire delivers `{"scheduledTimeMs": <ms>}`.
 * - `manual-trigger@1.0.0`: fired by `ccr workflow trigger` (or the admin API); delivers the
 *   caller's input bytes (UTF-8 JSON; `{}` when none is given).
 * Payloads are UTF-8 JSON (sdk.proto: upstream's Any payloads are bytes here).
 */
import type { sdk } from "../../contract/index.js";
import { parseCronSchedule, type CronSchedule } from "../../domain/workflow/cron.js";

export const CRON_TRIGGER_ID = "cron-trigger@1.0.0";
export const MANUAL_TRIGGER_ID = "manual-trigger@1.0.0";

export type TriggerKind = "cron" | "manual";

export type ParsedTrigger =
  | { readonly kind: "cron"; readonly index: number; readonly id: string; readonly schedule: CronSchedule }
  | { readonly kind: "manual"; readonly index: number; readonly id: string };

export type ParsedTriggers = { readonly kind: "ok"; readonly triggers: readonly ParsedTrigger[] } | { readonly kind: "invalid"; readonly reason: string };

export function parseTriggerSubscriptions(subscriptions: readonly sdk.TriggerSubscription[]): ParsedTriggers {
  const triggers: ParsedTrigger[] = [];
  for (const [index, subscription] of subscriptions.entries()) {
    switch (subscription.id) {
      case CRON_TRIGGER_ID: {
        const schedule = readSchedule(subscription.payload);
        if (typeof schedule !== "string") return invalid(`subscription ${index} (${CRON_TRIGGER_ID}): ${schedule.reason}`);
        const parsed = parseCronSchedule(schedule);
        if (parsed.kind !== "ok") return invalid(`subscription ${index} (${CRON_TRIGGER_ID}): ${parsed.reason}`);
        triggers.push({ kind: "cron", index, id: subscription.id, schedule: parsed.schedule });
        break;
      }
      case MANUAL_TRIGGER_ID:
        triggers.push({ kind: "manual", index, id: subscription.id });
        break;
      default:
        return invalid(
          `subscription ${index} names trigger ${JSON.stringify(subscription.id)}; this workflow node serves ${CRON_TRIGGER_ID} and ${MANUAL_TRIGGER_ID}`,
        );
    }
  }
  return { kind: "ok", triggers };
}

function readSchedule(payload: Uint8Array): string | { reason: string } {
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch {
    return { reason: 'payload must be UTF-8 JSON like {"schedule":"*/30 * * * * *"}' };
  }
  const schedule = (config as { schedule?: unknown } | null)?.schedule;
  if (typeof schedule !== "string") return { reason: 'payload must have a string "schedule", e.g. {"schedule":"*/30 * * * * *"}' };
  return schedule;
}

function invalid(reason: string): ParsedTriggers {
  return { kind: "invalid", reason };
}

/** The cron trigger's event payload. */
export function cronEventPayload(scheduledTimeMs: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ scheduledTimeMs }));
}
