/**
 * The compiled-bundle cache of bin/compiled.js, on a tiny fixture package (a temp dir with a
 * package.json named ccr and a src/ tree) instead of the real one: the first run builds, later runs
 * reuse, an edited source gives a new bundle, and anything in the way answers undefined so bin/ccr.js
 * falls back to tsx. The bundle itself runs in a child node, as ccr does.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { prepareCompiled, type CompiledResult } from "../../../bin/compiled.js";

const run = promisify(execFile);
const COMPILED_JS = fileURLToPath(new URL("../../../bin/compiled.js", import.meta.url));
const PACKAGE_ROOT_TS = fileURLToPath(new URL("../../../src/package-root.ts", import.meta.url));
const ENTRY = "src/main.ts";

const fixtures: string[] = [];
afterEach(() => {
  for (const dir of fixtures.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A package named ccr whose entry prints its package root (via the real src/package-root.ts), a greeting and a lazily imported value. */
function fixturePackage(): string {
  const root = mkdtempSync(join(tmpdir(), "ccr-bundle-"));
  fixtures.push(root);
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write("package.json", JSON.stringify({ name: "ccr", version: "9.9.9", type: "module" }));
  write("src/package-root.ts", readFileSync(PACKAGE_ROOT_TS, "utf8"));
  write("src/greeting.ts", `export const greeting = (): string => "hello";\n`);
  write("src/lazy/value.ts", `export const lazy: string = "from a lazily imported chunk";\n`);
  write("src/fail.ts", `export function fail(): never {\n  throw new Error("fixture failure");\n}\n`);
  write(
    ENTRY,
    [
      `import { packageRoot } from "./package-root.js";`,
      `import { greeting } from "./greeting.js";`,
      `const { lazy } = await import("./lazy/value.js");`,
      `process.stdout.write(JSON.stringify({ root: packageRoot(), greeting: greeting(), lazy }) + "\\n");`,
      `if (process.argv[2] === "fail") (await import("./fail.js")).fail();`,
      ``,
    ].join("\n"),
  );
  return root;
}

type Built = Extract<CompiledResult, { url: string }>;

function expectBuilt(result: CompiledResult): Built {
  if (result.url === undefined) throw new Error(`expected a compiled entry, got none: ${result.reason}`);
  return result;
}

async function runBundle(result: Built, args: string[] = [], nodeArgs: string[] = []): Promise<{ root: string; greeting: string; lazy: string }> {
  const { stdout } = await run(process.execPath, [...nodeArgs, fileURLToPath(result.url), ...args], { cwd: tmpdir(), timeout: 30_000 });
  return JSON.parse(stdout) as { root: string; greeting: string; lazy: string };
}

describe("the compiled-bundle cache", () => {
  it("builds a bundle on first use under node_modules/.cache/ccr, which finds its package root and lazy chunks", async () => {
    const root = fixturePackage();
    const result = expectBuilt(await prepareCompiled({ root, entry: ENTRY }));
    expect(result.built).toBe(true);
    expect(dirname(result.dir)).toBe(join(root, "node_modules", ".cache", "ccr"));
    expect(readdirSync(result.dir)).toEqual(expect.arrayContaining(["main.mjs", "main.mjs.map"]));
    expect(await runBundle(result)).toEqual({ root, greeting: "hello", lazy: "from a lazily imported chunk" });
  });

  it("reuses the bundle while the contents are unchanged, even if modification times change", async () => {
    const root = fixturePackage();
    const first = expectBuilt(await prepareCompiled({ root, entry: ENTRY }));
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(root, "src", "greeting.ts"), later, later);
    const second = expectBuilt(await prepareCompiled({ root, entry: ENTRY }));
    expect(second).toEqual({ ...first, built: false });
  });

  it("builds a new bundle when one source file changes, and keeps the previous one", async () => {
    const root = fixturePackage();
    const first = expectBuilt(await prepareCompiled({ root, entry: ENTRY }));
    writeFileSync(join(root, "src", "greeting.ts"), `export const greeting = (): string => "changed";\n`);
    const second = expectBuilt(await prepareCompiled({ root, entry: ENTRY }));
    expect(second.built).toBe(true);
    expect(second.dir).not.toBe(first.dir);
    expect((await runBundle(second)).greeting).toBe("changed");
    expect(existsSync(fileURLToPath(first.url))).toBe(true); // a process started from it may still import its chunks
  });

  it("answers undefined, with the reason, when the cache cannot be written (bin/ccr.js then uses tsx)", async () => {
    const root = fixturePackage();
    mkdirSync(join(root, "node_modules"));
    writeFileSync(join(root, "node_modules", ".cache"), "a file where the cache directory should be");
    const result = await prepareCompiled({ root, entry: ENTRY });
    expect(result.url).toBeUndefined();
    expect(result).toMatchObject({ reason: expect.stringContaining("ENOTDIR") });
  });

  it("answers undefined when the sources do not compile, and leaves no temp directory", async () => {
    const root = fixturePackage();
    writeFileSync(join(root, "src", "greeting.ts"), `export const greeting = (: string => "broken";\n`);
    const result = await prepareCompiled({ root, entry: ENTRY });
    expect(result).toMatchObject({ url: undefined, reason: expect.stringContaining("esbuild: ") });
    expect(readdirSync(join(root, "node_modules", ".cache", "ccr"))).toEqual([]);
  });

  it("gives concurrent first runs in separate processes one bundle and leaves no temp directory", async () => {
    const root = fixturePackage();
    const script = `import { prepareCompiled } from ${JSON.stringify(COMPILED_JS)};\nconst r = await prepareCompiled({ root: ${JSON.stringify(root)}, entry: ${JSON.stringify(ENTRY)} });\nconsole.log(JSON.stringify(r));`;
    const runs = await Promise.all(
      [1, 2, 3].map(() => run(process.execPath, ["--input-type=module", "-e", script], { timeout: 60_000 })),
    );
    const results = runs.map(({ stdout }) => expectBuilt(JSON.parse(stdout) as CompiledResult));
    expect(new Set(results.map((r) => r.url)).size).toBe(1);
    expect(readdirSync(join(root, "node_modules", ".cache", "ccr"))).toEqual([results[0]!.dir.split("/").pop()]);
    expect((await runBundle(results[0]!)).greeting).toBe("hello");
  });

  it("maps stack traces back to the TypeScript sources under --enable-source-maps", async () => {
    const root = fixturePackage();
    const result = expectBuilt(await prepareCompiled({ root, entry: ENTRY }));
    const failure = await run(process.execPath, ["--enable-source-maps", fileURLToPath(result.url), "fail"], { timeout: 30_000 }).then(
      () => undefined,
      (error: { stderr: string }) => error,
    );
    expect(failure?.stderr).toContain("fixture failure");
    expect(failure?.stderr).toContain(`${join(root, "src", "fail.ts")}:2:9`);
  });
});
