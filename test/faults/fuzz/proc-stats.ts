/**
 * Per-process figures from /proc (Linux), for the fault suites' reports: resident memory (VmRSS from
 * /proc/<pid>/status) and CPU time (utime + stime from /proc/<pid>/stat).
 */
import { readFile } from "node:fs/promises";

/** CPU time (user + system) of a process in ms, from /proc/<pid>/stat; undefined when it is gone. */
export async function cpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

/** VmRSS of a process in bytes (/proc/<pid>/status); undefined when it is gone. */
export async function rssBytes(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(await readFile(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}
