/**
 * Resident set size and CPU time of child processes, from /proc (Linux): VmRSS from
 * /proc/<pid>/status, utime + stime from /proc/<pid>/stat. Sampled on a timer that the sampler owns
 * and always stops: `stop()`, or by itself after `maxDurationMs`.
 */
import { readFile } from "node:fs/promises";

/** VmRSS of a process in bytes; undefined when there is no pid, the process is gone or /proc is unavailable. */
export async function rssBytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used, in ms; undefined when there is no pid or it is unavailable. */
export async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line (11 and 12 here), in clock ticks
    // (USER_HZ, 100 on Linux).
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

export interface ProcessSeries {
  /** Name → RSS samples in MiB (one per tick the process was alive). */
  readonly samplesMb: Readonly<Record<string, readonly number[]>>;
  /** Name → largest / first / last RSS sample in MiB. */
  readonly peakMb: Readonly<Record<string, number>>;
  readonly firstMb: Readonly<Record<string, number>>;
  readonly lastMb: Readonly<Record<string, number>>;
  /** Name → CPU time used between the first and the last sample, in ms. */
  readonly cpuMs: Readonly<Record<string, number>>;
  /** Wall time between the first and the last sample, in ms. */
  readonly elapsedMs: number;
}

export interface ProcessSampler {
  /** Stops sampling; resolves with what was sampled. Idempotent. */
  stop(): Promise<ProcessSeries>;
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * Samples every process `pids()` names (name → pid, re-read each tick so a restarted process is
 * followed) every `intervalMs` (default 250).
 */
export function sampleProcesses(
  pids: () => Readonly<Record<string, number | undefined>>,
  options: { readonly intervalMs?: number; readonly maxDurationMs: number },
): ProcessSampler {
  const samples: Record<string, number[]> = {};
  const cpuFirst: Record<string, number> = {};
  const cpuLast: Record<string, number> = {};
  const startedMs = Date.now();
  let lastMs = startedMs;
  const tick = async (): Promise<void> => {
    for (const [name, pid] of Object.entries(pids())) {
      if (pid === undefined) continue;
      const [bytes, cpu] = await Promise.all([rssBytes(pid), cpuMs(pid)]);
      if (bytes !== undefined) (samples[name] ??= []).push(mb(bytes));
      if (cpu !== undefined) {
        cpuFirst[name] ??= cpu;
        cpuLast[name] = cpu;
      }
    }
    lastMs = Date.now();
  };
  let ticking: Promise<void> = tick();
  const timer = setInterval(() => {
    ticking = ticking.then(tick);
  }, options.intervalMs ?? 250);
  const cap = setTimeout(() => clearInterval(timer), options.maxDurationMs);
  let result: Promise<ProcessSeries> | undefined;
  return {
    stop: () =>
      (result ??= (async () => {
        clearInterval(timer);
        clearTimeout(cap);
        await ticking;
        await tick();
        const pick = (f: (xs: number[]) => number) => Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, f(xs)]));
        return {
          samplesMb: samples,
          peakMb: pick((xs) => Math.max(...xs)),
          firstMb: pick((xs) => xs[0] as number),
          lastMb: pick((xs) => xs[xs.length - 1] as number),
          cpuMs: Object.fromEntries(Object.keys(cpuLast).map((k) => [k, (cpuLast[k] as number) - (cpuFirst[k] as number)])),
          elapsedMs: lastMs - startedMs,
        };
      })()),
  };
}
