/**
 * Where ccr's own files are (package.json, migrations/, src/wasm/guest-worker.js, the measured
 * enclave sources), independent of where the running module is. A module cannot use
 * `new URL("../..", import.meta.url)`: bin/ccr.js runs a bundle compiled into
 * node_modules/.cache/ccr/<fingerprint>/ (bin/compiled.js), where import.meta.url is the bundle
 * chunk's, not the source file's. Walking up to the package.json named "ccr" finds the package
 * root from both places, and under vitest and tsx.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The package name that marks the root (package.json "name"). */
export const PACKAGE_NAME = "ccr";

/** The nearest directory at or above `startDir` holding a package.json named "ccr". */
export function findPackageRoot(startDir: string): string {
  for (let dir = startDir; ; ) {
    if (manifestName(join(dir, "package.json")) === PACKAGE_NAME) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`no package.json named "${PACKAGE_NAME}" at or above ${startDir}: run ccr from its package (a checkout or an npm install)`);
    }
    dir = parent;
  }
}

function manifestName(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined; // no package.json here (or unreadable): keep walking up
  }
  try {
    return (JSON.parse(text) as { name?: unknown }).name;
  } catch {
    return undefined; // someone else's broken package.json is not ours
  }
}

let root: string | undefined;

/** ccr's package root (the directory of its package.json), found once per process. */
export function packageRoot(): string {
  return (root ??= findPackageRoot(dirname(fileURLToPath(import.meta.url))));
}

/** A path inside ccr's package, e.g. packagePath("migrations/"). */
export function packagePath(...segments: string[]): string {
  return join(packageRoot(), ...segments);
}
