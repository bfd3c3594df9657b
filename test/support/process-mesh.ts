/**
 * A ccr mesh as separate OS processes on loopback, for end-to-end and fault-injection tests.
 *
 * Each process of a deployment runs as its own child, exactly as an operator would run it:
 * `node bin/ccr.js init --dir DIR --base-port P` writes the deployment into a fresh temp directory,
 * then `node bin/ccr.js <kind> --config DIR/config/<name>.json` starts gateway, relay-node-0..N-1,
 * vault, capability, enclave and workflow-node. A process counts as up when it has printed its
 * ready line (`{"event":"ready","process":NAME,"url":URL}`) on stdout; the mesh counts as up when
 * every process is, and the gateway reports all N relay nodes connected.
 *
 * Usage (vitest):
 *
 *   const mesh = useProcessMesh();            // beforeAll starts it, afterAll always stops it
 *   it("…", async () => {
 *     const m = mesh();                       // the running ProcessMesh
 *     await m.kill("relay-node-1");           // SIGKILL; resolves once the child has exited
 *     const r = await m.ccr(["workflow", "list", "--dir", m.dir, "--json"]);
 *     expect(r.code, m.diagnostics()).toBe(0);
 *     await m.start("relay-node-1");          // the same config and port again
 *     await m.waitForGatewayNodes(4);         // it has rejoined the gateway
 *   });
 *
 * or, without vitest hooks: `const m = await startProcessMesh(); try { … } finally { await m.close(); }`.
 *
 * API (ProcessMesh):
 *   dir, ports, don, database      the deployment directory, its ports (src/cli/mesh-ports.ts), the
 *                                  parsed don.json, and the database the vault and workflow node use
 *   names                          every process name, in start order
 *   url(name) / pid(name) / running(name)
 *   starts(name)                   how many times the process was started (1 until a restart)
 *   adminUrl                       the workflow node's admin API (= its ready URL)
 *   kill(name, signal?)            default SIGKILL; resolves with {code, signal} once it has exited
 *   stop(name, {timeoutMs?})       SIGTERM, then waits for a drained exit; after timeoutMs it sends
 *                                  SIGKILL and throws (a process that does not drain is a bug)
 *   start(name)                    starts a stopped process again; resolves on its ready line
 *   restart(name, signal?)         kill (SIGKILL by default, or stop() for SIGTERM) then start
 *   ccr(args, {env?, timeoutMs?})  runs one `ccr` command as a child with the mesh's environment;
 *                                  resolves {code, stdout, stderr}; rejects (after killing it) on timeout
 *   metric(name, metric, labels?)  from the process's Prometheus /metrics: the sum of the samples
 *                                  whose labels include `labels` (0 if none)
 *   waitForGatewayNodes(n)         until the gateway's ccr_gateway_nodes_connected gauge equals n
 *   logs(name)                     the process's stderr (and stray stdout), every generation
 *   diagnostics()                  every process's state and last log lines: pass it as the message
 *                                  of expect() so a failure explains itself
 *   close()                        stops every child (SIGTERM, then SIGKILL after a grace period),
 *                                  drops the throwaway database, removes the directory; idempotent
 *
 * Options (ProcessMeshOptions): nodes/f (default 4/1), env (extra variables for every child, e.g.
 * CCR_GATEWAY_REQUEST_TIMEOUT_MS), processEnv (per process name), readyTimeoutMs, seedPglite,
 * progress (start-up steps with elapsed ms, for finding where a slow start spends its time).
 *
 * Database: with DATABASE_URL set, a throwaway database `ccr_test_<random>` is created on that
 * server (test/support/databases.ts), handed to the children as their DATABASE_URL, migrated by the
 * processes themselves, and dropped on close; `database.db` queries it. Without DATABASE_URL each
 * of the vault and the workflow node opens its own PGlite under DIR/data — except in CI (CI=true),
 * where a missing DATABASE_URL fails the start, as the store suites do. Those two data directories
 * are copies of an empty PGlite cluster
 * (made once per PGlite version from databases.ts's empty template, cached in the OS temp
 * directory), so the processes reopen an existing cluster (~1.2 s of CPU) instead of each running
 * initdb (~7.7 s of CPU and ~800 MB, measured); they still apply the migrations themselves.
 * `seedPglite: false` turns this off (to test a first start).
 *
 * Children never inherit DATABASE_URL, CCR_* or NODE_OPTIONS from the test runner's environment, bind
 * 127.0.0.1 only, and are killed (SIGKILL) if the test process exits without closing the mesh.
 * Ports: a free consecutive range below the kernel's ephemeral range (so no outgoing connection
 * can take a killed node's port before it restarts), probed per mesh.
 *
 * Also exported: waitFor(what, check, {timeoutMs, intervalMs}) polls a condition that has no event
 * to await and fails naming it; runCcr(args, env, timeoutMs) runs any ccr command; metricValue(text,
 * metric, labels) reads Prometheus text; findFreePortRange(count); REPO_ROOT and CCR_BIN.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { once } from "node:events";
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll } from "vitest";
import { meshPorts, type MeshPorts } from "../../src/cli/mesh-ports.js";
import type { DonFile } from "../../src/config/index.js";
import type { Db } from "../../src/store/db.js";
import { createServerTestDatabase, pgliteTemplate, serverAvailability, type ServerTestDatabase } from "./databases.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CCR_BIN = join(REPO_ROOT, "bin", "ccr.js");

export type ProcessKind = "gateway" | "relay-node" | "vault" | "capability" | "enclave" | "workflow-node";

export interface ProcessMeshOptions {
  /** Relay DON size and F (default 4 and 1). */
  readonly nodes?: number;
  readonly f?: number;
  /** Extra environment for every child (and for `ccr()`), e.g. {CCR_GATEWAY_REQUEST_TIMEOUT_MS: "5000"}. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra environment for one process by name, e.g. {"relay-node-0": {CCR_SERVER_LOG_LEVEL: "debug"}}. */
  readonly processEnv?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Longest wait for one process's ready line (default 120 s: a cold PGlite on a busy 2-core box). */
  readonly readyTimeoutMs?: number;
  /** PGlite mode: seed the vault's and workflow node's data directories from a template (default true). */
  readonly seedPglite?: boolean;
  /** Told each start-up step with the milliseconds since startProcessMesh was called (e.g. console.log). */
  readonly progress?: (message: string) => void;
}

export type MeshDatabase =
  | { readonly backend: "pglite" }
  | { readonly backend: "postgres"; readonly url: string; readonly db: Db };

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ProcessMesh {
  readonly dir: string;
  readonly ports: MeshPorts;
  readonly don: DonFile;
  readonly database: MeshDatabase;
  readonly names: readonly string[];
  readonly adminUrl: string;
  url(name: string): string;
  pid(name: string): number | undefined;
  running(name: string): boolean;
  starts(name: string): number;
  kill(name: string, signal?: NodeJS.Signals): Promise<ExitInfo>;
  stop(name: string, options?: { readonly timeoutMs?: number }): Promise<ExitInfo>;
  start(name: string): Promise<void>;
  restart(name: string, signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  ccr(args: readonly string[], options?: { readonly env?: Readonly<Record<string, string>>; readonly timeoutMs?: number }): Promise<CommandResult>;
  metric(name: string, metric: string, labels?: Readonly<Record<string, string>>): Promise<number>;
  waitForGatewayNodes(count: number, options?: { readonly timeoutMs?: number }): Promise<void>;
  logs(name: string): string;
  diagnostics(): string;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Waiting for conditions

/**
 * Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`
 * with `what` and the last error `check` threw. For conditions that have no event to await.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { readonly timeoutMs?: number; readonly intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${what}${reason}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

// ---------------------------------------------------------------------------------------------
// Ports

/** The kernel's ephemeral port range (outgoing connections take their local ports from it). */
function ephemeralPortFloor(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const value = Number(low);
    return Number.isInteger(value) && value > 20_000 ? value : 32_768;
  } catch {
    return 32_768;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A base port whose `count` consecutive ports are free on 127.0.0.1 right now. */
export async function findFreePortRange(count: number): Promise<number> {
  const floor = 15_000;
  const ceiling = ephemeralPortFloor() - count;
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = randomInt(floor, ceiling);
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await canBind(port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found between ${floor} and ${ceiling + count}`);
}

// ---------------------------------------------------------------------------------------------
// Children

/** Every live child of every mesh in this process, killed if the process exits without close(). */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const c of liveChildren) c.kill("SIGKILL");
    });
  }
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
}

/** The runner's environment without what would point a child at the wrong database or config. */
function baseEnv(extra: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === "DATABASE_URL" || key === "NODE_OPTIONS" || key.startsWith("CCR_")) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

const LOG_LINES_KEPT = 400;

class LogBuffer {
  private readonly lines: string[] = [];
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > LOG_LINES_KEPT) this.lines.splice(0, this.lines.length - LOG_LINES_KEPT);
  }
  text(): string {
    return this.lines.join("\n");
  }
  tail(n: number): string {
    return this.lines.slice(-n).join("\n");
  }
}

interface Generation {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
}

interface ManagedProcess {
  readonly name: string;
  readonly kind: ProcessKind;
  readonly configFile: string;
  readonly env: Record<string, string>;
  readonly log: LogBuffer;
  url: string | undefined;
  current: Generation | undefined;
  starts: number;
}

function kindOf(name: string): ProcessKind {
  if (/^relay-node-\d+$/.test(name)) return "relay-node";
  if (["gateway", "vault", "capability", "enclave", "workflow-node"].includes(name)) return name as ProcessKind;
  throw new Error(`unknown mesh process "${name}"`);
}

function exitText(exit: ExitInfo): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** Spawns one process and resolves once it has printed its ready line (rejects if it exits first). */
async function spawnProcess(p: ManagedProcess, readyTimeoutMs: number): Promise<void> {
  if (p.current !== undefined && p.current.exit === undefined) throw new Error(`${p.name} is already running (pid ${p.current.child.pid})`);
  p.starts += 1;
  const generation = p.starts;
  const child = spawn(process.execPath, [CCR_BIN, p.kind, "--config", p.configFile], {
    cwd: REPO_ROOT,
    env: p.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  track(child);
  const prefix = generation > 1 ? `[start ${generation}] ` : "";
  let recordExit: (exit: ExitInfo) => void = () => {};
  const gen: Generation = { child, exited: new Promise<ExitInfo>((resolve) => (recordExit = resolve)), exit: undefined };
  child.once("exit", (code, signal) => {
    gen.exit = { code, signal };
    p.log.push(`${prefix}<${exitText(gen.exit)}>`);
    recordExit(gen.exit);
  });
  // A child that could not be spawned at all never emits "exit"; count it as gone.
  child.once("error", (error) => {
    if (gen.exit !== undefined || child.pid !== undefined) return;
    gen.exit = { code: null, signal: null };
    p.log.push(`${prefix}<could not start: ${error.message}>`);
    recordExit(gen.exit);
  });
  const exited = gen.exited;
  p.current = gen;
  createInterface({ input: child.stderr! }).on("line", (line) => p.log.push(`${prefix}${line}`));
  const stdout = createInterface({ input: child.stdout! });
  const ready = new Promise<string>((resolve, reject) => {
    stdout.on("line", (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; process?: string; url?: string };
        if (event.event === "ready" && typeof event.url === "string") {
          resolve(event.url);
          return;
        }
      } catch {
        // not the ready line: kept with the logs below
      }
      p.log.push(`${prefix}(stdout) ${line}`);
    });
    child.once("error", reject);
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    ready.then((url) => ({ kind: "ready" as const, url })),
    exited.then((exit) => ({ kind: "exited" as const, exit })),
    new Promise<{ kind: "timeout" }>((resolve) => (timer = setTimeout(() => resolve({ kind: "timeout" }), readyTimeoutMs))),
  ]).finally(() => clearTimeout(timer));
  if (outcome.kind === "ready") {
    p.url = outcome.url;
    return;
  }
  if (outcome.kind === "timeout") {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`${p.name} printed no ready line within ${readyTimeoutMs} ms; its log:\n${p.log.tail(40)}`);
  }
  throw new Error(`${p.name} ${exitText(outcome.exit)} before it was ready; its log:\n${p.log.tail(40)}`);
}

async function signalAndWait(p: ManagedProcess, signal: NodeJS.Signals): Promise<ExitInfo> {
  const gen = p.current;
  if (gen === undefined || gen.exit !== undefined) throw new Error(`${p.name} is not running`);
  gen.child.kill(signal);
  return gen.exited;
}

// ---------------------------------------------------------------------------------------------
// The mesh

/** Runs `ccr init` for a new deployment and starts every process of it as a child. */
export async function startProcessMesh(options: ProcessMeshOptions = {}): Promise<ProcessMesh> {
  const nodes = options.nodes ?? 4;
  const f = options.f ?? 1;
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const startedAt = Date.now();
  const progress = (message: string): void => options.progress?.(`+${Date.now() - startedAt} ms ${message}`);
  const dir = mkdtempSync(join(tmpdir(), "ccr-e2e-"));
  const processes = new Map<string, ManagedProcess>();
  let serverDb: ServerTestDatabase | undefined;
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const live = [...processes.values()].filter((p) => p.current !== undefined && p.current.exit === undefined);
      // Clients first would be kinder, but every process drains on its own; stop all at once and
      // make sure none outlives the mesh.
      await Promise.all(
        live.map(async (p) => {
          const gen = p.current!;
          gen.child.kill("SIGTERM");
          const timer = setTimeout(() => gen.child.kill("SIGKILL"), 10_000);
          await gen.exited;
          clearTimeout(timer);
        }),
      );
      await serverDb?.dispose().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    })());

  try {
    const availability = serverAvailability();
    if (availability.kind === "required") throw new Error(availability.reason);
    let database: MeshDatabase = { backend: "pglite" };
    const databaseEnv: Record<string, string> = {};
    if (availability.kind === "available") {
      serverDb = await createServerTestDatabase(availability.url, { migrated: false });
      database = { backend: "postgres", url: serverDb.url, db: serverDb.db };
      databaseEnv["DATABASE_URL"] = serverDb.url;
    }
    const env = baseEnv({ ...databaseEnv, ...(options.env ?? {}) });
    progress(`database: ${database.backend}`);

    const basePort = await findFreePortRange(nodes + 5);
    const init = await runCcr(["init", "--dir", dir, "--base-port", String(basePort), "--nodes", String(nodes), "--f", String(f)], env, 60_000);
    if (init.code !== 0) throw new Error(`ccr init failed (exit ${init.code}):\n${init.stderr}`);
    progress(`ccr init done (${dir}, base port ${basePort})`);
    if (database.backend === "pglite" && options.seedPglite !== false) {
      // The paths `ccr init` configures (vault.dataDir and workflowNode.dataDir, relative to config/).
      const cluster = await emptyPgliteCluster();
      for (const name of ["vault", "workflow-node"]) cpSync(cluster, join(dir, "data", name), { recursive: true });
      progress("PGlite data directories copied from an empty cluster");
    }
    const don = JSON.parse(readFileSync(join(dir, "don.json"), "utf8")) as DonFile;
    const ports = meshPorts(basePort, nodes);

    const relayNames = Array.from({ length: nodes }, (_, i) => `relay-node-${i}`);
    const names = ["gateway", "vault", "capability", "workflow-node", "enclave", ...relayNames];
    for (const name of names) {
      processes.set(name, {
        name,
        kind: kindOf(name),
        configFile: join(dir, "config", `${name}.json`),
        env: { ...env, ...(options.processEnv?.[name] ?? {}) },
        log: new LogBuffer(),
        url: undefined,
        current: undefined,
        starts: 0,
      });
    }
    const get = (name: string): ManagedProcess => {
      const p = processes.get(name);
      if (p === undefined) throw new Error(`no process "${name}" in this mesh (processes: ${names.join(", ")})`);
      return p;
    };
    const startOne = async (name: string): Promise<void> => {
      await spawnProcess(get(name), readyTimeoutMs);
      progress(`${name} ready`);
    };

    // The slow starters (PGlite) and the gateway first; relay nodes dial the gateway, so they start
    // once it listens (otherwise they back off, up to 30 s, before dialling again).
    const early = Promise.all(["vault", "workflow-node", "capability"].map(startOne));
    early.catch(() => undefined); // awaited below; observed now in case the gateway fails first
    await startOne("gateway");
    await Promise.all([early, ...["enclave", ...relayNames].map(startOne)]);

    const url = (name: string): string => {
      const u = get(name).url;
      if (u === undefined) throw new Error(`${name} has not been ready yet`);
      return u;
    };

    const diagnostics = (): string =>
      names
        .map((name) => {
          const p = get(name);
          const gen = p.current;
          const state = gen === undefined ? "never started" : gen.exit === undefined ? `running (pid ${gen.child.pid})` : exitText(gen.exit);
          return `--- ${name}: ${state}, started ${p.starts}×\n${p.log.tail(15)}`;
        })
        .join("\n");

    const metric = async (name: string, metricName: string, labels: Readonly<Record<string, string>> = {}): Promise<number> => {
      const response = await fetch(`${url(name)}/metrics`, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`${name} /metrics answered HTTP ${response.status}`);
      return metricValue(await response.text(), metricName, labels);
    };

    const mesh: ProcessMesh = {
      dir,
      ports,
      don,
      database,
      names,
      get adminUrl() {
        return url("workflow-node");
      },
      url,
      pid: (name) => {
        const gen = get(name).current;
        return gen !== undefined && gen.exit === undefined ? gen.child.pid : undefined;
      },
      running: (name) => {
        const gen = get(name).current;
        return gen !== undefined && gen.exit === undefined;
      },
      starts: (name) => get(name).starts,
      kill: (name, signal = "SIGKILL") => signalAndWait(get(name), signal),
      stop: async (name, stopOptions = {}) => {
        const p = get(name);
        const gen = p.current;
        if (gen === undefined || gen.exit !== undefined) throw new Error(`${name} is not running`);
        const timeoutMs = stopOptions.timeoutMs ?? 15_000;
        gen.child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
          gen.exited,
          new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs))),
        ]).finally(() => clearTimeout(timer));
        if (drained !== undefined) return drained;
        gen.child.kill("SIGKILL");
        await gen.exited;
        throw new Error(`${name} did not exit within ${timeoutMs} ms of SIGTERM (killed it); its log:\n${p.log.tail(30)}`);
      },
      start: startOne,
      restart: async (name, signal = "SIGKILL") => {
        if (signal === "SIGTERM") await mesh.stop(name);
        else await mesh.kill(name, "SIGKILL");
        await startOne(name);
      },
      ccr: (args, ccrOptions = {}) => runCcr(args, { ...env, ...(ccrOptions.env ?? {}) }, ccrOptions.timeoutMs ?? 60_000),
      metric,
      waitForGatewayNodes: async (count, waitOptions = {}) => {
        let last = Number.NaN;
        await waitFor(
          `the gateway to report ${count} relay node(s) connected`,
          async () => (last = await metric("gateway", "ccr_gateway_nodes_connected")) === count,
          { timeoutMs: waitOptions.timeoutMs ?? 30_000 },
        ).catch((error: Error) => {
          throw new Error(`${error.message}; it reports ${last}\n${diagnostics()}`);
        });
      },
      logs: (name) => get(name).log.text(),
      diagnostics,
      close,
    };
    await mesh.waitForGatewayNodes(nodes);
    progress(`the gateway has all ${nodes} relay nodes`);
    return mesh;
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Registers beforeAll/afterAll hooks that start a mesh for the enclosing suite and always stop it,
 * whether or not the tests pass. Returns a getter for use inside tests.
 */
export function useProcessMesh(options: ProcessMeshOptions = {}, hookTimeoutMs = 180_000): () => ProcessMesh {
  let mesh: ProcessMesh | undefined;
  beforeAll(async () => {
    mesh = await startProcessMesh(options);
  }, hookTimeoutMs);
  afterAll(async () => {
    await mesh?.close();
    mesh = undefined;
  }, 60_000);
  return () => {
    if (mesh === undefined) throw new Error("the process mesh exists only inside the tests of its suite (did it fail to start? see the hook error)");
    return mesh;
  };
}

/**
 * A PGlite data directory holding an empty cluster (initdb done, no tables), for this PGlite
 * version: built once from the empty template tarball and kept in the OS temp directory, so a mesh
 * only copies it. Built under a temporary name and renamed into place, so no process ever copies a
 * half-written one; when two build it at once, the first rename wins and the other is discarded.
 */
async function emptyPgliteCluster(): Promise<string> {
  const pglitePackage = join(REPO_ROOT, "node_modules", "@electric-sql", "pglite", "package.json");
  const version = (JSON.parse(readFileSync(pglitePackage, "utf8")) as { version: string }).version;
  const path = join(tmpdir(), `ccr-pglite-cluster-${version}`);
  if (existsSync(join(path, "PG_VERSION"))) return path;
  const partial = `${path}.${process.pid}-${randomInt(1_000_000_000)}.tmp`;
  try {
    const pg = await PGlite.create({ dataDir: partial, loadDataDir: await pgliteTemplate("empty") });
    await pg.close();
    renameSync(partial, path);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(path, "PG_VERSION"))) throw error;
  }
  return path;
}

/** Runs `node bin/ccr.js ARGS` to completion; kills it and rejects after `timeoutMs`. */
export async function runCcr(args: readonly string[], env: Readonly<Record<string, string>>, timeoutMs: number): Promise<CommandResult> {
  const child = spawn(process.execPath, [CCR_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  track(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const [code] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (timedOut) {
    throw new Error(`ccr ${args.join(" ")} did not finish within ${timeoutMs} ms (killed it)\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  }
  return { code, stdout, stderr };
}

/**
 * A value from Prometheus text: the sum of the samples of `metric` whose labels include `labels`
 * (all of them when `labels` is empty); 0 when there is none.
 */
export function metricValue(text: string, metric: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(metric)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== metric) continue;
    const sampleLabels = new Map<string, string>();
    for (const pair of (match[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) sampleLabels.set(pair[1]!, pair[2]!);
    if (!Object.entries(labels).every(([k, v]) => sampleLabels.get(k) === v)) continue;
    sum = (sum ?? 0) + Number(match[4]);
  }
  return sum ?? 0;
}
