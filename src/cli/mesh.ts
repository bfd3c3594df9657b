/**
 * The mesh composition root (`ccr up`): every process of a deployment directory in this one process —
 * vault, capability, gateway, enclave host, N relay nodes, workflow node with its artifact store —
 * started from the same config files `ccr <process> --config FILE` uses, in dependency order, with
 * ports taken consecutively from the base port.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { readDonFile, readMeasurementsFile, type FlagValue, type ServerConfig } from "../config/index.js";
import { computeEnclaveMeasurements } from "../services/confidential-workflows/measurements.js";
import { openDatabase, type Db } from "../store/db.js";
import { migrate } from "../store/migrate.js";
import type { Logger } from "../transport/index.js";
import { DeploymentPaths, initDeployment, pcrSetOf } from "./commands/init.js";
import { meshPorts } from "./mesh-ports.js";
import { startProcessFromConfig, type ProcessKind } from "./processes/from-config.js";
import type { RunningProcess } from "./processes/process.js";

export interface MeshOptions {
  /** The deployment directory; `ccr init` runs first when it holds none. */
  readonly dir: string;
  /** First port; 0 lets every server pick a free one. */
  readonly basePort: number;
  /** Relay DON size and F for a new deployment. */
  readonly nodes: number;
  readonly f: number;
  readonly host: string;
  /** Server URL; unset: one embedded PGlite in DIR/data/pglite shared by the vault and the workflow node. */
  readonly databaseUrl: string | undefined;
  readonly logger: (level: ServerConfig["logLevel"]) => Logger;
  /** Says what is happening (initializing, starting …) for a person watching. */
  readonly progress?: (message: string) => void;
}

export interface MeshEndpoints {
  readonly gateway: string;
  readonly relayNodes: readonly string[];
  readonly vault: string;
  readonly capability: string;
  readonly confidentialWorkflows: string;
  readonly workflowNode: string;
  readonly artifacts: string;
}

export interface RunningMesh {
  readonly dir: string;
  readonly endpoints: MeshEndpoints;
  /** Stops relay nodes and the workflow node first, then the servers they use; resolves when all are closed. */
  close(): Promise<void>;
  /** Stops one process by name (e.g. "relay-node-2"); for fault drills. */
  stop(name: string): Promise<void>;
  /** Starts a stopped relay node again on its port. */
  restartRelayNode(index: number): Promise<void>;
}

/** Adds this build's measurements to the allowlist when missing (dev deployments follow the code). */
function ensureMeasurementsAllowed(dir: string, measurements: Awaited<ReturnType<typeof computeEnclaveMeasurements>>, progress: (m: string) => void): void {
  const file = join(dir, DeploymentPaths.measurements);
  const current = readMeasurementsFile(file);
  const set = pcrSetOf(measurements);
  if (current.pcrSets.some((s) => s.pcr0 === set.pcr0 && s.pcr1 === set.pcr1 && s.pcr2 === set.pcr2)) return;
  const attestation = (JSON.parse(readFileSync(join(dir, DeploymentPaths.config("relay-node-0")), "utf8")) as { attestation?: { devMode?: boolean } }).attestation;
  if (attestation?.devMode !== true) return; // production allowlists change only by hand
  writeFileSync(file, `${JSON.stringify({ pcrSets: [...current.pcrSets, set] }, null, 2)}\n`);
  progress(`added this build's enclave measurements (pcr0 ${set.pcr0.slice(0, 16)}…) to ${file}`);
}

export async function startMesh(o: MeshOptions): Promise<RunningMesh> {
  const progress = o.progress ?? (() => {});
  const dir = resolve(o.dir);
  const measurements = await computeEnclaveMeasurements();
  if (!existsSync(join(dir, DeploymentPaths.don))) {
    progress(`initializing a new deployment in ${dir}`);
    initDeployment({
      dir,
      nodes: o.nodes,
      f: o.f,
      basePort: o.basePort === 0 ? 7400 : o.basePort,
      host: o.host,
      force: false,
      measurements,
      nowMs: Date.now(),
      randomBytes: (n) => new Uint8Array(nodeRandomBytes(n)),
    });
  } else {
    ensureMeasurementsAllowed(dir, measurements, progress);
  }
  const don = readDonFile(join(dir, DeploymentPaths.don));
  const nodes = don.members.length;
  const ports = meshPorts(o.basePort, nodes);
  const url = (running: RunningProcess) => running.url;
  const configOf = (name: string) => join(dir, DeploymentPaths.config(name));

  let db: Db | undefined;
  const running: RunningProcess[] = [];
  const start = async (kind: ProcessKind, name: string, overrides: Record<string, FlagValue | undefined>) => {
    progress(`starting ${name}`);
    const p = await startProcessFromConfig(kind, {
      configFile: configOf(name),
      name,
      logger: o.logger,
      overrides: { "server.host": o.host, ...overrides },
      ...(db === undefined ? {} : { db }),
    });
    running.push(p);
    return p;
  };
  try {
    if (o.databaseUrl === undefined) {
      progress("opening the embedded database (PGlite)");
      db = await openDatabase({ dataDir: join(dir, DeploymentPaths.data, "pglite") });
    } else {
      db = await openDatabase({ url: o.databaseUrl });
    }
    await migrate(db);
    const vault = await start("vault", "vault", { "server.port": ports.vault });
    const capability = await start("capability", "capability", { "server.port": ports.capability });
    const gateway = await start("gateway", "gateway", { "server.port": ports.gateway });
    const enclave = await start("enclave", "enclave", { "server.port": ports.enclave, "enclave.gatewayUrl": url(gateway) });
    const relayOverrides = (i: number) => ({
      "server.port": ports.relayNodes[i],
      "relayNode.gatewayUrls": [url(gateway)],
      "relayNode.vaultUrl": url(vault),
      "relayNode.capabilityUrl": url(capability),
    });
    const relayNodes: RunningProcess[] = [];
    for (let i = 0; i < nodes; i++) relayNodes.push(await start("relay-node", `relay-node-${i}`, relayOverrides(i)));
    const workflowNode = await start("workflow-node", "workflow-node", {
      "workflowNode.enclaveUrl": url(enclave),
      "workflowNode.capabilityUrl": url(capability),
      "workflowNode.artifactPort": ports.artifacts,
    });
    const relayPorts = relayNodes.map((p) => Number(new URL(p.url).port));
    const endpoints: MeshEndpoints = {
      gateway: url(gateway),
      relayNodes: relayNodes.map(url),
      vault: url(vault),
      capability: url(capability),
      confidentialWorkflows: url(enclave),
      workflowNode: url(workflowNode),
      artifacts: `${url(workflowNode)}/artifacts`,
    };
    let closing: Promise<void> | undefined;
    const stop = async (name: string) => {
      const i = running.findIndex((p) => p.name === name);
      if (i < 0) return;
      const [p] = running.splice(i, 1);
      await p!.close();
    };
    return {
      dir,
      endpoints,
      stop,
      async restartRelayNode(index: number) {
        await stop(`relay-node-${index}`);
        await start("relay-node", `relay-node-${index}`, { ...relayOverrides(index), "server.port": relayPorts[index] });
      },
      close: () =>
        (closing ??= (async () => {
          // Clients first (they hold streams to the servers), then the servers, then the database.
          for (const p of [...running].reverse()) await p.close();
          await db?.close();
        })()),
    };
  } catch (error) {
    for (const p of running.reverse()) await p.close().catch(() => {});
    await db?.close().catch(() => {});
    throw error;
  }
}
