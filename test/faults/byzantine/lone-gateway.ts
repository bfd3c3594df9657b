/**
 * A fresh deployment (`ccr init`) with only its gateway running, as its own OS process
 * (`node bin/ccr.js gateway --config DIR/config/gateway.json`), for suites whose relay nodes live in
 * the test process. The gateway is the real one, with its real config: the deployment's DON, the edge
 * attestation check against the deployment's dev CA and measurements, default limits.
 *
 * Children never inherit DATABASE_URL, CCR_* or NODE_OPTIONS from the runner (as in
 * test/support/process-mesh.ts) and are killed if the test process exits without closing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { DonFile } from "../../../src/config/index.js";
import { CCR_BIN, findFreePortRange, metricValue, REPO_ROOT, runCcr } from "../../support/process-mesh.js";

export interface LoneGateway {
  readonly dir: string;
  readonly url: string;
  readonly pid: number;
  readonly don: DonFile;
  /** True while the child runs. */
  running(): boolean;
  /** Sum of a metric's samples whose labels include `labels`, from the gateway's /metrics. */
  metric(name: string, labels?: Readonly<Record<string, string>>): Promise<number>;
  /** The child's stderr (last lines). */
  logs(): string;
  close(): Promise<void>;
}

function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === "DATABASE_URL" || key === "NODE_OPTIONS" || key.startsWith("CCR_")) continue;
    env[key] = value;
  }
  return env;
}

export async function startLoneGateway(options: { readonly nodes: number; readonly f: number; readonly readyTimeoutMs?: number }): Promise<LoneGateway> {
  const dir = mkdtempSync(join(tmpdir(), "ccr-byzantine-"));
  const env = childEnv();
  let child: ChildProcess | undefined;
  const killOnExit = (): void => {
    child?.kill("SIGKILL");
  };
  try {
    const basePort = await findFreePortRange(options.nodes + 5);
    const init = await runCcr(["init", "--dir", dir, "--base-port", String(basePort), "--nodes", String(options.nodes), "--f", String(options.f)], env, 60_000);
    if (init.code !== 0) throw new Error(`ccr init failed (exit ${init.code}):\n${init.stderr}`);
    const don = JSON.parse(readFileSync(join(dir, "don.json"), "utf8")) as DonFile;

    const c = spawn(process.execPath, [CCR_BIN, "gateway", "--config", join(dir, "config", "gateway.json")], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    process.once("exit", killOnExit);
    const log: string[] = [];
    createInterface({ input: c.stderr! }).on("line", (line) => {
      log.push(line);
      if (log.length > 200) log.shift();
    });
    let exited = false;
    const exit = new Promise<void>((resolve) => c.once("exit", () => ((exited = true), resolve())));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the gateway printed no ready line within ${options.readyTimeoutMs ?? 60_000} ms:\n${log.join("\n")}`)), options.readyTimeoutMs ?? 60_000);
      void exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`the gateway exited before it was ready:\n${log.join("\n")}`));
      });
      createInterface({ input: c.stdout! }).on("line", (line) => {
        try {
          const event = JSON.parse(line) as { event?: string; url?: string };
          if (event.event === "ready" && typeof event.url === "string") {
            clearTimeout(timer);
            resolve(event.url);
          }
        } catch {
          log.push(`(stdout) ${line}`);
        }
      });
    });
    let closing: Promise<void> | undefined;
    return {
      dir,
      url,
      pid: c.pid!,
      don,
      running: () => !exited,
      async metric(name, labels = {}) {
        const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
        if (!response.ok) throw new Error(`gateway /metrics answered HTTP ${response.status}`);
        return metricValue(await response.text(), name, labels);
      },
      logs: () => log.join("\n"),
      close: () =>
        (closing ??= (async () => {
          if (!exited) {
            c.kill("SIGTERM");
            const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
            await exit;
            clearTimeout(timer);
          }
          process.off("exit", killOnExit);
          rmSync(dir, { recursive: true, force: true });
        })()),
    };
  } catch (error) {
    child?.kill("SIGKILL");
    process.off("exit", killOnExit);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
