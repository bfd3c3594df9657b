/**
 * A real ccr server on 127.0.0.1, a free port, for tests that need real sockets:
 *
 *   const t = await startTestServer([implement(Vault, fakeVault)]);
 *   const client = createServiceClient(Vault, { baseUrl: t.url, protocol: "grpc" });
 *   …
 *   await t.close();   // in afterEach/afterAll
 *
 * Logs (debug and up) are captured as parsed JSON lines in `t.logs()`. `close()` fails loudly when
 * the server had to abort a call or destroy a connection, i.e. a test left a call or stream open;
 * tests that exercise exactly that pass `allowForcedClose: true`.
 */
import { createServer, type CcrServer, type CloseSummary } from "../../src/transport/server.js";
import type { DescService } from "@bufbuild/protobuf";
import type { ServerOptions, ServiceRegistrations } from "../../src/transport/server-options.js";
import { createLogger, type LogLevel } from "../../src/transport/logger.js";

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export interface TestServerOptions extends Partial<Omit<ServerOptions, "services" | "logger" | "host" | "port">> {
  /** Default "debug": every call's line is captured. */
  readonly logLevel?: LogLevel;
  /** Grace given to in-flight calls by `close()`. Default 2000 ms. */
  readonly closeGraceMs?: number;
  /** Let `close()` abort calls and destroy connections without failing. */
  readonly allowForcedClose?: boolean;
}

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly server: CcrServer;
  /** Every log line so far, parsed. */
  logs(): LogLine[];
  /** Raw log text so far (to assert that something never appears). */
  rawLogs(): string;
  /** Closes the server; throws if a call or connection had to be cut. Idempotent. */
  close(): Promise<CloseSummary>;
}

export async function startTestServer<const T extends readonly DescService[]>(
  services: ServiceRegistrations<T>,
  options: TestServerOptions = {},
): Promise<TestServer> {
  const { logLevel, closeGraceMs, allowForcedClose, ...serverOptions } = options;
  const lines: string[] = [];
  const logger = createLogger({
    level: logLevel ?? "debug",
    destination: { write: (line: string) => void lines.push(line) },
  });
  const server = createServer<T>({ name: "test", ...serverOptions, services, logger, host: "127.0.0.1", port: 0 });
  const { url, port } = await server.listen();
  let closed: Promise<CloseSummary> | undefined;
  return {
    url,
    port,
    server,
    logs: () => lines.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as LogLine),
    rawLogs: () => lines.join(""),
    close() {
      closed ??= server.close({ graceMs: closeGraceMs ?? 2000 }).then((summary) => {
        if (allowForcedClose !== true && (summary.abortedCalls > 0 || summary.destroyedConnections > 0)) {
          throw new Error(
            `startTestServer: close had to abort ${summary.abortedCalls} call(s) and destroy ` +
              `${summary.destroyedConnections} connection(s): a test left a call or stream open (leak)`,
          );
        }
        return summary;
      });
      return closed;
    },
  };
}
