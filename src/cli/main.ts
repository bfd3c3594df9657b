/**
 * `ccr`: the command-line entry. Each command lives in its own module, loaded only when used, so
 * `ccr --help` and `ccr version` stay instant.
 */
import { readFileSync } from "node:fs";
import { packagePath } from "../package-root.js";

const VERSION: string = (
  JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version: string }
).version;

const HELP = `ccr ${VERSION} — Confidential Compute Relay

Usage: ccr <command> [options]

Commands:
  init [--dir DIR] [--nodes N] [--f F]      create a deployment directory: keys, configs, DON file
  up [--dir DIR] [--base-port N] [--json]   start the whole mesh (default dir .ccr, base port 7400)
  demo [--dir DIR] [--json]                 run a confidential workflow end to end and show who signed
  attestation verify --file DOC [--at ISO] [--pcrs HEX,HEX,HEX ...] [--dev]
                                            check a Nitro attestation document; one JSON line
  workflow deploy|pause|activate|delete|list|trigger|executions …
                                            manage workflows on the running workflow node
  gateway|relay-node|vault|capability|enclave|workflow-node --config FILE
                                            run one process of the mesh on its own
  version                                   print the version
  help                                      print this help

Run 'ccr <command> --help' for a command's options.
`;

export type { CommandIo } from "./io.js";
import type { CommandIo } from "./io.js";

const defaultIo: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs one ccr command and resolves to its exit code. */
export async function main(argv: string[], io: CommandIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.stdout(HELP);
      return 0;
    case "version":
    case "--version":
      io.stdout(`${VERSION}\n`);
      return 0;
    case "attestation": {
      const [verb, ...args] = rest;
      if (verb !== "verify") {
        io.stderr(`ccr attestation: unknown verb "${verb ?? ""}" (expected: verify)\n`);
        return 2;
      }
      const { readFileSync: readFile } = await import("node:fs");
      const { runAttestationVerify } = await import("./commands/attestation-verify.js");
      return runAttestationVerify(args, {
        stdout: io.stdout,
        stderr: io.stderr,
        readFile: (path) => readFile(path),
        nowMs: () => Date.now(),
      });
    }
    case "init": {
      const { runInit } = await import("./commands/init.js");
      return runInit(rest, io);
    }
    case "up": {
      const { runUp } = await import("./commands/up.js");
      return runUp(rest, io);
    }
    case "demo": {
      const { runDemo } = await import("./commands/demo.js");
      return runDemo(rest, io);
    }
    case "workflow": {
      const { runWorkflowCommand, createWorkflowCommandContext } = await import("./commands/workflow.js");
      const { workflowAdminTarget } = await import("./commands/workflow-target.js");
      const target = workflowAdminTarget(rest);
      return runWorkflowCommand(
        target.args,
        createWorkflowCommandContext({ ...target.context, stdout: io.stdout, stderr: io.stderr }),
      );
    }
    default: {
      const { isProcessKind, runProcess } = await import("./commands/process.js");
      if (isProcessKind(command)) return runProcess(command, rest, io);
      io.stderr(`ccr: unknown command "${command}"\n\n${HELP}`);
      return 2;
    }
  }
}
