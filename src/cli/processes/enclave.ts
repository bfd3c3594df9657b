/**
 * The enclave host process: ConfidentialWorkflows, with attestation documents from the dev authority
 * `ccr init` created (a real NSM backend slots in behind the producer interface; docs/enclave.md).
 */
import type { EnclaveProcessConfig, ServerConfig } from "../../config/index.js";
import { readConfigText, readDonFile, resolveRelativeTo } from "../../config/index.js";
import { createEnclaveHost, resolveConfidentialWorkflowsOptions } from "../../services/confidential-workflows/index.js";
import { createServer, implement, type Logger } from "../../transport/index.js";
import type { RunningProcess } from "./process.js";

export interface EnclaveProcessOptions {
  readonly server: ServerConfig;
  readonly enclave: EnclaveProcessConfig;
  readonly configFile: string | undefined;
  readonly logger: Logger;
}

export async function startEnclaveProcess(o: EnclaveProcessOptions): Promise<RunningProcess> {
  const path = (p: string) => resolveRelativeTo(o.configFile, p);
  const don = readDonFile(path(o.enclave.donFile));
  const options = resolveConfidentialWorkflowsOptions({
    gateway: { url: o.enclave.gatewayUrl },
    don: { signers: don.members.map((m) => m.publicKey), f: don.f },
    maxConcurrentExecutions: o.enclave.maxConcurrentExecutions,
    executionTimeoutMs: o.enclave.executionTimeoutMs,
    attestation: {
      devAuthority: {
        certificatePem: readConfigText(path(o.enclave.caCertFile)),
        privateKeyPem: readConfigText(path(o.enclave.caKeyFile)),
      },
    },
  });
  const host = createEnclaveHost({ options, logger: o.logger });
  await host.start();
  try {
    const server = createServer({ ...o.server, name: "enclave", logger: o.logger, services: [implement(host.service, host.implementation)] });
    host.registerMetricsOn(server.metrics.registry);
    const { url } = await server.listen();
    let closing: Promise<void> | undefined;
    return {
      name: "enclave",
      url,
      close: () =>
        (closing ??= (async () => {
          await server.close();
          await host.close();
        })()),
    };
  } catch (error) {
    await host.close();
    throw error;
  }
}
