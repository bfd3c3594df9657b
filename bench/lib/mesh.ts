/**
 * A ccr mesh for the end-to-end benchmark, started with the public CLI in one of two shapes:
 *
 * - "up": `node <bin/node-options> bin/ccr.js up --json --base-port 0 --dir DIR --nodes N --f F` — ccr's one-command
 *   mesh: every server in ONE OS process (src/cli/mesh.ts), real loopback sockets between them.
 * - "processes": `node bin/ccr.js init --dir DIR --nodes N --f F --base-port P`, then one OS process
 *   per server, as an operator runs them: `node <bin/node-options> bin/ccr.js <kind> --config DIR/config/<name>.json`
 *   for the capability service, the vault, the gateway and relay-node-0..N-1 (the enclave host and
 *   the workflow node are not started: the benchmark plays the enclave).
 *
 * Either way the mesh counts as up once the gateway reports all N relay nodes connected
 * (`ccr_gateway_nodes_connected` on its /metrics).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeOptions } from "../../bin/node-options.js";
import { runToCompletion, startReadyProcess, type ReadyProcess } from "./child.js";

export type Topology = "up" | "processes";

export interface MeshProcess {
  readonly name: string;
  readonly process: ReadyProcess;
}

export interface BenchMesh {
  readonly topology: Topology;
  readonly dir: string;
  readonly gatewayUrl: string;
  readonly relayNodeUrls: readonly string[];
  /** The OS processes of the mesh (one for "up"). */
  readonly processes: readonly MeshProcess[];
  /** CPU time used by all of the mesh's processes so far, in ms (undefined if /proc is unavailable). */
  cpuMs(): number | undefined;
  /** RSS per process name, in bytes. */
  rssBytes(): Record<string, number | undefined>;
  logsTail(): string;
  /** Stops every process (relay nodes first) and removes the deployment directory. */
  stop(): Promise<void>;
}

export interface MeshOptions {
  readonly cwd: string;
  readonly topology: Topology;
  readonly nodes: number;
  readonly f: number;
  readonly env: NodeJS.ProcessEnv;
  readonly readyTimeoutMs: number;
  /** Extra `node` flags for every ccr process (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A base port with `count` consecutive free ports after it (random in 20000–59999, a few tries). */
async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`found no ${count} consecutive free ports on 127.0.0.1`);
}

/** Polls the gateway's /metrics until `ccr_gateway_nodes_connected` reaches `n`. */
export async function waitForGatewayNodes(gatewayUrl: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${gatewayUrl}/metrics`);
      const text = await res.text();
      const m = /^ccr_gateway_nodes_connected(?:\{[^}]*\})?\s+(\d+(?:\.\d+)?)/m.exec(text);
      last = m === null ? "no ccr_gateway_nodes_connected metric" : `${m[1]} connected`;
      if (m !== null && Number(m[1]) >= n) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway did not see all ${n} relay nodes within ${timeoutMs} ms (${last})`);
}

function sumDefined(xs: readonly (number | undefined)[]): number | undefined {
  return xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, b) => a + (b as number), 0);
}

function meshOf(topology: Topology, dir: string, gatewayUrl: string, relayNodeUrls: readonly string[], processes: MeshProcess[]): BenchMesh {
  return {
    topology,
    dir,
    gatewayUrl,
    relayNodeUrls,
    processes,
    cpuMs: () => sumDefined(processes.map((p) => p.process.cpuMs())),
    rssBytes: () => Object.fromEntries(processes.map((p) => [p.name, p.process.rssBytes()])),
    logsTail: () => processes.map((p) => `── ${p.name}\n${p.process.stderrTail().slice(-1_500)}`).join("\n"),
    async stop() {
      // Relay nodes (clients of the others) first, then the servers they use.
      const order = [...processes].sort((a, b) => Number(b.name.startsWith("relay-node")) - Number(a.name.startsWith("relay-node")));
      await Promise.all(order.filter((p) => p.name.startsWith("relay-node")).map((p) => p.process.stop()));
      for (const p of order.filter((x) => !x.name.startsWith("relay-node"))) await p.process.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startBenchMesh(o: MeshOptions): Promise<BenchMesh> {
  const dir = mkdtempSync(join(tmpdir(), "ccr-bench-e2e-"));
  // As `npx ccr` starts every process (bin/ccr): with bin/node-options.
  const ccr = [...nodeOptions(), ...(o.nodeArgs ?? []), "bin/ccr.js"];
  const started: MeshProcess[] = [];
  try {
    if (o.topology === "up") {
      const up = await startReadyProcess(o.cwd, [...ccr, "up", "--json", "--base-port", "0", "--dir", dir, "--nodes", String(o.nodes), "--f", String(o.f)], {
        readyTimeoutMs: o.readyTimeoutMs,
        env: o.env,
        what: "ccr up",
      });
      started.push({ name: "ccr up", process: up });
      const endpoints = up.ready["endpoints"] as { gateway: string; relayNodes: string[] };
      await waitForGatewayNodes(endpoints.gateway, o.nodes, o.readyTimeoutMs);
      return meshOf("up", dir, endpoints.gateway, endpoints.relayNodes, started);
    }
    const base = await freePortBlock(o.nodes + 5);
    const init = await runToCompletion(process.execPath, [...ccr, "init", "--dir", dir, "--nodes", String(o.nodes), "--f", String(o.f), "--base-port", String(base), "--force"], {
      cwd: o.cwd,
      timeoutMs: o.readyTimeoutMs,
      env: o.env,
    });
    if (init.exitCode !== 0) throw new Error(`ccr init failed (${init.exitCode}): ${init.stderrTail}`);
    const start = async (kind: string, name: string): Promise<MeshProcess> => {
      const p = await startReadyProcess(o.cwd, [...ccr, kind, "--config", join(dir, "config", `${name}.json`)], { readyTimeoutMs: o.readyTimeoutMs, env: o.env, what: `ccr ${kind} (${name})` });
      const mp = { name, process: p };
      started.push(mp);
      return mp;
    };
    // Servers first (relay nodes dial them), then the nodes, a few at a time on a small machine.
    await Promise.all([start("capability", "capability"), start("vault", "vault")]);
    const gateway = await start("gateway", "gateway");
    const names = Array.from({ length: o.nodes }, (_, i) => `relay-node-${i}`);
    const nodeUrls: string[] = new Array<string>(o.nodes);
    for (let i = 0; i < names.length; i += 4) {
      await Promise.all(
        names.slice(i, i + 4).map(async (name, j) => {
          nodeUrls[i + j] = (await start("relay-node", name)).process.ready["url"] as string;
        }),
      );
    }
    const gatewayUrl = gateway.process.ready["url"] as string;
    await waitForGatewayNodes(gatewayUrl, o.nodes, o.readyTimeoutMs);
    return meshOf("processes", dir, gatewayUrl, nodeUrls, started);
  } catch (error) {
    await Promise.allSettled(started.map((p) => p.process.stop(2_000)));
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
