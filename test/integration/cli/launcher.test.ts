/**
 * The `ccr` command as npm installs it: node_modules/.bin/ccr → ../ccr/bin/ccr (the sh launcher),
 * found on PATH. It must find its own bin/ through the links, run the compiled bundle of the real
 * sources, and start node with bin/node-options (or CCR_NODE_OPTIONS) on node's command line, as
 * /proc/<pid>/cmdline of a running `ccr gateway` shows (the launcher execs node: same pid).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeOptions } from "../../../bin/node-options.js";
import { findFreePortRange, REPO_ROOT } from "../../support/process-mesh.js";

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
const CCR_JS = join(REPO_ROOT, "bin", "ccr.js");

let scratch: string;
let deployment: string;

/** The runner's environment without CCR_* and NODE_OPTIONS, with an npm-style .bin first on PATH. */
function launcherEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key === "NODE_OPTIONS" || key === "DATABASE_URL" || key.startsWith("CCR_")) continue;
    env[key] = value;
  }
  env.PATH = [join(scratch, "node_modules", ".bin"), dirname(process.execPath), env.PATH ?? ""].join(delimiter);
  return { ...env, ...extra };
}

async function runToExit(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("ccr", args, { cwd: scratch, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

/** Starts `ccr gateway` through the launcher; resolves with the child once it printed its ready line. */
async function startGateway(env: Record<string, string>): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn("ccr", ["gateway", "--config", join(deployment, "config", "gateway.json")], { cwd: scratch, env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`ccr gateway exited (${String(code)}) before it was ready:\n${stderr}`);
  });
  const ready = new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const event = JSON.parse(line) as { event?: string; url?: string };
      if (event.event === "ready" && event.url !== undefined) resolve(event.url);
    });
  });
  const url = await Promise.race([ready, exited]);
  expect((await fetch(`${url}/metrics`)).status).toBe(200);
  return { child, stderr: () => stderr };
}

/** The node options a running process was started with: its argv between `node` and the script. */
function execArgvOf(pid: number): string[] {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((arg) => arg !== "");
  const script = argv.indexOf(CCR_JS);
  if (script < 0) throw new Error(`process ${pid} is not running ${CCR_JS}: ${argv.join(" ")}`);
  return argv.slice(1, script);
}

async function stop(gateway: { child: ChildProcess; stderr: () => string }): Promise<void> {
  const exit = once(gateway.child, "exit");
  gateway.child.kill("SIGTERM");
  const [code, signal] = (await exit) as [number | null, NodeJS.Signals | null];
  expect({ code, signal }, gateway.stderr()).toEqual({ code: 0, signal: null });
}

beforeAll(async () => {
  // node_modules/ccr is the package (a symlink, as `npx ccr` in a checkout links it); .bin/ccr links into it.
  scratch = mkdtempSync(join(tmpdir(), "ccr-launcher-"));
  mkdirSync(join(scratch, "node_modules", ".bin"), { recursive: true });
  symlinkSync(REPO_ROOT, join(scratch, "node_modules", "ccr"), "dir");
  symlinkSync("../ccr/bin/ccr", join(scratch, "node_modules", ".bin", "ccr"));
  deployment = join(scratch, "deployment");
  const basePort = await findFreePortRange(9);
  const init = await runToExit(["init", "--dir", deployment, "--base-port", String(basePort)], launcherEnv());
  expect(init.code, init.stderr).toBe(0);
}, 120_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("the ccr launcher (bin/ccr)", () => {
  it("runs `ccr --version` through npm's bin symlink, from the compiled bundle of the sources", async () => {
    // CCR_LOADER=bundle: fail instead of falling back to tsx, so this also proves the real tree bundles.
    const result = await runToExit(["--version"], launcherEnv({ CCR_LOADER: "bundle" }));
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`${VERSION}\n`);
    expect(result.code).toBe(0);
  }, 60_000);

  it("starts node with the options of bin/node-options (--max-semi-space-size=2)", async () => {
    const gateway = await startGateway(launcherEnv());
    try {
      expect(execArgvOf(gateway.child.pid!)).toEqual(nodeOptions({}));
      expect(execArgvOf(gateway.child.pid!)).toContain("--max-semi-space-size=2");
    } finally {
      await stop(gateway);
    }
  }, 120_000);

  it("replaces those options with CCR_NODE_OPTIONS when it is set", async () => {
    const env = launcherEnv({ CCR_NODE_OPTIONS: "--max-semi-space-size=4  --max-old-space-size=512" });
    const gateway = await startGateway(env);
    try {
      expect(execArgvOf(gateway.child.pid!)).toEqual(["--max-semi-space-size=4", "--max-old-space-size=512"]);
      expect(execArgvOf(gateway.child.pid!)).toEqual(nodeOptions(env));
    } finally {
      await stop(gateway);
    }
  }, 120_000);

  it("drains and exits 0 on a SIGTERM sent the moment it prints its ready line", async () => {
    // A supervisor may signal as soon as it reads "ready", so the process must already be listening.
    // The supervisor here is a bare node process (a busy vitest worker reacts too late to lose the
    // race): before the fix, 5 of 8 gateways died of the signal instead of draining.
    const supervisor = `
      const { spawn } = require("node:child_process");
      (async () => {
        const outcomes = [];
        for (let i = 0; i < 8; i++) {
          const child = spawn("ccr", ["gateway", "--config", process.argv[1]], { stdio: ["ignore", "pipe", "ignore"] });
          child.stdout.on("data", (chunk) => { if (String(chunk).includes('"event":"ready"')) child.kill("SIGTERM"); });
          outcomes.push(await new Promise((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code))));
        }
        process.stdout.write(JSON.stringify(outcomes));
      })();`;
    const child = spawn(process.execPath, ["-e", supervisor, join(deployment, "config", "gateway.json")], {
      cwd: scratch,
      env: launcherEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, "close")) as [number | null];
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  }, 120_000);

  it("refuses an unknown CCR_LOADER, naming the accepted values", async () => {
    const result = await runToExit(["--version"], launcherEnv({ CCR_LOADER: "esbuild" }));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`CCR_LOADER must be "tsx", "bundle" or unset`);
  });
});
