/**
 * Where `ccr workflow …` finds the workflow node: `--node URL` names its admin API; otherwise the
 * deployment directory (`--dir`, default .ccr) says where `ccr up` put it, and its demo owner key is
 * the default owner. `--admin-token` (or the deployment's configured token) authenticates.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, readKeyFile, serverSection, workflowNodeSection } from "../../config/index.js";
import { addressOfPrivateKey } from "../../domain/ethereum/eip191.js";
import { DeploymentPaths } from "./init.js";

export interface WorkflowAdminTarget {
  /** The arguments left for the workflow command. */
  readonly args: string[];
  readonly context: { readonly adminUrl: string; readonly adminToken?: string; readonly defaultOwner?: string };
}

function take(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith("--")) throw new Error(`${flag} needs a value`);
  args.splice(i, 2);
  return value;
}

export function workflowAdminTarget(argv: readonly string[]): WorkflowAdminTarget {
  const args = [...argv];
  const node = take(args, "--node");
  const dir = take(args, "--dir") ?? ".ccr";
  let adminToken = take(args, "--admin-token");
  let defaultOwner: string | undefined;
  const ownerKey = join(dir, DeploymentPaths.demoOwnerKey);
  if (existsSync(ownerKey)) defaultOwner = addressOfPrivateKey(readKeyFile(ownerKey));
  let adminUrl = node;
  const configFile = join(dir, DeploymentPaths.config("workflow-node"));
  if (existsSync(configFile)) {
    const c = loadConfig({ server: serverSection, workflowNode: workflowNodeSection }, { file: configFile });
    adminUrl ??= c.workflowNode.artifactPublicUrl ?? `http://${c.server.host}:${c.workflowNode.artifactPort}`;
    adminToken ??= c.workflowNode.adminToken;
  }
  adminUrl ??= "http://127.0.0.1:7409";
  return {
    args,
    context: {
      adminUrl,
      ...(adminToken === undefined ? {} : { adminToken }),
      ...(defaultOwner === undefined ? {} : { defaultOwner }),
    },
  };
}
