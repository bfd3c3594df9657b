/**
 * A relay node process: dials the gateways, serves relay requests from their streams, and serves the
 * RelayNode RPCs to direct callers.
 */
import type { AttestationConfig, RelayNodeProcessConfig, ServerConfig } from "../../config/index.js";
import { readDonFile, readKeyFile, resolveRelativeTo } from "../../config/index.js";
import { RelayNode } from "../../contract/index.js";
import { createRelayNode, resolveRelayNodeOptions } from "../../services/relay-node/index.js";
import { createServer, implement, type Logger } from "../../transport/index.js";
import { attestationPolicyOptions } from "./attestation-policy.js";
import type { RunningProcess } from "./process.js";

export interface RelayNodeProcessOptions {
  readonly name: string;
  readonly server: ServerConfig;
  readonly relayNode: RelayNodeProcessConfig;
  readonly attestation: AttestationConfig;
  readonly configFile: string | undefined;
  readonly logger: Logger;
}

export async function startRelayNodeProcess(o: RelayNodeProcessOptions): Promise<RunningProcess> {
  const path = (p: string) => resolveRelativeTo(o.configFile, p);
  const don = readDonFile(path(o.relayNode.donFile));
  const config = resolveRelayNodeOptions({
    nodeKeySeed: readKeyFile(path(o.relayNode.keyFile)),
    don: { donId: don.donId, signers: don.members.map((m) => m.publicKey), f: don.f },
    gateways: o.relayNode.gatewayUrls.map((url) => ({ url, gatewayId: don.gatewayId })),
    workflowNodeKeys: don.workflowNodeKeys,
    authorizationThreshold: don.authorizationThreshold,
    vaultUrl: o.relayNode.vaultUrl,
    capabilityUrl: o.relayNode.capabilityUrl,
    attestation: attestationPolicyOptions(o.attestation, o.configFile),
  });
  const logger = o.logger.child({ node: o.name });
  // The node's metrics go on the server's registry, which exists only once the server does: the
  // server's RelayNode handlers call into the node created right after.
  let node: ReturnType<typeof createRelayNode> | undefined;
  const server = createServer({
    ...o.server,
    name: o.name,
    logger,
    services: [
      implement(RelayNode, {
        getSecrets: (req, ctx) => node!.serviceImpl.getSecrets(req, ctx),
        executeCapability: (req, ctx) => node!.serviceImpl.executeCapability(req, ctx),
      }),
    ],
  });
  node = createRelayNode({ config, registry: server.metrics.registry, logger });
  const { url } = await server.listen();
  await node.start();
  let closing: Promise<void> | undefined;
  return {
    name: o.name,
    url,
    close: () =>
      (closing ??= (async () => {
        await node.close();
        await server.close();
      })()),
  };
}
