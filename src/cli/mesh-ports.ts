/**
 * Which port each server of a mesh takes, from the base port: gateway, relay nodes 0..N-1, vault,
 * capability, enclave host, then the workflow node's artifact store (and admin API).
 */
export interface MeshPorts {
  readonly gateway: number;
  readonly relayNodes: readonly number[];
  readonly vault: number;
  readonly capability: number;
  readonly enclave: number;
  readonly artifacts: number;
}

export function meshPorts(basePort: number, nodes: number): MeshPorts {
  if (basePort === 0) {
    return { gateway: 0, relayNodes: Array.from({ length: nodes }, () => 0), vault: 0, capability: 0, enclave: 0, artifacts: 0 };
  }
  return {
    gateway: basePort,
    relayNodes: Array.from({ length: nodes }, (_, i) => basePort + 1 + i),
    vault: basePort + nodes + 1,
    capability: basePort + nodes + 2,
    enclave: basePort + nodes + 3,
    artifacts: basePort + nodes + 4,
  };
}
