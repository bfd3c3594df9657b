/**
 * The guest worker is plain ESM so that it loads wherever the runtime runs: under vitest (every
 * other test in this folder) and under tsx, as the CLI runs — checked here in child processes.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { exampleWasm } from "../../../src/wasm/examples.js";

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/wasm/${name}`, import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

beforeAll(async () => {
  await exampleWasm("hello"); // build once here, not in the children
}, 240_000);

describe("guest worker loading", () => {
  it("works under `node --import tsx` (npx tsx)", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", fixture("run-hello.ts")], { cwd: ROOT, timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toEqual({ kind: "value", value: "hello from ccr" });
  });

  it("works under tsx's register() API (how bin/ccr.js starts the CLI)", async () => {
    const { stdout } = await run(process.execPath, [fixture("run-hello-register.mjs")], { cwd: ROOT, timeout: 60_000 });
    expect(JSON.parse(stdout.trim())).toEqual({ kind: "value", value: "hello from ccr" });
  });
});
