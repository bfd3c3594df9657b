import { describe, expect, it } from "vitest";
import { retryDelayMs } from "../../../src/domain/workflow/backoff.js";
import {
  afterFailure,
  isDue,
  planReconciliation,
  type PendingEvent,
  type WorkflowMetadata,
  type WorkflowStatus,
} from "../../../src/domain/workflow/reconcile.js";

const SOURCE = "registry:workflow_registry";
const id = (n: number): string => n.toString(16).padStart(64, "0");

function listed(n: number, status: WorkflowStatus): WorkflowMetadata {
  return {
    workflowId: id(n),
    owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    name: `w${n}`,
    tag: "latest",
    status,
    binaryUrl: `http://artifacts/${n}`,
    configUrl: "",
    secretsUrl: "",
    attributes: new Uint8Array(0),
    donFamily: "",
    createdAtMs: n,
    source: SOURCE,
  };
}

const plan = (input: { listed: WorkflowMetadata[]; engines?: Array<[number, string]>; pending?: PendingEvent[] }) =>
  planReconciliation({
    source: SOURCE,
    listed: input.listed,
    engines: new Map((input.engines ?? []).map(([n, s]) => [id(n), s])),
    pending: new Map((input.pending ?? []).map((p) => [p.event.workflowId, p])),
  }).events.map((e) => `${e.signature}/${e.retryCount}`);

describe("reconciliation plan (upstream generateReconciliationEvents)", () => {
  it("activates active workflows without an engine, and leaves running ones alone", () => {
    expect(plan({ listed: [listed(1, "active"), listed(2, "active")], engines: [[2, SOURCE]] })).toEqual([`WorkflowActivated-${id(1)}-active/0`]);
  });

  it("puts pauses and deletes before activations, whatever the listing order", () => {
    const events = plan({
      listed: [listed(1, "active"), listed(2, "paused"), listed(3, "active")],
      engines: [
        [2, SOURCE],
        [4, SOURCE],
      ],
    });
    expect(events).toEqual([
      `WorkflowPaused-${id(2)}-paused/0`,
      `WorkflowDeleted-${id(4)}/0`,
      `WorkflowActivated-${id(1)}-active/0`,
      `WorkflowActivated-${id(3)}-active/0`,
    ]);
  });

  it("ignores paused workflows without an engine and engines of other sources", () => {
    expect(plan({ listed: [listed(1, "paused")], engines: [[2, "other-source"]] })).toEqual([]);
  });

  it("keeps the retry state of a pending event with the same signature, and resets it otherwise", () => {
    const pendingActivation: PendingEvent = {
      event: { type: "activated", workflowId: id(1), source: SOURCE, metadata: listed(1, "active") },
      signature: `WorkflowActivated-${id(1)}-active`,
      retryCount: 3,
      nextRetryAtMs: 999,
    };
    expect(plan({ listed: [listed(1, "active")], pending: [pendingActivation] })).toEqual([`WorkflowActivated-${id(1)}-active/3`]);
    // The workflow was paused meanwhile (and has no engine): the failed activation is dropped.
    expect(plan({ listed: [listed(1, "paused")], pending: [pendingActivation] })).toEqual([]);
    // No longer listed at all: dropped too.
    expect(plan({ listed: [], pending: [pendingActivation] })).toEqual([]);
    // Its engine came up after all: nothing to do.
    expect(plan({ listed: [listed(1, "active")], engines: [[1, SOURCE]], pending: [pendingActivation] })).toEqual([]);
  });

  it("retries a half-done pause even after the engine is gone", () => {
    const pendingPause: PendingEvent = { event: { type: "paused", workflowId: id(1), source: SOURCE }, signature: `WorkflowPaused-${id(1)}-paused`, retryCount: 1, nextRetryAtMs: 5 };
    expect(plan({ listed: [listed(1, "paused")], pending: [pendingPause] })).toEqual([`WorkflowPaused-${id(1)}-paused/1`]);
  });

  it("acts once per workflow id even if a source lists it twice", () => {
    expect(plan({ listed: [listed(1, "active"), listed(1, "active")] })).toEqual([`WorkflowActivated-${id(1)}-active/0`]);
  });
});

describe("retry backoff: min(2ⁿ × 12 s, 5 min)", () => {
  it("doubles from 24 s after the first failure and caps at 300 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(retryDelayMs)).toEqual([12_000, 24_000, 48_000, 96_000, 192_000, 300_000, 300_000, 300_000]);
    expect(() => retryDelayMs(-1)).toThrow(RangeError);
  });

  it("defers a failed event until its next retry time has passed", () => {
    const fresh: PendingEvent = { event: { type: "deleted", workflowId: id(1), source: SOURCE }, signature: "s", retryCount: 0, nextRetryAtMs: 0 };
    expect(isDue(fresh, 0)).toBe(true);
    const once = afterFailure(fresh, 1_000);
    expect(once).toMatchObject({ retryCount: 1, nextRetryAtMs: 25_000 });
    expect(isDue(once, 25_000)).toBe(false); // upstream defers while now <= nextRetryAt
    expect(isDue(once, 25_001)).toBe(true);
    const twice = afterFailure(once, 25_001);
    expect(twice).toMatchObject({ retryCount: 2, nextRetryAtMs: 73_001 });
  });
});
