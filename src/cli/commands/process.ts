/**
 * `ccr gateway|relay-node|vault|capability|enclave|workflow-node --config FILE`: runs one process of
 * the mesh on its own (multi-process mode), from the config file `ccr init` wrote for it. Prints one
 * JSON ready line `{"event":"ready","process":NAME,"url":URL}` on stdout, logs on stderr, and drains
 * on SIGINT/SIGTERM, exiting 0.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../../config/index.js";
import { createLogger } from "../../transport/index.js";
import type { CommandIo } from "../io.js";
import { PROCESS_KINDS, startProcessFromConfig, type ProcessKind } from "../processes/from-config.js";

export function isProcessKind(name: string | undefined): name is ProcessKind {
  return (PROCESS_KINDS as readonly string[]).includes(name ?? "");
}

export async function runProcess(kind: ProcessKind, argv: string[], io: CommandIo, stopSignal?: AbortSignal): Promise<number> {
  const usage = `Usage: ccr ${kind} --config FILE [--name NAME]\n\nRuns the ${kind} on its own, configured by FILE (written by \`ccr init\` into DIR/config/).\n`;
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: "string" }, name: { type: "string" }, help: { type: "boolean", short: "h", default: false } },
      strict: true,
    }));
  } catch (error) {
    io.stderr(`ccr ${kind}: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    io.stdout(usage);
    return 0;
  }
  if (values.config === undefined) {
    io.stderr(`ccr ${kind}: --config FILE is required\n\n${usage}`);
    return 2;
  }
  let running;
  try {
    running = await startProcessFromConfig(kind, {
      configFile: values.config,
      ...(values.name === undefined ? {} : { name: values.name }),
      logger: (level) => createLogger({ level }),
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`ccr ${kind}: ${error.rawMessage}\n`);
      return 2;
    }
    throw error;
  }
  // Listening for SIGINT/SIGTERM before saying "ready": the write can wake a supervisor that signals
  // at once, and until a listener exists a SIGTERM kills the process without draining.
  const stopped = waitForStop(stopSignal);
  io.stdout(`${JSON.stringify({ event: "ready", process: running.name, url: running.url })}\n`);
  await stopped;
  await running.close();
  return 0;
}

/** Resolves on SIGINT, SIGTERM or the given signal. */
export function waitForStop(stopSignal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    stopSignal?.addEventListener("abort", stop, { once: true });
  });
}
