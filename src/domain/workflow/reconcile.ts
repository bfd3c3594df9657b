/**
 * The syncer's reconciliation plan (reference chainlink-workflows.md §8.2 `generateReconciliationEvents`,
 * §8.3): compare what a registry source lists with the engines running for that source, and say
 * which Activated / Paused / Deleted events to handle, pauses and deletes first.
 *
 * Rules, per source:
 * - listed active, no engine      → Activated (signature `WorkflowActivated-<id>-active`);
 * - listed active, engine         → nothing; any pending event for it is dropped;
 * - listed paused, engine         → Paused (`WorkflowPaused-<id>-paused`);
 * - listed paused, no engine      → nothing, unless a Paused event for it is still pending (its
 *                                   cleanup failed half-way), which is retried;
 * - engine of this source, not listed → Deleted (`WorkflowDeleted-<id>`);
 * - pending events that none of the above produced are dropped (e.g. an activation of a workflow
 *   that is no longer listed).
 * An event whose signature matches a pending one keeps that one's retry state (retry count and
 * next retry time), so a workflow that keeps failing backs off instead of being retried every tick.
 *
 * This module is pure: the syncer supplies the listing, the engines and the clock reading.
 */
import { retryDelayMs } from "./backoff.js";

export type WorkflowStatus = "active" | "paused";

/** One workflow as a registry source lists it (upstream `WorkflowMetadataView` + source). */
export interface WorkflowMetadata {
  /** 64 lowercase hex digits. */
  readonly workflowId: string;
  /** EIP-55 address. */
  readonly owner: string;
  readonly name: string;
  readonly tag: string;
  readonly status: WorkflowStatus;
  readonly binaryUrl: string;
  readonly configUrl: string;
  /** "" for registry v2 workflows; part of the id derivation. */
  readonly secretsUrl: string;
  readonly attributes: Uint8Array;
  readonly donFamily: string;
  readonly createdAtMs: number;
  /** Which source listed it, e.g. "registry:workflow_registry". */
  readonly source: string;
}

export type WorkflowEvent =
  | { readonly type: "activated"; readonly workflowId: string; readonly source: string; readonly metadata: WorkflowMetadata }
  | { readonly type: "paused"; readonly workflowId: string; readonly source: string }
  | { readonly type: "deleted"; readonly workflowId: string; readonly source: string };

/** An event with its retry state. `retryCount` 0 means it has not failed yet. */
export interface PendingEvent {
  readonly event: WorkflowEvent;
  readonly signature: string;
  readonly retryCount: number;
  /** When it may be retried; meaningful only when retryCount > 0. */
  readonly nextRetryAtMs: number;
}

export function eventSignature(event: WorkflowEvent): string {
  switch (event.type) {
    case "activated":
      return `WorkflowActivated-${event.workflowId}-active`;
    case "paused":
      return `WorkflowPaused-${event.workflowId}-paused`;
    case "deleted":
      return `WorkflowDeleted-${event.workflowId}`;
  }
}

export interface ReconcileInput {
  readonly source: string;
  readonly listed: readonly WorkflowMetadata[];
  /** workflow id → the source whose engine runs it. */
  readonly engines: ReadonlyMap<string, string>;
  /** This source's pending (previously failed) events, by workflow id. */
  readonly pending: ReadonlyMap<string, PendingEvent>;
}

export interface ReconcilePlan {
  /** Pauses and deletes first (in listing / engine order), then activations (in listing order). */
  readonly events: readonly PendingEvent[];
}

export function planReconciliation(input: ReconcileInput): ReconcilePlan {
  const { source, listed, engines, pending } = input;
  const stops: PendingEvent[] = [];
  const activations: PendingEvent[] = [];
  const seen = new Set<string>();

  const withRetryState = (event: WorkflowEvent): PendingEvent => {
    const signature = eventSignature(event);
    const previous = pending.get(event.workflowId);
    return previous !== undefined && previous.signature === signature
      ? { event, signature, retryCount: previous.retryCount, nextRetryAtMs: previous.nextRetryAtMs }
      : { event, signature, retryCount: 0, nextRetryAtMs: 0 };
  };

  for (const metadata of listed) {
    const id = metadata.workflowId;
    if (seen.has(id)) continue; // a source lists each id once; ignore a repeat rather than act twice
    seen.add(id);
    const engineSource = engines.get(id);
    switch (metadata.status) {
      case "active":
        if (engineSource === undefined) activations.push(withRetryState({ type: "activated", workflowId: id, source, metadata }));
        break;
      case "paused": {
        const paused: WorkflowEvent = { type: "paused", workflowId: id, source };
        if (engineSource === source) {
          stops.push(withRetryState(paused));
        } else if (engineSource === undefined && pending.get(id)?.signature === eventSignature(paused)) {
          stops.push(withRetryState(paused));
        }
        break;
      }
      default:
        throw new Error(`workflow ${id} has unknown status ${JSON.stringify(metadata.status as string)}`);
    }
  }

  for (const [id, engineSource] of engines) {
    if (engineSource !== source || seen.has(id)) continue;
    stops.push(withRetryState({ type: "deleted", workflowId: id, source }));
  }
  return { events: [...stops, ...activations] };
}

/** Whether a pending event may be handled now: never failed, or its backoff has passed. */
export function isDue(event: PendingEvent, nowMs: number): boolean {
  return event.retryCount === 0 || nowMs > event.nextRetryAtMs;
}

/** The event's state after one more failure at `nowMs`. */
export function afterFailure(event: PendingEvent, nowMs: number): PendingEvent {
  const retryCount = event.retryCount + 1;
  return { ...event, retryCount, nextRetryAtMs: nowMs + retryDelayMs(retryCount) };
}
