/**
 * packageRoot(): where ccr's own files are, whatever module asks. Under vitest the module runs from
 * src/; from the compiled bundle it runs from node_modules/.cache (test/integration/cli/compiled-bundle.test.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { findPackageRoot, packagePath, packageRoot } from "../../src/package-root.js";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("packageRoot", () => {
  it("is the repository root under vitest", () => {
    expect(packageRoot()).toBe(REPO);
    expect((JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { name: string }).name).toBe("ccr");
    expect(packagePath("migrations/")).toBe(join(REPO, "migrations/"));
  });

  it("skips package.json files of other packages and folders without one", () => {
    const root = mkdtempSync(join(tmpdir(), "ccr-package-root-"));
    dirs.push(root);
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: "ccr" }));
    const nested = join(root, "node_modules", ".cache", "ccr", "0123456789abcdef");
    mkdirSync(nested, { recursive: true });
    writeFileSync(join(root, "node_modules", "package.json"), JSON.stringify({ name: "something-else" }));
    writeFileSync(join(root, "node_modules", ".cache", "package.json"), "{ not json");
    expect(findPackageRoot(nested)).toBe(root);
    expect(findPackageRoot(root)).toBe(root);
  });

  it("names the problem when no package.json named ccr is above", () => {
    const lonely = mkdtempSync(join(tmpdir(), "ccr-package-root-"));
    dirs.push(lonely);
    expect(() => findPackageRoot(lonely)).toThrow(`no package.json named "ccr" at or above ${lonely}`);
  });
});
