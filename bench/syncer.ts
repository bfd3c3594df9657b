/**
 * Syncer benchmark (issue 7): `npx tsx bench/syncer.ts [--workflows N] [--changes N] [--runs N] [--db postgres://…]`.
 *
 * Registers N workflows (default 10 000) in the registry table, then times real syncer ticks over
 * the real stores (PGlite in memory by default, or a throwaway database on the Postgres server given
 * by --db, dropped afterwards) with the real
 * handler, engine factory and engines; only the guest is a no-op module (Subscribe answers no
 * triggers) and artifacts come from memory instead of HTTP:
 *   first     the first tick: N activations (spec reads, artifact fetches, one multi-row spec upsert
 *             per 500 rows, N engines built and started)
 *   steady    a tick with nothing changed: one registry listing and an in-memory diff (median of runs)
 *   changed   a tick with `changes` changes: half paused, half newly registered
 * Target (issue 7): steady tick < 1 s at 10 000 workflows.
 *
 * Ends with one JSON line {"bench":"syncer",...} for an aggregator.
 */
import { create } from "@bufbuild/protobuf";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { sdk } from "../src/contract/index.js";
import { systemClock } from "../src/domain/clock.js";
import { generateEd25519 } from "../src/domain/crypto/ed25519.js";
import { deriveWorkflowIdHex } from "../src/domain/workflow/workflow-id.js";
import { noCapabilities } from "../src/services/workflow-node/capability-caller.js";
import type { WorkflowEngine } from "../src/services/workflow-node/engine.js";
import { EngineRegistry } from "../src/services/workflow-node/engine-registry.js";
import { createWorkflowEventHandler } from "../src/services/workflow-node/handler.js";
import { silentLogger, type ModuleV2 } from "../src/services/workflow-node/module.js";
import { registryWorkflowSource } from "../src/services/workflow-node/registry.js";
import { createSystemScheduler } from "../src/services/workflow-node/scheduler.js";
import { WorkflowSyncer, type SyncTickReport } from "../src/services/workflow-node/syncer.js";
import { openDatabase, type Db } from "../src/store/db.js";
import { migrate } from "../src/store/migrate.js";
import { createWorkflowExecutionsStore } from "../src/store/workflow-executions.js";
import { createWorkflowRegistryStore } from "../src/store/workflow-registry.js";
import { createWorkflowSpecsStore } from "../src/store/workflow-specs.js";

function arg(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : undefined;
}

const WORKFLOWS = Number(arg("--workflows") ?? 10_000);
const CHANGES = Number(arg("--changes") ?? 100);
const RUNS = Number(arg("--runs") ?? 5);
const DB_URL = arg("--db");
const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";

/** Answers Subscribe with no triggers; never asked to execute. */
const noOpModule: ModuleV2 = {
  start: () => undefined,
  close: () => undefined,
  isLegacyDAG: () => false,
  execute: async () => create(sdk.ExecutionResultSchema, { result: { case: "triggerSubscriptions", value: { subscriptions: [] } } }),
};

/** On a server, a throwaway database `ccr_bench_<random>` (dropped afterwards); else PGlite in memory. */
async function openBenchDatabase(): Promise<{ db: Db; dispose: () => Promise<void> }> {
  if (DB_URL === undefined) {
    const db = await openDatabase();
    return { db, dispose: () => db.close() };
  }
  const name = `ccr_bench_${randomBytes(6).toString("hex")}`;
  const admin = await openDatabase({ url: DB_URL, maxConnections: 1 });
  await admin.sql.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(DB_URL);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString() });
  return {
    db,
    dispose: async () => {
      await db.close();
      await admin.sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.close();
    },
  };
}

async function main(): Promise<void> {
  const { db, dispose } = await openBenchDatabase();
  try {
    await migrate(db);

    const artifacts = new Map<string, Uint8Array>();
    const registerMany = async (from: number, count: number): Promise<void> => {
      const rows = [];
      const now = new Date();
      for (let i = from; i < from + count; i++) {
        const binary = new TextEncoder().encode(`\0asm bench workflow ${i}`);
        const config = new TextEncoder().encode(`{"n":${i}}`);
        const name = `bench-${i}`;
        const workflowId = deriveWorkflowIdHex({ owner: OWNER, name, binary, config });
        const binaryUrl = `http://artifacts.bench/artifacts/${workflowId}/binary`;
        const configUrl = `http://artifacts.bench/artifacts/${workflowId}/config`;
        artifacts.set(binaryUrl, binary);
        artifacts.set(configUrl, config);
        rows.push({
          workflow_id: workflowId,
          owner: OWNER,
          name,
          tag: "latest",
          status: "active",
          don_family: "",
          binary_url: binaryUrl,
          config_url: configUrl,
          secrets_url: "",
          attributes: new Uint8Array(0),
          created_at: now,
          updated_at: now,
        });
      }
      for (let i = 0; i < rows.length; i += 1_000) {
        const chunk = rows.slice(i, i + 1_000);
        await db.sql`insert into workflow_registry ${db.sql(chunk, "workflow_id", "owner", "name", "tag", "status", "don_family", "binary_url", "config_url", "secrets_url", "attributes", "created_at", "updated_at")}`;
      }
    };
    await registerMany(0, WORKFLOWS);

    const clock = systemClock;
    const scheduler = createSystemScheduler();
    const engines = new EngineRegistry<WorkflowEngine>();
    const registryStore = createWorkflowRegistryStore(db.sql);
    const handler = createWorkflowEventHandler({
      specs: createWorkflowSpecsStore(db.sql),
      engines,
      fetchArtifact: async (url) => {
        const bytes = artifacts.get(url);
        if (bytes === undefined) throw new Error(`no artifact ${url}`);
        return bytes;
      },
      engineFactory: {
        executions: createWorkflowExecutionsStore(db.sql),
        capabilities: noCapabilities,
        limits: { maxConcurrentExecutions: 4, maxQueuedExecutions: 100, executionTimeoutMs: 60_000, maxResponseSizeBytes: 100_000 },
        clock,
        scheduler,
        randomBytes: (n) => new Uint8Array(n),
        logger: silentLogger,
        localModule: () => noOpModule,
        confidential: { client: undefined as never, signer: generateEd25519().signer }, // unused: no workflow is confidential
      },
      clock,
      logger: silentLogger,
      concurrency: 12,
    });
    const syncer = new WorkflowSyncer({ sources: [registryWorkflowSource(registryStore)], handler, engines, clock, scheduler, syncIntervalMs: 12_000 });

    const timed = async (): Promise<{ ms: number; report: SyncTickReport }> => {
      const start = performance.now();
      const report = await syncer.tick();
      return { ms: performance.now() - start, report };
    };
    const check = (report: SyncTickReport, what: string): void => {
      const source = report.sources[0];
      if (source === undefined || source.listError !== undefined || source.failed > 0) {
        throw new Error(`${what} tick did not succeed: ${JSON.stringify(report)}`);
      }
    };

    const first = await timed();
    check(first.report, "first");
    if (engines.size() !== WORKFLOWS) throw new Error(`expected ${WORKFLOWS} engines, got ${engines.size()}`);

    const steadyRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const steady = await timed();
      check(steady.report, "steady");
      if (steady.report.sources[0]?.handled !== 0) throw new Error("steady tick handled events");
      steadyRuns.push(steady.ms);
    }
    steadyRuns.sort((a, b) => a - b);
    const steadyMedian = steadyRuns[Math.floor(steadyRuns.length / 2)] ?? Number.NaN;

    // `changes` changes: half the oldest paused, half new workflows registered.
    const pauses = Math.floor(CHANGES / 2);
    await db.sql`
      update workflow_registry set status = 'paused'
      where workflow_id in (select workflow_id from workflow_registry order by created_at, workflow_id limit ${pauses})`;
    await registerMany(WORKFLOWS, CHANGES - pauses);
    const changed = await timed();
    check(changed.report, "changed");
    if (changed.report.sources[0]?.handled !== CHANGES) throw new Error(`expected ${CHANGES} events, got ${JSON.stringify(changed.report)}`);
    if (engines.size() !== WORKFLOWS - pauses + (CHANGES - pauses)) throw new Error(`unexpected engine count ${engines.size()}`);

    const backend = db.backend;
    const round = (ms: number): number => Math.round(ms * 10) / 10;
    console.log(`syncer benchmark: ${WORKFLOWS} workflows on ${backend}${backend === "pglite" ? " (in memory)" : ""}, load ${loadavg()[0]?.toFixed(2)}`);
    console.log(`  first tick (${WORKFLOWS} activations)      ${round(first.ms)} ms`);
    console.log(`  steady tick (nothing changed)        ${round(steadyMedian)} ms median of ${RUNS} (min ${round(steadyRuns[0] ?? NaN)}, max ${round(steadyRuns.at(-1) ?? NaN)})   target < 1000 ms`);
    console.log(`  tick with ${CHANGES} changes (${pauses} paused, ${CHANGES - pauses} new)   ${round(changed.ms)} ms`);
    console.log(
      JSON.stringify({
        bench: "syncer",
        backend,
        workflows: WORKFLOWS,
        firstTickMs: round(first.ms),
        steadyTickMs: round(steadyMedian),
        steadyTickRunsMs: steadyRuns.map(round),
        changes: CHANGES,
        changedTickMs: round(changed.ms),
        steadyTargetMs: 1000,
        steadyWithinTarget: steadyMedian < 1000,
      }),
    );
    await syncer.close();
    await Promise.all(engines.popAll().map((e) => e.engine.close()));
  } finally {
    await dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
