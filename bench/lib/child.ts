/**
 * Child processes for the benchmarks: a benchmark script run to completion (its last JSON line is its
 * result), and a long-running `ccr up` mesh that the end-to-end benchmark drives.
 *
 * Children run in their own process group, so a timeout or an interrupted run ends the whole tree
 * (npx → tsx → node, or ccr and the workers it starts) and nothing is left running on the box.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

let hooked = false;
/** On exit or interrupt, take every child still running down with this process. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of live) killGroup(c, "SIGKILL");
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      for (const c of live) killGroup(c, "SIGKILL");
      process.exit(130);
    });
  }
}

function track(child: ChildProcess): void {
  hookExit();
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** The last stdout line that is a JSON object with a string `bench` field, parsed; undefined if none. */
export function lastBenchJson(lines: readonly string[]): Record<string, unknown> | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string).trim();
    if (!line.startsWith("{")) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === "object" && value !== null && typeof (value as { bench?: unknown }).bench === "string") {
        return value as Record<string, unknown>;
      }
    } catch {
      // a human line that happens to start with "{"
    }
  }
  return undefined;
}

export interface BenchRun {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly durationMs: number;
  readonly json: Record<string, unknown> | undefined;
  /** The human lines the script printed (its JSON line excluded). */
  readonly lines: readonly string[];
  readonly stderrTail: string;
}

export interface RunOptions {
  readonly cwd: string;
  readonly timeoutMs: number;
  /** Called with each human stdout line as it arrives (progress). */
  readonly onLine?: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `command args` to completion in its own process group; kills the group at the timeout. */
export function runToCompletion(command: string, args: readonly string[], options: RunOptions): Promise<BenchRun> {
  const started = Date.now();
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: options.env ?? process.env,
  });
  track(child);
  const lines: string[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8_000);
  });
  const rl = createInterface({ input: child.stdout! });
  rl.on("line", (line) => {
    lines.push(line);
    if (!line.trim().startsWith("{")) options.onLine?.(line);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child, "SIGTERM");
    setTimeout(() => killGroup(child, "SIGKILL"), 5_000).unref();
  }, options.timeoutMs);
  return new Promise((resolve) => {
    child.once("close", (exitCode, signal) => {
      clearTimeout(timer);
      const json = lastBenchJson(lines);
      resolve({
        exitCode,
        signal,
        timedOut,
        durationMs: Date.now() - started,
        json,
        lines: lines.filter((l) => !l.trim().startsWith("{")),
        stderrTail: stderr.split("\n").slice(-20).join("\n"),
      });
    });
  });
}

/** A long-running child that announced itself with a JSON ready line on stdout. */
export interface ReadyProcess {
  readonly pid: number;
  /** The parsed ready line (`{"event":"ready",…}`). */
  readonly ready: Record<string, unknown>;
  /** Resident set size from /proc (Linux); undefined elsewhere or once it has exited. */
  rssBytes(): number | undefined;
  /** CPU time used so far from /proc (Linux), in ms; undefined elsewhere or once it has exited. */
  cpuMs(): number | undefined;
  /** SIGTERM (drain), then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines it wrote to stderr (its logs), for error reports. */
  stderrTail(): string;
}

/**
 * Starts `node …args` in its own process group and resolves once it printed its ready line: a JSON
 * object with `"event":"ready"` as its first stdout line. Its stderr (logs) is kept as a bounded tail.
 */
export function startReadyProcess(
  cwd: string,
  args: readonly string[],
  options: { readonly readyTimeoutMs: number; readonly env?: NodeJS.ProcessEnv; readonly what: string },
): Promise<ReadyProcess> {
  const child = spawn(process.execPath, [...args], { cwd, stdio: ["ignore", "pipe", "pipe"], detached: true, env: options.env ?? process.env });
  track(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-16_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const rl = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      killGroup(child, "SIGKILL");
      reject(new Error(`${options.what} ${why}; its log ends:\n${stderr.slice(-4_000)}`));
    };
    const timer = setTimeout(() => fail(`printed no ready line within ${options.readyTimeoutMs} ms`), options.readyTimeoutMs);
    child.once("exit", (code, signal) => fail(`exited (${code ?? signal}) before it was ready`));
    rl.once("line", (line) => {
      let ready: Record<string, unknown>;
      try {
        ready = JSON.parse(line) as Record<string, unknown>;
      } catch {
        fail(`printed a first line that is not JSON: ${line.slice(0, 200)}`);
        return;
      }
      if (ready["event"] !== "ready") {
        fail(`printed an unexpected first line: ${line.slice(0, 200)}`);
        return;
      }
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const pid = child.pid!;
      resolve({
        pid,
        ready,
        rssBytes: () => processRssBytes(pid),
        cpuMs: () => processCpuMs(pid),
        stderrTail: () => stderr.slice(-4_000),
        async stop(graceMs = 15_000) {
          killGroup(child, "SIGTERM");
          const t = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
          await exited;
          clearTimeout(t);
        },
      });
    });
  });
}

/** RSS of a process from /proc/PID/status, in bytes; undefined if unavailable. */
export function processRssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (user + system) a process has used, in ms, from /proc/PID/stat (Linux; clock ticks
 * assumed 100 Hz, as on every mainstream Linux build); undefined elsewhere.
 */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * 10 : undefined;
  } catch {
    return undefined;
  }
}
