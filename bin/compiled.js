// @ts-check
/**
 * The compiled-bundle cache bin/ccr.js runs ccr from.
 *
 * Why: tsx's register() installs ESM loader hooks, which Node 20 runs on a separate worker thread
 * with its own V8 heap — about 30 MB of RSS in every ccr process. An esbuild bundle loaded by plain
 * node has no hooks and no such thread. Plain JavaScript on purpose: this runs before any loader.
 *
 * `compiledEntry()` fingerprints the sources (SHA-256 over the contents of every file under src/
 * and gen/, package.json, tsconfig.json, the esbuild version, LAUNCHER_FORMAT, the entry's path and
 * contents),
 * and answers the file URL of `<root>/node_modules/.cache/ccr/<fingerprint>/<entry>.mjs`, building
 * it with esbuild first if that directory does not exist yet. Anything that stops it (a read-only
 * package, esbuild missing, a build error) makes it answer undefined and bin/ccr.js falls back to
 * tsx, which reports a broken source tree itself (a syntax error fails loudly either way).
 *
 * The bundle keeps npm packages external (resolved from <root>/node_modules at run time, as
 * before), and so is any relative import that leaves src/ and gen/ (scripts/build-examples.js):
 * such a file finds its own location through import.meta.url, so it must load from where it is.
 */
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Bump when the build options or the cache layout change: it is part of every fingerprint. */
export const LAUNCHER_FORMAT = 1;

/** The package this launcher belongs to (bin/..). */
export const PACKAGE_ROOT = fileURLToPath(new URL("..", import.meta.url));

export const DEFAULT_ENTRY = "src/cli/main.ts";

/** The directories whose every file is an input of the bundle (relative to the package root). */
export const SOURCE_DIRS = Object.freeze(["src", "gen"]);

/** Cache directories kept besides the one in use (by last use); older ones are removed after a build. */
const KEEP_OTHER_BUILDS = 3;
/** A cache directory used this recently is never removed: a process may still import chunks from it. */
const MIN_IDLE_BEFORE_REMOVAL_MS = 60 * 60 * 1000;
/** Hex digits of the fingerprint that name a cache directory. */
const KEY_LENGTH = 16;
const KEY_DIR = new RegExp(`^[0-9a-f]{${KEY_LENGTH}}$`);
const TEMP_DIR = new RegExp(`^[0-9a-f]{${KEY_LENGTH}}\\.tmp-`);

const requireHere = createRequire(import.meta.url);

/**
 * @typedef {object} CompiledOptions
 * @property {string} [root] package root holding src/, gen/ and package.json (default: this package)
 * @property {string} [entry] entry point relative to root (default src/cli/main.ts)
 */

/**
 * @typedef {{ url: string, dir: string, built: boolean } | { url: undefined, reason: string }} CompiledResult
 * `built` is true when this call ran esbuild, false when it reused a cache directory.
 */

/**
 * The file URL of the compiled entry for `entry`, or undefined when it cannot be provided (the caller
 * then runs the TypeScript sources through tsx).
 * @param {CompiledOptions} [options]
 * @returns {Promise<string | undefined>}
 */
export async function compiledEntry(options) {
  return (await prepareCompiled(options)).url;
}

/**
 * compiledEntry with the details: whether it built, where, or why it could not.
 * @param {CompiledOptions} [options]
 * @returns {Promise<CompiledResult>}
 */
export async function prepareCompiled({ root = PACKAGE_ROOT, entry = DEFAULT_ENTRY } = {}) {
  try {
    const esbuildVersion = readEsbuildVersion();
    const key = sourceFingerprint(root, entry, esbuildVersion).slice(0, KEY_LENGTH);
    const cacheBase = join(root, "node_modules", ".cache", "ccr");
    const dir = join(cacheBase, key);
    const entryFile = join(dir, outputName(entry));
    if (existsSync(entryFile)) {
      markUsed(dir);
      return { url: pathToFileURL(entryFile).href, dir, built: false };
    }
    const outcome = await build(root, entry, cacheBase, key, esbuildVersion);
    if (outcome.reason !== undefined) return { url: undefined, reason: outcome.reason };
    removeOldBuilds(cacheBase, key);
    return { url: pathToFileURL(entryFile).href, dir, built: outcome.built };
  } catch (error) {
    return { url: undefined, reason: describe(error) };
  }
}

/**
 * The SHA-256 (hex) of everything the bundle is made from.
 * @param {string} root
 * @param {string} entry
 * @param {string} esbuildVersion
 */
export function sourceFingerprint(root, entry, esbuildVersion) {
  const hash = createHash("sha256");
  const field = (/** @type {string | Buffer} */ value) => {
    hash.update(`${Buffer.byteLength(value)}:`);
    hash.update(value);
  };
  field(`ccr-launcher-format:${LAUNCHER_FORMAT}`);
  field(`esbuild:${esbuildVersion}`);
  field(`entry:${entry.split(sep).join("/")}`);
  // An entry outside src/ (a benchmark's server) is an input too; inside, the loop below hashes it.
  field(readFileSync(join(root, entry)));
  for (const file of ["package.json", "tsconfig.json"]) {
    field(file);
    field(existsSync(join(root, file)) ? readFileSync(join(root, file)) : "<absent>");
  }
  const files = SOURCE_DIRS.flatMap((dir) => listFiles(root, dir)).sort();
  for (const file of files) {
    field(file);
    field(readFileSync(join(root, file)));
  }
  return hash.digest("hex");
}

/**
 * Every regular file under `dir` (relative to root, POSIX separators); a missing dir is empty.
 * @param {string} root
 * @param {string} dir
 * @returns {string[]}
 */
function listFiles(root, dir) {
  /** @type {import("node:fs").Dirent[]} */
  let entries;
  try {
    entries = readdirSync(join(root, dir), { withFileTypes: true });
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === "ENOENT") return [];
    throw error;
  }
  /** @type {string[]} */
  const files = [];
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) files.push(...listFiles(root, path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

function readEsbuildVersion() {
  const manifest = JSON.parse(readFileSync(requireHere.resolve("esbuild/package.json"), "utf8"));
  return String(manifest.version);
}

/** @param {string} entry */
function outputName(entry) {
  return `${basename(entry, extname(entry))}.mjs`;
}

/**
 * Builds into a temporary directory beside the final one, then renames it into place (atomic on
 * one file system). A concurrent ccr that finished first wins: its directory is as good as ours.
 * @param {string} root
 * @param {string} entry
 * @param {string} cacheBase
 * @param {string} key
 * @param {string} esbuildVersion
 * @returns {Promise<{ built: boolean, reason?: undefined } | { reason: string }>}
 */
async function build(root, entry, cacheBase, key, esbuildVersion) {
  mkdirSync(cacheBase, { recursive: true });
  const finalDir = join(cacheBase, key);
  const tempDir = mkdtempSync(join(cacheBase, `${key}.tmp-`));
  try {
    const esbuild = await import("esbuild");
    try {
      await esbuild.build({
        absWorkingDir: root,
        entryPoints: [{ in: join(root, entry), out: basename(entry, extname(entry)) }],
        outdir: tempDir,
        outExtension: { ".js": ".mjs" }, // ESM whatever package.json "type" says
        bundle: true,
        splitting: true,
        format: "esm",
        platform: "node",
        target: "node20",
        packages: "external",
        keepNames: true,
        sourcemap: "linked",
        logLevel: "silent",
        plugins: [externalOutsideSources(root, finalDir)],
      });
    } finally {
      await esbuild.stop(); // its service child process would otherwise live as long as ccr
    }
    // A source edited while esbuild read the tree would leave a bundle that matches neither version.
    if (sourceFingerprint(root, entry, esbuildVersion).slice(0, KEY_LENGTH) !== key) {
      return { reason: "the sources changed during the build" };
    }
    chmodSync(tempDir, 0o755); // mkdtemp made it private; other users of a shared install read it too
    try {
      renameSync(tempDir, finalDir);
      return { built: true };
    } catch (error) {
      if (existsSync(join(finalDir, outputName(entry)))) return { built: false }; // another ccr finished first
      throw error;
    }
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }
}

/**
 * Relative imports that resolve outside src/ and gen/ stay imports of the original file, rewritten
 * relative to the cache directory (siblings of the temp dir, so the same path from both).
 * @param {string} root
 * @param {string} finalDir
 * @returns {import("esbuild").Plugin}
 */
function externalOutsideSources(root, finalDir) {
  const inside = SOURCE_DIRS.map((dir) => join(root, dir) + sep);
  return {
    name: "ccr-external-outside-sources",
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = resolve(args.resolveDir, args.path);
        if (inside.some((dir) => target.startsWith(dir))) return undefined;
        if (!existsSync(target) || ![".js", ".mjs"].includes(extname(target))) {
          return {
            errors: [
              {
                text: `${args.path} (from ${relative(root, args.importer)}) is outside ${SOURCE_DIRS.join("/ and ")}/ and is not a JavaScript file: the bundle loads such files from where they are at run time`,
              },
            ],
          };
        }
        return { path: relative(finalDir, target).split(sep).join("/"), external: true };
      });
    },
  };
}

/**
 * Records that `dir` was used now, so cleanup keeps it; best-effort (a read-only cache still works).
 * @param {string} dir
 */
function markUsed(dir) {
  try {
    const now = new Date();
    utimesSync(dir, now, now);
  } catch {
    // read-only install: the cache is still usable, only its cleanup order suffers
  }
}

/**
 * Removes cache directories beyond the KEEP_OTHER_BUILDS most recently used (and not used within
 * MIN_IDLE_BEFORE_REMOVAL_MS), and temp dirs left by crashed builds; best-effort.
 * @param {string} cacheBase
 * @param {string} currentKey
 */
function removeOldBuilds(cacheBase, currentKey) {
  try {
    const now = Date.now();
    const others = [];
    for (const name of readdirSync(cacheBase)) {
      if (name === currentKey) continue;
      const path = join(cacheBase, name);
      const mtimeMs = statSync(path).mtimeMs;
      if (KEY_DIR.test(name)) others.push({ path, mtimeMs });
      else if (TEMP_DIR.test(name) && now - mtimeMs > MIN_IDLE_BEFORE_REMOVAL_MS) rmSync(path, { recursive: true, force: true });
    }
    others.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const { path, mtimeMs } of others.slice(KEEP_OTHER_BUILDS)) {
      if (now - mtimeMs > MIN_IDLE_BEFORE_REMOVAL_MS) rmSync(path, { recursive: true, force: true });
    }
  } catch {
    // cleanup only saves disk space
  }
}

/** @param {unknown} error */
function describe(error) {
  if (error !== null && typeof error === "object" && "errors" in error && Array.isArray(error.errors) && error.errors.length > 0) {
    return `esbuild: ${error.errors.map((e) => e.text).join("; ")}`; // a build failure
  }
  return error instanceof Error ? error.message : String(error);
}
