/**
 * Syncer reconciliation on a fake clock (reference chainlink-workflows.md §8.2–8.3): tick interval,
 * pauses and deletes before activations, backoff 12 s·2ⁿ capped at 5 min, a failed listing deletes
 * nothing, idempotent handlers, a registry that refuses duplicate engines, and a restart that rebuilds
 * the engines from the registry without running anything twice.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import { deriveExecutionId } from "../../../src/domain/workflow/execution-id.js";
import { EngineRegistry } from "../../../src/services/workflow-node/engine-registry.js";
import { CRON } from "./support/fake-module.js";
import { SOURCE, T0, createHarness } from "./support/harness.js";

describe("ticks", () => {
  it("ticks at start and every syncIntervalMs after, on the injected clock", async () => {
    const h = createHarness();
    h.syncer.start();
    await h.scheduler.advance(0);
    expect(h.source.lists).toBe(1);
    await h.scheduler.advance(11_999);
    expect(h.source.lists).toBe(1);
    await h.scheduler.advance(1);
    expect(h.source.lists).toBe(2);
    await h.scheduler.advance(36_000);
    expect(h.source.lists).toBe(5);
    await h.syncer.close();
    await h.scheduler.advance(60_000);
    expect(h.source.lists).toBe(5);
  });

  it("a tick asked for while one runs starts after it, and ticks never overlap", async () => {
    const h = createHarness();
    h.register();
    const first = h.syncer.tick();
    const second = h.syncer.tick();
    const third = h.syncer.tick();
    expect(second).toBe(third); // coalesced
    await Promise.all([first, second]);
    expect(h.source.lists).toBe(2);
    expect(h.engines.size()).toBe(1);
  });
});

describe("event ordering", () => {
  it("handles pauses and deletes before activations in the same tick", async () => {
    const h = createHarness();
    const paused = h.register();
    const deleted = h.register();
    await h.syncer.tick();
    h.log.length = 0;

    const fresh = h.register();
    h.source.setStatus(paused.workflowId, "paused");
    h.source.workflows.delete(deleted.workflowId);
    // Listed before the others, the new workflow's activation still comes last.
    const reordered = new Map([[fresh.workflowId, h.source.workflows.get(fresh.workflowId)!], ...h.source.workflows]);
    h.source.workflows.clear();
    for (const [id, w] of reordered) h.source.workflows.set(id, w);

    await h.syncer.tick();
    expect(h.log).toEqual([`close ${paused.workflowId.slice(0, 8)}`, `close ${deleted.workflowId.slice(0, 8)}`, `local module ${fresh.workflowId.slice(0, 8)}`]);
    expect([...h.engines.sources().keys()]).toEqual([fresh.workflowId]);
  });

  it("pause and delete close the engine and remove its spec; activation brings it back", async () => {
    const h = createHarness();
    const wf = h.register();
    await h.syncer.tick();
    expect(h.specs.rows.has(wf.workflowId)).toBe(true);

    h.source.setStatus(wf.workflowId, "paused");
    await h.syncer.tick();
    expect(h.engines.has(wf.workflowId)).toBe(false);
    expect(h.specs.rows.has(wf.workflowId)).toBe(false); // PR era: a pause is a delete
    expect(h.localModules.get(wf.workflowId)?.closed).toBe(1);

    h.source.setStatus(wf.workflowId, "active");
    await h.syncer.tick();
    expect(h.engines.get(wf.workflowId)?.engine.ready()).toBe(true);

    h.source.workflows.delete(wf.workflowId);
    await h.syncer.tick();
    expect(h.engines.size()).toBe(0);
    expect(h.specs.rows.size).toBe(0);
  });

  it("a delete that fails half-way keeps the engine registered and is retried", async () => {
    const h = createHarness();
    const wf = h.register();
    await h.syncer.tick();
    h.source.workflows.delete(wf.workflowId);
    h.specs.failNext("deleteMany");
    await h.syncer.tick();
    expect(h.engines.has(wf.workflowId)).toBe(true);
    expect(h.syncer.lastError(wf.workflowId)).toBe("failed to delete workflow spec: deleteMany: database unavailable");
    expect(h.syncer.pending(SOURCE).get(wf.workflowId)).toMatchObject({ retryCount: 1 });
    h.clock.advance(24_001);
    await h.syncer.tick();
    expect(h.engines.has(wf.workflowId)).toBe(false);
    expect(h.specs.rows.has(wf.workflowId)).toBe(false);
    expect(h.syncer.pending(SOURCE).size).toBe(0);
  });
});

describe("backoff", () => {
  it("retries a failing activation after 24 s, 48 s, 96 s, 192 s, then every 300 s, on the tick after", async () => {
    const h = createHarness();
    const wf = h.register();
    h.artifacts.failing.add(wf.binaryUrl);
    h.syncer.start();
    await h.scheduler.advance(1_200_000);
    await h.syncer.close();
    const attempts = h.artifacts.fetches.filter((url) => url === wf.binaryUrl).length;
    // Attempts at 0 s; due after 24 s → the 36 s tick; +48 → after 84 s → 96 s; +96 → after 192 s →
    // 204 s; +192 → after 396 s → 408 s; +300 → after 708 s → 720 s; +300 → after 1020 s → 1032 s.
    expect(attempts).toBe(7);
    expect(h.syncer.pending(SOURCE).get(wf.workflowId)).toMatchObject({ retryCount: 7, nextRetryAtMs: T0 + 1_032_000 + 300_000 });
    expect(h.source.lists).toBe(101); // still listing every 12 s meanwhile
  });

  it("keeps the backoff for a workflow while it fails, and forgets it once it succeeds", async () => {
    const h = createHarness();
    const wf = h.register();
    h.artifacts.failing.add(wf.binaryUrl);
    await h.syncer.tick();
    h.artifacts.failing.clear();
    h.clock.advance(12_000);
    await h.syncer.tick();
    expect(h.engines.has(wf.workflowId)).toBe(false); // still backing off
    h.clock.advance(12_001);
    await h.syncer.tick();
    expect(h.engines.has(wf.workflowId)).toBe(true);
    expect(h.syncer.pending(SOURCE).size).toBe(0);
    expect(h.syncer.lastError(wf.workflowId)).toBeUndefined();
  });
});

describe("a failed listing", () => {
  it("deletes nothing and changes nothing; the next good listing carries on", async () => {
    const h = createHarness();
    const a = h.register();
    const b = h.register();
    await h.syncer.tick();
    h.source.failNextList();
    h.source.workflows.delete(a.workflowId); // would be a delete, if the listing had worked
    const report = await h.syncer.tick();
    expect(report.sources[0]).toEqual({ source: SOURCE, listError: "registry RPC timed out", listed: 0, handled: 0, failed: 0, deferred: 0 });
    expect(h.engines.size()).toBe(2);
    expect(h.specs.rows.size).toBe(2);
    await h.syncer.tick();
    expect([...h.engines.sources().keys()]).toEqual([b.workflowId]);
  });
});

describe("idempotence and duplicates", () => {
  it("handling the same activation twice creates one engine", async () => {
    const h = createHarness();
    const wf = h.register();
    const event = { type: "activated" as const, workflowId: wf.workflowId, source: SOURCE, metadata: wf };
    const [first, second] = await h.handler.handleBatch([event, event]);
    expect(first).toEqual({ kind: "ok" });
    expect(second).toEqual({ kind: "ok" });
    expect((await h.handler.handleBatch([event]))[0]).toEqual({ kind: "ok" });
    expect(h.localModules.size).toBe(1);
    expect(h.engines.size()).toBe(1);
    // Deleting twice is fine too.
    const del = { type: "deleted" as const, workflowId: wf.workflowId, source: SOURCE };
    expect(await h.handler.handleBatch([del])).toEqual([{ kind: "ok" }]);
    expect(await h.handler.handleBatch([del])).toEqual([{ kind: "ok" }]);
  });

  it("the engine registry refuses a second engine for a workflow id", () => {
    const registry = new EngineRegistry();
    const engine = { workflowId: "w", start: async () => undefined, close: async () => undefined, ready: () => true };
    registry.add("w", "source-a", engine);
    let error: ConnectError | undefined;
    try {
      registry.add("w", "source-b", engine);
    } catch (e) {
      error = ConnectError.from(e);
    }
    expect(error?.code).toBe(Code.AlreadyExists);
    expect(error?.rawMessage).toContain("attempting to register duplicate engine");
    expect(registry.pop("w").source).toBe("source-a");
    expect(() => registry.pop("w")).toThrow("pop failed: engine not found");
  });
});

describe("restart", () => {
  it("rebuilds the engines from the registry, reusing stored specs, and runs no trigger event twice", async () => {
    const clock = new ManualClock(T0);
    const first = createHarness({ clock, subscriptions: [CRON("*/10 * * * * *")] });
    const a = first.register();
    const b = first.register({ attributes: '{"confidential":true}' });
    const paused = first.register({ status: "paused" });
    await first.syncer.tick();
    await first.scheduler.advance(10_000); // both fire once at T0+10 s
    await Promise.all(first.engines.getAll().map((e) => e.engine.idle()));
    const fetchesBefore = first.artifacts.fetches.length;
    expect(first.executions.all().filter((r) => r.status === "succeeded")).toHaveLength(2);

    // The process stops (engines drained), and a new one starts on the same database and registry.
    await first.syncer.close();
    await Promise.all(first.engines.popAll().map((e) => e.engine.close()));
    // Its clock reads 5 s earlier (a restart within the same cron period, or a clock step).
    clock.set(T0 + 5_000);
    const second = createHarness({ clock, specs: first.specs, executions: first.executions, source: first.source, artifacts: first.artifacts, subscriptions: [CRON("*/10 * * * * *")] });
    await second.syncer.tick();
    expect([...second.engines.sources().keys()].sort()).toEqual([a.workflowId, b.workflowId].sort());
    expect(second.engines.has(paused.workflowId)).toBe(false);
    expect(second.artifacts.fetches.length).toBe(fetchesBefore); // specs reused, nothing refetched
    await second.syncer.tick(); // a second tick adds nothing
    expect(second.engines.size()).toBe(2);

    // The 10 s event fires again on the new engines, but it already ran: nothing runs twice.
    await second.scheduler.advance(15_000); // to T0+20 s
    await Promise.all(second.engines.getAll().map((e) => e.engine.idle()));
    const ids = first.executions.all().map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(
      [a.workflowId, b.workflowId]
        .flatMap((wf) => [T0 + 10_000, T0 + 20_000].map((t) => deriveExecutionId(wf, `cron-trigger@1.0.0#0:cron:${t}`)))
        .sort(),
    );
    const localRuns = [...first.localModules.values(), ...second.localModules.values()].flatMap((m) => m.triggerCalls());
    expect(localRuns.map((c) => c.payload)).toEqual([`{"scheduledTimeMs":${T0 + 10_000}}`, `{"scheduledTimeMs":${T0 + 20_000}}`]);
  });
});
