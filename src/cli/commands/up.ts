/**
 * `ccr up [--dir DIR] [--base-port N] [--json]`: starts the whole mesh in this process and runs until
 * SIGINT or SIGTERM, then drains and exits 0. Logs go to stderr; stdout carries only the endpoint table
 * or, with --json, exactly one ready line.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, meshSection, serverSection } from "../../config/index.js";
import { createLogger } from "../../transport/index.js";
import type { CommandIo } from "../io.js";
import { startMesh, type MeshEndpoints } from "../mesh.js";
import { waitForStop } from "./process.js";

const USAGE = `Usage: ccr up [--dir DIR] [--base-port N] [--nodes N] [--f F] [--json]

Starts the whole mesh from the deployment directory (created with \`ccr init\` defaults when missing):\nthe gateway, N relay nodes, the vault, the capability service, the enclave host and the workflow node\nwith its artifact store, on consecutive ports from the base port (default 7400). Uses PGlite in the\ndeployment directory, or the PostgreSQL server named by DATABASE_URL. Ctrl-C drains and exits.

  --dir DIR        deployment directory (default .ccr)
  --base-port N    first port (default 7400; 0 picks free ports)
  --nodes N        relay DON size (default 4)
  --f F            faulty nodes tolerated (default 1)
  --json           print one JSON ready line instead of the table
`;

function table(endpoints: MeshEndpoints): string {
  const rows: Array<[string, string]> = [
    ["gateway", endpoints.gateway],
    ...endpoints.relayNodes.map((url, i): [string, string] => [`relay-node-${i}`, url]),
    ["vault", endpoints.vault],
    ["capability", endpoints.capability],
    ["enclave (ConfidentialWorkflows)", endpoints.confidentialWorkflows],
    ["workflow node (admin API)", endpoints.workflowNode],
    ["artifacts", endpoints.artifacts],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return rows.map(([name, url]) => `  ${name.padEnd(width)}  ${url}`).join("\n");
}

export async function runUp(argv: string[], io: CommandIo, stopSignal?: AbortSignal): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        dir: { type: "string" },
        "base-port": { type: "string" },
        nodes: { type: "string" },
        f: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    });
  } catch (error) {
    io.stderr(`ccr up: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout(USAGE);
    return 0;
  }
  let config;
  try {
    config = loadConfig(
      { mesh: meshSection, server: serverSection },
      {
        flags: {
          "mesh.dir": parsed.values.dir,
          "mesh.basePort": parsed.values["base-port"],
          "mesh.nodes": parsed.values.nodes,
          "mesh.f": parsed.values.f,
        },
      },
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`ccr up: ${error.rawMessage}\n`);
      return 2;
    }
    throw error;
  }
  if (config.mesh.nodes < 3 * config.mesh.f + 1) {
    io.stderr(`ccr up: --nodes ${config.mesh.nodes} is too small for --f ${config.mesh.f}: need N ≥ 3F+1 = ${3 * config.mesh.f + 1}\n`);
    return 2;
  }
  const logger = createLogger({ level: config.server.logLevel });
  let mesh;
  try {
    mesh = await startMesh({
      dir: config.mesh.dir,
      host: config.mesh.host,
      basePort: config.mesh.basePort,
      nodes: config.mesh.nodes,
      f: config.mesh.f,
      databaseUrl: config.mesh.databaseUrl,
      logger: () => logger,
      progress: (message) => io.stderr(`ccr up: ${message}\n`),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`ccr up: ${error.rawMessage}\n`);
      return 2;
    }
    throw error;
  }
  // Listening for SIGINT/SIGTERM before saying "ready" (see process.ts).
  const stopped = waitForStop(stopSignal);
  if (parsed.values.json) {
    io.stdout(`${JSON.stringify({ event: "ready", endpoints: mesh.endpoints })}\n`);
  } else {
    io.stdout(`ccr is up (deployment ${mesh.dir}):\n${table(mesh.endpoints)}\nPress Ctrl-C to stop.\n`);
  }
  await stopped;
  logger.info("draining");
  await mesh.close();
  return 0;
}
