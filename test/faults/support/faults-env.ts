/**
 * The fault suite's own switches, and the Postgres restart it may perform.
 *
 * test/support/test-env.ts is the project's one reader of the environment for tests; it knows
 * DATABASE_URL and CI. Restarting a Postgres server is something no test may do by accident, so
 * the switch for it lives here, next to the only code that uses it (see the report: these two
 * variables belong in test-env.ts once that file can take them):
 *
 *   CCR_FAULTS_RESTART_POSTGRES=1   allow test/faults/postgres.faults.ts to restart the server
 *                                   (implied by CI=true: CI runs the fault suite alone, after the
 *                                   other suites)
 *   CCR_FAULTS_PG_DATA_DIR=DIR      restart the private cluster in DIR with `pg_ctl` (e.g. one made
 *                                   with initdb for a local run) instead of the machine's cluster
 *                                   with `pg_ctlcluster --skip-systemctl-redirect <version> main`
 *
 * The restart only ever targets a server on the loopback interface: DATABASE_URL must name
 * 127.0.0.1, localhost or ::1.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import { testEnv } from "../../support/test-env.js";

export type PostgresRestart =
  | { readonly kind: "enabled"; readonly databaseUrl: string; readonly command: readonly string[] }
  | { readonly kind: "disabled"; readonly reason: string }
  | { readonly kind: "misconfigured"; readonly reason: string };

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Whether this run may restart the Postgres server, and how. */
export function postgresRestart(): PostgresRestart {
  const env = testEnv();
  const optIn = process.env["CCR_FAULTS_RESTART_POSTGRES"];
  const allowed = env.ci || optIn === "1" || optIn === "true";
  if (!allowed) {
    return { kind: "disabled", reason: "restarts the Postgres server: runs in CI (CI=true) or with CCR_FAULTS_RESTART_POSTGRES=1" };
  }
  if (env.databaseUrl === undefined) {
    return { kind: "misconfigured", reason: "the Postgres fault test needs DATABASE_URL (a server on 127.0.0.1 it may restart)" };
  }
  let host: string;
  try {
    host = new URL(env.databaseUrl).hostname;
  } catch {
    return { kind: "misconfigured", reason: "DATABASE_URL is not a URL" };
  }
  if (!LOOPBACK.has(host)) {
    return { kind: "misconfigured", reason: `DATABASE_URL names host "${host}"; the Postgres fault test restarts only a server on 127.0.0.1` };
  }
  const dataDir = process.env["CCR_FAULTS_PG_DATA_DIR"];
  if (dataDir !== undefined && dataDir !== "") {
    const pgCtl = ["pg_ctl", "-D", dataDir, "-m", "fast", "-w", "-t", "60", "restart"];
    return { kind: "enabled", databaseUrl: env.databaseUrl, command: process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--", ...pgCtlPath(pgCtl)] : pgCtlPath(pgCtl) };
  }
  let versions: string[];
  try {
    versions = readdirSync("/etc/postgresql");
  } catch {
    return { kind: "misconfigured", reason: "no /etc/postgresql: set CCR_FAULTS_PG_DATA_DIR to restart a private cluster with pg_ctl" };
  }
  if (versions.length !== 1) return { kind: "misconfigured", reason: `expected one PostgreSQL version in /etc/postgresql, found ${versions.join(", ") || "none"}` };
  return { kind: "enabled", databaseUrl: env.databaseUrl, command: ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0]!, "main", "restart"] };
}

/** pg_ctl is not on PATH on Debian; use the installed version's binary. */
function pgCtlPath(args: readonly string[]): string[] {
  const [bin, ...rest] = args;
  try {
    const versions = readdirSync("/usr/lib/postgresql");
    if (versions.length > 0) return [`/usr/lib/postgresql/${versions.sort().at(-1)}/bin/${bin}`, ...rest];
  } catch {
    // not Debian: rely on PATH
  }
  return [bin!, ...rest];
}

export interface RestartTiming {
  /** How long the restart command ran. */
  readonly commandMs: number;
  /** From the start of the restart until a new connection answered `select 1`. */
  readonly untilAnsweringMs: number;
}

/** Runs the restart command, then waits until the server answers again (at most 60 s each). */
export async function restartPostgres(restart: Extract<PostgresRestart, { kind: "enabled" }>): Promise<RestartTiming> {
  const t0 = performance.now();
  const [bin, ...args] = restart.command;
  // The command's output goes to a file, not a pipe: a server started by `pg_ctl restart` keeps
  // its parent's stdout and stderr, and a pipe would never close.
  const outFile = join(tmpdir(), `ccr-faults-pg-restart-${process.pid}.log`);
  const out = openSync(outFile, "w");
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(bin!, args, { stdio: ["ignore", out, out] });
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    if (code !== 0) throw new Error(`${restart.command.join(" ")} exited with ${code}:\n${readFileSync(outFile, "utf8").slice(-2_000)}`);
  } finally {
    closeSync(out);
  }
  const commandMs = performance.now() - t0;
  for (;;) {
    const sql = postgres(restart.databaseUrl, { max: 1, connect_timeout: 2, idle_timeout: 1, onnotice: () => undefined });
    try {
      await sql`select 1`;
      return { commandMs, untilAnsweringMs: performance.now() - t0 };
    } catch (error) {
      if (performance.now() - t0 > 60_000) throw new Error(`Postgres did not answer within 60 s of the restart: ${(error as Error).message}`);
    } finally {
      await sql.end({ timeout: 1 }).catch(() => undefined);
    }
    await sleep(100);
  }
}
