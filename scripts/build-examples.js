#!/usr/bin/env node
/**
 * Builds the example workflows (and the SDK's conformance guest) from AssemblyScript source with
 * the `asc` compiler in node_modules:
 *
 *   node scripts/build-examples.js            # every example
 *   node scripts/build-examples.js hello      # some
 *
 * Output: examples/<name>/build/<name>.wasm (gitignored), optimised (-O3). A build is skipped when
 * the SHA-256 over the compiler version, the flags and every source file (the example's and the
 * SDK's) equals the one recorded next to the output, so repeated calls cost a few file reads.
 * Outputs are written to a temporary name and renamed, so concurrent builders (parallel test files)
 * never read a half-written module.
 *
 * Also a module: src/wasm/examples.ts imports `buildGuest`/`buildExample` (types in the .d.ts).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SDK_DIR = join(ROOT, "sdk", "assemblyscript");
const EXAMPLES_DIR = join(ROOT, "examples");

/** The examples, each `examples/<name>/<name>.ts` with a `config.json`. */
export const EXAMPLE_NAMES = Object.freeze(["hello", "secret-digest", "http-price"]);

/** The SDK's conformance guest (exercises every host call; used by the runtime's tests). */
export const CONFORMANCE_GUEST = Object.freeze({
  entry: join(SDK_DIR, "conformance", "probe.ts"),
  // node_modules/.cache: ignored by git, like examples/*/build.
  outFile: join(ROOT, "node_modules", ".cache", "ccr", "conformance", "probe.wasm"),
});

const ASC_FLAGS = Object.freeze(["-O3", "--runtime", "incremental"]);

/** Not part of any example's sources: outputs, and the conformance guest (hashed only for itself). */
const SKIPPED_DIRS = new Set(["build", "node_modules", "conformance"]);

/** @param {string} dir @returns {Promise<string[]>} every .ts file under dir, sorted */
async function sourceFiles(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) out.push(...(await sourceFiles(path)));
    } else if (entry.name.endsWith(".ts")) {
      out.push(path);
    }
  }
  return out.sort();
}

/** @returns {Promise<string>} */
async function ascVersion() {
  const pkg = JSON.parse(await readFile(join(ROOT, "node_modules", "assemblyscript", "package.json"), "utf8"));
  return String(pkg.version);
}

/** @param {string} entry */
async function sourceHash(entry) {
  const hash = createHash("sha256");
  hash.update(`asc ${await ascVersion()}\0${ASC_FLAGS.join(" ")}\0`);
  const files = [...new Set([...(await sourceFiles(SDK_DIR)), ...(await sourceFiles(dirname(entry)))])].sort();
  for (const file of files) {
    const text = await readFile(file);
    hash.update(`${relative(ROOT, file)}\0${text.length}\0`);
    hash.update(text);
  }
  return hash.digest("hex");
}

/** @param {string} path @param {Uint8Array | string} data */
async function writeAtomically(path, data) {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** @type {Map<string, Promise<{ outFile: string; built: boolean }>>} */
const inflight = new Map();

/**
 * Compiles one AssemblyScript entry file to `outFile` unless its sources are unchanged.
 * @param {{ entry: string; outFile: string }} target
 * @returns {Promise<{ outFile: string; built: boolean }>}
 */
export function buildGuest(target) {
  const key = resolve(target.outFile);
  const pending = inflight.get(key);
  if (pending !== undefined) return pending;
  const promise = doBuild(target).finally(() => inflight.delete(key));
  inflight.set(key, promise);
  return promise;
}

/** @param {{ entry: string; outFile: string }} target */
async function doBuild({ entry, outFile }) {
  const stampFile = `${outFile}.source-sha256`;
  const hash = await sourceHash(entry);
  const [stamp, haveWasm] = await Promise.all([
    readFile(stampFile, "utf8").catch(() => ""),
    readFile(outFile).then(
      () => true,
      () => false,
    ),
  ]);
  if (haveWasm && stamp.trim() === hash) return { outFile, built: false };

  const { default: asc } = await import("assemblyscript/asc");
  /** @type {Uint8Array | undefined} */
  let binary;
  const stderr = asc.createMemoryStream();
  const result = await asc.main([relative(ROOT, entry), ...ASC_FLAGS, "--outFile", "out.wasm"], {
    stdout: asc.createMemoryStream(),
    stderr,
    readFile: (name, baseDir) => readFile(resolve(baseDir, name), "utf8").catch(() => null),
    writeFile: (name, contents) => {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
    },
    listFiles: (dirname, baseDir) => readdir(resolve(baseDir, dirname)).catch(() => null),
  });
  if (result.error !== null || binary === undefined) {
    throw new Error(`asc failed to compile ${relative(ROOT, entry)}:\n${stderr.toString()}${result.error?.message ?? ""}`);
  }
  await mkdir(dirname(outFile), { recursive: true });
  await writeAtomically(outFile, binary);
  await writeAtomically(stampFile, `${hash}\n`);
  return { outFile, built: true };
}

/** @param {string} name */
export function exampleTarget(name) {
  if (!EXAMPLE_NAMES.includes(name)) {
    throw new Error(`unknown example "${name}"; the examples are ${EXAMPLE_NAMES.join(", ")}`);
  }
  return { entry: join(EXAMPLES_DIR, name, `${name}.ts`), outFile: join(EXAMPLES_DIR, name, "build", `${name}.wasm`) };
}

/** @param {string} name */
export function buildExample(name) {
  return buildGuest(exampleTarget(name));
}

/** Removes build outputs (for a clean rebuild). */
export async function cleanExamples() {
  await Promise.all([
    ...EXAMPLE_NAMES.map((n) => rm(join(EXAMPLES_DIR, n, "build"), { recursive: true, force: true })),
    rm(dirname(CONFORMANCE_GUEST.outFile), { recursive: true, force: true }),
  ]);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes("--clean")) await cleanExamples();
  const names = args.filter((a) => !a.startsWith("--"));
  const targets = names.length === 0 ? EXAMPLE_NAMES : names;
  for (const name of targets) {
    const started = Date.now();
    const target = name === "probe" ? CONFORMANCE_GUEST : exampleTarget(name);
    const { outFile, built } = await buildGuest(target);
    console.log(`${built ? "built" : "up to date"}: ${relative(ROOT, outFile)}${built ? ` (${Date.now() - started} ms)` : ""}`);
  }
}
