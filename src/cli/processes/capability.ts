/**
 * The capability process: the capability registry (echo, http-fetch) on its own server.
 */
import type { CapabilityProcessConfig, ServerConfig } from "../../config/index.js";
import { Capability } from "../../contract/index.js";
import { createCapabilityService, resolveCapabilityOptions } from "../../services/capability/index.js";
import { createServer, implement, type Logger } from "../../transport/index.js";
import type { RunningProcess } from "./process.js";

export interface CapabilityProcessOptions {
  readonly server: ServerConfig;
  readonly capability: CapabilityProcessConfig;
  readonly logger: Logger;
}

export async function startCapabilityProcess(o: CapabilityProcessOptions): Promise<RunningProcess> {
  const capability = createCapabilityService({
    options: resolveCapabilityOptions({
      httpFetch: {
        allowedHosts: o.capability.httpAllowedHosts,
        allowInsecureHttp: o.capability.httpAllowInsecure,
        timeoutMs: o.capability.httpTimeoutMs,
        maxResponseBytes: o.capability.httpMaxResponseBytes,
      },
    }),
    logger: o.logger,
  });
  const server = createServer({ ...o.server, name: "capability", logger: o.logger, services: [implement(Capability, capability.implementation)], leanUnary: capability.leanRoutes });
  capability.registerMetricsOn(server.metrics.registry);
  const { url } = await server.listen();
  let closing: Promise<void> | undefined;
  return {
    name: "capability",
    url,
    close: () =>
      (closing ??= (async () => {
        capability.close();
        await server.close();
      })()),
  };
}
