/**
 * The workflow node process: the registry syncer and engines, the artifact store and its admin API.
 * Confidential workflows go to the enclave host; the rest run locally on the shared WASM runtime.
 */
import type { ServerConfig, WorkflowNodeProcessConfig } from "../../config/index.js";
import { readKeyFile, resolveRelativeTo } from "../../config/index.js";
import { Capability, ConfidentialWorkflows } from "../../contract/index.js";
import { ed25519SignerFromSeed } from "../../domain/crypto/ed25519.js";
import { createWorkflowNode, resolveWorkflowNodeOptions } from "../../services/workflow-node/index.js";
import type { Db } from "../../store/db.js";
import { createServiceClient, type Logger } from "../../transport/index.js";
import { openMigratedDatabase, type RunningProcess } from "./process.js";

export interface WorkflowNodeProcessOptions {
  readonly server: ServerConfig;
  readonly workflowNode: WorkflowNodeProcessConfig;
  readonly configFile: string | undefined;
  readonly logger: Logger;
  readonly db?: Db;
}

export async function startWorkflowNodeProcess(o: WorkflowNodeProcessOptions): Promise<RunningProcess> {
  const path = (p: string) => resolveRelativeTo(o.configFile, p);
  const c = o.workflowNode;
  const signer = ed25519SignerFromSeed(readKeyFile(path(c.keyFile)));
  const options = resolveWorkflowNodeOptions({
    syncIntervalMs: c.syncIntervalMs,
    artifactHost: o.server.host,
    artifactPort: c.artifactPort,
    ...(c.artifactPublicUrl === undefined ? {} : { artifactPublicUrl: c.artifactPublicUrl }),
    ...(c.adminToken === undefined ? {} : { adminToken: c.adminToken }),
  });
  const ownDb = o.db === undefined;
  const db = o.db ?? (await openMigratedDatabase({ databaseUrl: c.databaseUrl, dataDir: path(c.dataDir), logger: o.logger }));
  try {
    const node = createWorkflowNode({
      db,
      options,
      signer,
      confidentialClient: createServiceClient(ConfidentialWorkflows, { baseUrl: c.enclaveUrl, protocol: "grpc" }),
      capabilityClient: createServiceClient(Capability, { baseUrl: c.capabilityUrl, protocol: "grpc" }),
      logger: o.logger,
    });
    const { artifactUrl } = await node.start();
    let closing: Promise<void> | undefined;
    return {
      name: "workflow-node",
      url: artifactUrl,
      close: () =>
        (closing ??= (async () => {
          await node.close();
          if (ownDb) await db.close();
        })()),
    };
  } catch (error) {
    if (ownDb) await db.close();
    throw error;
  }
}
