/**
 * One entry for every process kind: load its config file (sections per kind), then start it. `ccr up`
 * and `ccr <process> --config FILE` both come through here, so one deployment directory runs the same
 * way in one process or many.
 */
import {
  attestationSection,
  capabilitySection,
  enclaveSection,
  gatewaySection,
  loadConfig,
  relayNodeSection,
  serverSection,
  vaultSection,
  workflowNodeSection,
  type FlagValue,
  type ServerConfig,
} from "../../config/index.js";
import type { Db } from "../../store/db.js";
import type { Logger } from "../../transport/index.js";
import type { RunningProcess } from "./process.js";

// Each kind's module is imported when that kind starts: a process loads only what it runs. Loading
// all six made `ccr gateway` carry the vault's database drivers, the WASM runtime and the rest, about
// 65 MB of RSS before its first request.

export const PROCESS_KINDS = ["gateway", "relay-node", "vault", "capability", "enclave", "workflow-node"] as const;
export type ProcessKind = (typeof PROCESS_KINDS)[number];

export interface StartFromConfigOptions {
  readonly configFile: string;
  /** Overrides the process name (relay nodes: default from the config file name). */
  readonly name?: string;
  /** Makes the process's root logger once its log level is known. */
  readonly logger: (level: ServerConfig["logLevel"]) => Logger;
  /** Settings that win over the file and env, e.g. {"server.port": 0} (as `ccr up` does). */
  readonly overrides?: Readonly<Record<string, FlagValue | undefined>>;
  /** A shared migrated database for the vault and the workflow node (`ccr up`). */
  readonly db?: Db;
  /** The environment variables to read (default: this process's); tests pass their own. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

function baseName(file: string): string {
  return (file.split(/[\\/]/).pop() ?? file).replace(/\.json$/, "");
}

export async function startProcessFromConfig(kind: ProcessKind, o: StartFromConfigOptions): Promise<RunningProcess> {
  const load = <T extends Parameters<typeof loadConfig>[0]>(sections: T) =>
    loadConfig(sections, {
      file: o.configFile,
      ...(o.env === undefined ? {} : { env: o.env }),
      ...(o.overrides === undefined ? {} : { flags: o.overrides }),
    });
  const configFile = o.configFile;
  switch (kind) {
    case "gateway": {
      const c = load({ server: serverSection, gateway: gatewaySection, attestation: attestationSection });
      return (await import("./gateway.js")).startGatewayProcess({ ...c, configFile, logger: o.logger(c.server.logLevel) });
    }
    case "relay-node": {
      const c = load({ server: serverSection, relayNode: relayNodeSection, attestation: attestationSection });
      return (await import("./relay-node.js")).startRelayNodeProcess({ ...c, name: o.name ?? baseName(configFile), configFile, logger: o.logger(c.server.logLevel) });
    }
    case "vault": {
      const c = load({ server: serverSection, vault: vaultSection });
      return (await import("./vault.js")).startVaultProcess({ ...c, configFile, logger: o.logger(c.server.logLevel), ...(o.db === undefined ? {} : { db: o.db }) });
    }
    case "capability": {
      const c = load({ server: serverSection, capability: capabilitySection });
      return (await import("./capability.js")).startCapabilityProcess({ ...c, logger: o.logger(c.server.logLevel) });
    }
    case "enclave": {
      const c = load({ server: serverSection, enclave: enclaveSection });
      return (await import("./enclave.js")).startEnclaveProcess({ ...c, configFile, logger: o.logger(c.server.logLevel) });
    }
    case "workflow-node": {
      const c = load({ server: serverSection, workflowNode: workflowNodeSection });
      return (await import("./workflow-node.js")).startWorkflowNodeProcess({ ...c, configFile, logger: o.logger(c.server.logLevel), ...(o.db === undefined ? {} : { db: o.db }) });
    }
  }
}
