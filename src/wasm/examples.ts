/**
 * The example workflows (examples/<name>/) as bytes, compiled from their AssemblyScript source on
 * first use — so the CLI (`ccr workflow deploy hello`), `ccr demo` and the tests never depend on a
 * committed .wasm. The build (scripts/build-examples.js) is skipped when the sources are unchanged.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buildExample, buildGuest, CONFORMANCE_GUEST, EXAMPLE_NAMES, exampleTarget } from "../../scripts/build-examples.js";

export const exampleNames: readonly string[] = EXAMPLE_NAMES;

export function isExampleName(name: string): boolean {
  return EXAMPLE_NAMES.includes(name);
}

/** The compiled module of example `name`, building it if its sources changed. */
export async function exampleWasm(name: string): Promise<Uint8Array> {
  const { outFile } = await buildExample(name);
  return new Uint8Array(await readFile(outFile));
}

/** The example's sample config (examples/<name>/config.json), as stored bytes. */
export async function exampleConfig(name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(dirname(exampleTarget(name).entry), "config.json")));
}

/** The SDK's conformance guest (sdk/assemblyscript/conformance/probe.ts), for runtime tests and benchmarks. */
export async function conformanceGuestWasm(): Promise<Uint8Array> {
  const { outFile } = await buildGuest(CONFORMANCE_GUEST);
  return new Uint8Array(await readFile(outFile));
}
