/**
 * A Capability service on the in-memory transport, with a log capture and a private registry, and a
 * local HTTP server on 127.0.0.1 for http-fetch.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import pino from "pino";
import { Registry } from "prom-client";
import { Capability } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import {
  createCapabilityService,
  resolveCapabilityOptions,
  type AnyCapabilityExecutor,
  type CapabilityOptionsInput,
  type CapabilityService,
} from "../../../src/services/capability/index.js";

export const OWNER = "0x14791697260E4c9A71f18484C9f997B308e59325";

export interface CapabilityHarness {
  readonly client: Client<typeof Capability>;
  readonly clock: ManualClock;
  readonly registry: Registry;
  readonly service: CapabilityService;
  logs(): string;
}

export function startCapability(input: CapabilityOptionsInput = {}, extra: AnyCapabilityExecutor[] = []): CapabilityHarness {
  const clock = new ManualClock(1_767_225_600_000);
  const registry = new Registry();
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  const service = createCapabilityService({ options: resolveCapabilityOptions(input), logger, registry, clock, extraCapabilities: extra });
  const transport = createRouterTransport((router) => router.service(service.service, service.implementation));
  return { client: createClient(Capability, transport), clock, registry, service, logs: () => lines.join("") };
}

export function call(capabilityId: string, payload: unknown, referenceId = "ref-1", extra: { executionId?: string; method?: string } = {}) {
  return {
    capabilityId,
    method: extra.method ?? "",
    payload: typeof payload === "string" ? Buffer.from(payload) : Buffer.from(JSON.stringify(payload)),
    metadata: { workflowId: "wf-1", owner: OWNER, executionId: extra.executionId ?? "exec-1", referenceId },
  };
}

export function json(payload: Uint8Array): unknown {
  return JSON.parse(Buffer.from(payload).toString("utf8"));
}

export interface LocalHttpServer {
  readonly origin: string;
  readonly port: number;
  /** Requests received, in order. */
  readonly requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1, port 0, answering with `handler`. */
export async function startHttpServer(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void): Promise<LocalHttpServer> {
  const requests: LocalHttpServer["requests"] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: body.toString("utf8") });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
