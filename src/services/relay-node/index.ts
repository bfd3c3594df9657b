/**
 * The relay node (issue 4): dials every configured gateway and serves relay requests on those
 * streams, and serves the same decisions unary as `RelayNode`. See relay-handler.ts for the order of
 * checks and what is signed; gateway-link.ts for the stream protocol.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { Registry } from "prom-client";
import { Gateway, RelayNode } from "../../contract/index.js";
import { systemClock, type Clock } from "../../domain/clock.js";
import { ed25519SignerFromSeed } from "../../domain/crypto/ed25519.js";
import { Code, ccrError } from "../../domain/errors.js";
import { createAttestationPort } from "./attestation-port.js";
import { GatewayLink } from "./gateway-link.js";
import { RelayNodeMetrics } from "./metrics.js";
import type { GatewayEndpoint, RelayNodeConfig } from "./options.js";
import { createCapabilityClient, createVaultClient, type ClosablePort } from "./dependency-clients.js";
import { silentLogger, type AttestationPort, type CapabilityPort, type RelayNodeLogger, type VaultPort } from "./ports.js";
import { RelayHandler } from "./relay-handler.js";
import { createGrpcClient, type ClosableClient } from "./transport.js";
import { createRelayNodeService } from "./unary-service.js";

export { resolveRelayNodeOptions, RELAY_NODE_DEFAULTS } from "./options.js";
export type { BackoffConfig, GatewayEndpoint, RelayNodeConfig, RelayNodeOptions } from "./options.js";
export type { AttestationCheck, AttestationCheckInput, AttestationPort, CapabilityPort, DependencyCallOptions, RelayNodeLogger, VaultPort } from "./ports.js";
export { createCapabilityClient, createVaultClient, RELAY_NODE_CHANNEL_OPTIONS } from "./dependency-clients.js";
export { RelayHandler, type RelayOutcome } from "./relay-handler.js";
export { attestationPortFromVerifier, createAttestationPort } from "./attestation-port.js";
export { GatewayLink, type GatewayLinkState } from "./gateway-link.js";
export { RelayNodeMetrics } from "./metrics.js";

export interface RelayNodeDeps {
  readonly config: Readonly<RelayNodeConfig>;
  /**
   * The attestation check; default: the attestation module's verifier built from
   * `config.attestation` (policy options) and `clock`.
   */
  readonly attestation?: AttestationPort;
  /** Vault client (a connect `Client<typeof Vault>` will do); default: grpc-js to `config.vaultUrl`. */
  readonly vault?: VaultPort;
  /** Capability client (a connect `Client<typeof Capability>` will do); default: grpc-js to `config.capabilityUrl`. */
  readonly capability?: CapabilityPort;
  /** Gateway stream clients; default: gRPC over HTTP/2 with keepalive PINGs. */
  readonly gatewayClient?: (gateway: GatewayEndpoint) => ClosableClient<typeof Gateway>;
  readonly clock?: Clock;
  /** [0, 1), for reconnect jitter; default Math.random. */
  readonly random?: () => number;
  /** Where the node's metrics go; default a private registry. */
  readonly registry?: Registry;
  readonly logger?: RelayNodeLogger;
}

export interface RelayNodeInstance {
  /** This node's ed25519 public key (its identity in the DON config). */
  readonly publicKey: Uint8Array;
  /** The unary `RelayNode` service, for the server runtime to register. */
  readonly serviceImpl: ServiceImpl<typeof RelayNode>;
  readonly service: typeof RelayNode;
  /** One link per configured gateway. */
  readonly links: readonly GatewayLink[];
  readonly metrics: RelayNodeMetrics;
  /** Dials every gateway (returns at once; links connect and reconnect in the background). */
  start(): void;
  /** Stops dialing, closes streams and clients, aborts in-flight work. */
  close(): Promise<void>;
}

export function createRelayNode(deps: RelayNodeDeps): RelayNodeInstance {
  const { config } = deps;
  const logger = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  const metrics = new RelayNodeMetrics(deps.registry);
  const signer = ed25519SignerFromSeed(config.nodeKeySeed);
  const closers: (() => void)[] = [];

  function client<P>(create: (url: string) => ClosablePort<P>, url: string | undefined, key: string): P {
    if (url === undefined) throw ccrError(`relay node config: ${key} is required when no client is injected`, Code.InvalidArgument);
    const c = create(url);
    closers.push(c.close);
    return c.client;
  }

  const vault = deps.vault ?? client(createVaultClient, config.vaultUrl, "vaultUrl");
  const capability = deps.capability ?? client(createCapabilityClient, config.capabilityUrl, "capabilityUrl");
  let attestation = deps.attestation;
  if (attestation === undefined) {
    if (config.attestation === undefined) {
      throw ccrError("relay node config: attestation (policy options) is required when no verifier is injected", Code.InvalidArgument);
    }
    attestation = createAttestationPort(config.attestation, clock);
  }
  const handler = new RelayHandler({ config, signer, attestation, vault, capability, clock, metrics, logger });

  metrics.setDevMode(attestation.devMode);
  if (attestation.devMode) {
    logger.warn({ nodePublicKey: Buffer.from(signer.publicKey).toString("hex") }, "relay node: attestation DEV MODE — dev roots and debug PCRs accepted; never use in production");
  }

  const gatewayClients = config.gateways.map((g) => (deps.gatewayClient ?? ((e) => createGrpcClient(Gateway, e.url)))(g));
  const links = config.gateways.map(
    (gateway, i) =>
      new GatewayLink({
        gateway,
        client: gatewayClients[i]!.client,
        handler,
        config,
        signer,
        clock,
        random: deps.random ?? Math.random,
        metrics,
        logger,
      }),
  );

  let closed = false;
  return {
    publicKey: signer.publicKey,
    serviceImpl: createRelayNodeService(handler, signer.publicKey, config.maxRequestTimeoutMs),
    service: RelayNode,
    links,
    metrics,
    start() {
      if (closed) throw ccrError("relay node is closed", Code.FailedPrecondition);
      logger.info(
        { nodePublicKey: Buffer.from(signer.publicKey).toString("hex"), donId: config.don.donId, gateways: config.gateways.length },
        "relay node: starting",
      );
      for (const link of links) link.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(links.map((l) => l.close()));
      for (const c of gatewayClients) c.close();
      for (const closeClient of closers) closeClient();
    },
  };
}
