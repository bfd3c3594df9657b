/**
 * What the fault tests do to a process mesh (test/support/process-mesh.ts) beyond what the harness
 * offers: re-point one relay node at another gateway URL (the slow-node proxy), read the gateway's
 * per-node answer counters, and print each fault's figures in one greppable line.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { ProcessMesh } from "../../support/process-mesh.js";

/** The relay node names of a mesh, in DON order. */
export function relayNodeNames(mesh: ProcessMesh): string[] {
  return mesh.don.members.map((m) => m.name);
}

/** A DON member's hex public key by its name. */
export function memberKey(mesh: ProcessMesh, name: string): string {
  const member = mesh.don.members.find((m) => m.name === name);
  if (member === undefined) throw new Error(`no DON member "${name}"`);
  return member.publicKey.toLowerCase();
}

/**
 * Rewrites a relay node's config file (in the mesh's throwaway deployment directory) so that it
 * dials `gatewayUrls`; takes effect at its next start.
 */
export function setRelayNodeGateways(mesh: ProcessMesh, name: string, gatewayUrls: readonly string[]): void {
  const file = join(mesh.dir, "config", `${name}.json`);
  const config = JSON.parse(readFileSync(file, "utf8")) as { relayNode: { gatewayUrls: string[] } };
  config.relayNode.gatewayUrls = [...gatewayUrls];
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** The gateway's count of a node's answers with an outcome (ok, late, divergent, …). */
export function nodeAnswers(mesh: ProcessMesh, node: string, outcome: string): Promise<number> {
  return mesh.metric("gateway", "ccr_gateway_node_answers_total", { node, outcome });
}

/**
 * Polls the gateway until it reports `count` connected nodes; resolves with the time it saw them
 * (performance.now()), or throws after `timeoutMs`. Finer-grained than the harness's own wait, so
 * reconnection times can be reported.
 */
export async function whenGatewayNodes(mesh: ProcessMesh, count: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last: number | string = "nothing";
  for (;;) {
    try {
      last = await mesh.metric("gateway", "ccr_gateway_nodes_connected");
      if (last === count) return performance.now();
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (performance.now() > deadline) throw new Error(`the gateway did not report ${count} connected nodes within ${timeoutMs} ms (last: ${last})\n${mesh.diagnostics()}`);
    await sleep(50);
  }
}

/** Process name → pid of the running ones, for RSS sampling. */
export function pidsOf(mesh: ProcessMesh, names: readonly string[]): Record<string, number | undefined> {
  return Object.fromEntries(names.map((name) => [name, mesh.pid(name)]));
}

const round = (x: number, digits = 1): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
export { round };

/**
 * Prints a fault's figures as one line, `[faults] {"fault":…,…}`, so a run's figures can be
 * collected with `grep '\[faults\]'` (docs/reliability.md).
 */
export function reportFigures(fault: string, figures: Record<string, unknown>): void {
  console.log(`[faults] ${JSON.stringify({ fault, ...figures })}`);
}

/**
 * Every log line a mesh process writes from now on, although the harness keeps only its last 400
 * lines per process: polls `mesh.logs(name)` every `intervalMs` and appends what is new, found by
 * the last line already collected. If that line has rolled out of the harness's buffer between two
 * polls, lines were lost: `gaps` counts such polls, so a check over the lines can refuse to pass
 * on an incomplete log.
 */
export interface LogFollower {
  lines(): readonly string[];
  readonly gaps: number;
  stop(): void;
}

export function followLogs(mesh: ProcessMesh, name: string, intervalMs = 200): LogFollower {
  const collected: string[] = [];
  let gaps = 0;
  const initial = mesh.logs(name).split("\n");
  let anchor = initial.at(-1);
  const poll = (): void => {
    const current = mesh.logs(name).split("\n");
    let from = 0;
    if (anchor !== undefined) {
      const at = current.lastIndexOf(anchor);
      if (at >= 0) from = at + 1;
      else gaps++;
    }
    for (let i = from; i < current.length; i++) collected.push(current[i] as string);
    if (current.length > 0) anchor = current.at(-1);
  };
  const timer = setInterval(poll, intervalMs);
  return {
    lines: () => {
      poll();
      return collected;
    },
    get gaps() {
      return gaps;
    },
    stop: () => {
      poll();
      clearInterval(timer);
    },
  };
}
