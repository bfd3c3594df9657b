// Fails when gen/ is not exactly what `npm run generate` produces from proto/ (someone edited
// gen/ by hand or forgot to regenerate).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), "ccr-gen-"));
try {
  execFileSync("npx", ["buf", "generate", "--output", out], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const list = (dir) =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? list(path) : [path];
    });
  const fresh = new Map(list(join(out, "gen")).map((p) => [relative(join(out, "gen"), p), p]));
  const committed = new Map(list(join(root, "gen")).map((p) => [relative(join(root, "gen"), p), p]));
  const problems = [];
  for (const [name, path] of fresh) {
    if (!committed.has(name)) problems.push(`missing: gen/${name}`);
    else if (!readFileSync(path).equals(readFileSync(committed.get(name)))) problems.push(`stale: gen/${name}`);
  }
  for (const name of committed.keys()) if (!fresh.has(name)) problems.push(`not generated from proto/: gen/${name}`);
  if (problems.length > 0) {
    console.error(`gen/ is out of date with proto/ — run \`npm run generate\` and commit gen/:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`gen/ is fresh (${fresh.size} files)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
