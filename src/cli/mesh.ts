/**
 * The mesh composition root: one server per service of the architecture, on consecutive ports from
 * the base port (gateway, relay nodes 0..N-1, vault, capability, enclave host).
 */
import {
  Capability,
  ConfidentialWorkflows,
  Gateway,
  RelayNode,
  Vault,
} from "../contract/index.js";
import { createServer, implement, type CcrServer, type Logger, type ServiceRegistration } from "../transport/index.js";

export interface MeshOptions {
  readonly host: string;
  /** 0 lets every server pick a free port. */
  readonly basePort: number;
  readonly nodes: number;
  readonly logger: Logger;
}

export interface MeshEndpoints {
  readonly gateway: string;
  readonly relayNodes: readonly string[];
  readonly vault: string;
  readonly capability: string;
  readonly confidentialWorkflows: string;
}

export interface RunningMesh {
  readonly endpoints: MeshEndpoints;
  /** Drains every server; resolves when all are closed. */
  close(): Promise<void>;
}

interface PlannedServer {
  readonly name: string;
  readonly services: readonly ServiceRegistration[];
}

export async function startMesh(options: MeshOptions): Promise<RunningMesh> {
  const plan: PlannedServer[] = [
    { name: "gateway", services: [implement(Gateway, {})] },
    ...Array.from({ length: options.nodes }, (_, i) => ({
      name: `relay-node-${i}`,
      services: [implement(RelayNode, {})],
    })),
    { name: "vault", services: [implement(Vault, {})] },
    { name: "capability", services: [implement(Capability, {})] },
    { name: "enclave", services: [implement(ConfidentialWorkflows, {})] },
  ];
  const servers: CcrServer[] = [];
  const urls: string[] = [];
  try {
    for (const [i, planned] of plan.entries()) {
      const server = createServer({
        name: planned.name,
        host: options.host,
        port: options.basePort === 0 ? 0 : options.basePort + i,
        logger: options.logger,
        services: planned.services,
      });
      servers.push(server);
      urls.push((await server.listen()).url);
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.close({ graceMs: 0 })));
    throw error;
  }
  const at = (i: number): string => urls[i]!;
  return {
    endpoints: {
      gateway: at(0),
      relayNodes: urls.slice(1, 1 + options.nodes),
      vault: at(1 + options.nodes),
      capability: at(2 + options.nodes),
      confidentialWorkflows: at(3 + options.nodes),
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
