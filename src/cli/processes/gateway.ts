/**
 * The gateway process: the enclave-facing Gateway RPCs and JSON-RPC endpoint, and the node streams.
 */
import type { AttestationConfig, GatewayProcessConfig, ServerConfig } from "../../config/index.js";
import { readDonFile, resolveRelativeTo } from "../../config/index.js";
import { Gateway } from "../../contract/index.js";
import { createAttestationPolicy, createAttestationVerifier } from "../../domain/attestation/index.js";
import { systemClock } from "../../domain/clock.js";
import { attestationEdge } from "../../services/gateway/attestation-edge.js";
import { createGateway, deferredGateway, resolveGatewayOptions } from "../../services/gateway/index.js";
import { createServer, implement, type Logger } from "../../transport/index.js";
import { attestationPolicyOptions } from "./attestation-policy.js";
import type { RunningProcess } from "./process.js";

export interface GatewayProcessOptions {
  readonly server: ServerConfig;
  readonly gateway: GatewayProcessConfig;
  readonly attestation: AttestationConfig;
  readonly configFile: string | undefined;
  readonly logger: Logger;
}

export async function startGatewayProcess(o: GatewayProcessOptions): Promise<RunningProcess> {
  const path = (p: string) => resolveRelativeTo(o.configFile, p);
  const don = readDonFile(path(o.gateway.donFile));
  const config = resolveGatewayOptions({
    gatewayId: don.gatewayId,
    donId: don.donId,
    members: don.members.map((m) => ({ name: m.name, publicKey: m.publicKey })),
    f: don.f,
    requestTimeoutMs: o.gateway.requestTimeoutMs,
    nodeSendTimeoutMs: Math.min(o.gateway.nodeSendTimeoutMs, o.gateway.requestTimeoutMs),
    maxInFlight: o.gateway.maxInFlight,
  });
  const edge = o.gateway.edgeAttestation
    ? attestationEdge(
        createAttestationVerifier({ policy: createAttestationPolicy(attestationPolicyOptions(o.attestation, o.configFile)), clock: systemClock }),
      )
    : undefined;
  const logger = o.logger.child({ svc: "gateway" });
  // The gateway's metrics go on the server's registry, which exists once the server does.
  const late = deferredGateway();
  const server = createServer({
    ...o.server,
    name: "gateway",
    logger: o.logger,
    services: [implement(Gateway, late.service)],
    // Plain gRPC GetSecrets / ExecuteCapability and node streams skip connect-node (src/transport/lean-*.ts).
    leanUnary: late.leanUnary,
    leanBidi: late.leanBidi,
    httpRoutes: [{ method: "POST", path: "/", handler: late.jsonRpcHandler }],
  });
  const gateway = createGateway({ config, registry: server.metrics.registry, logger, ...(edge === undefined ? {} : { edge }) });
  late.bind(gateway);
  const { url } = await server.listen();
  let closing: Promise<void> | undefined;
  return {
    name: "gateway",
    url,
    close: () =>
      (closing ??= (async () => {
        // Answer requests in flight (Unavailable) and end node streams first, so the server drains.
        gateway.close();
        await server.close();
      })()),
  };
}
