/**
 * Runs every command of the README's "Calling the services" block against a real `ccr up`, so the
 * examples cannot rot. The README is written for the default base port 7400; the test starts the mesh
 * on a free range and rewrites each `127.0.0.1:74NN` to the same offset from its own base port.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const run = promisify(execFile);

function readmeExamples(): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("<!-- readme-examples:start");
  const end = readme.indexOf("<!-- readme-examples:end -->");
  const block = readme.slice(start, end);
  const body = block.slice(block.indexOf("```sh") + 5, block.lastIndexOf("```"));
  return body.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** A base port with the nine ports of a default mesh free. */
async function freeRange(): Promise<number> {
  for (let base = 21_000 + Math.floor(Math.random() * 20_000); ; base += 10) {
    let ok = true;
    for (let i = 0; i < 9 && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
}

/** Splits a shell line into words, honouring single quotes (all the README needs). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

describe("README examples", () => {
  let base = 0;
  let dir = "";
  let child: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ccr-readme-"));
    // The range is probed free, but a test running alongside may bind one of its ports before
    // `ccr up` does: then start again on another range rather than fail.
    for (let attempt = 1; ; attempt++) {
      base = await freeRange();
      const started = spawn(process.execPath, [join(root, "bin/ccr.js"), "up", "--json", "--base-port", String(base), "--dir", join(dir, `d${attempt}`)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      started.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
      const ready = await new Promise<boolean>((resolve, reject) => {
        createInterface({ input: started.stdout! }).once("line", () => resolve(true));
        started.once("exit", (code) => {
          if (attempt < 3 && /EADDRINUSE/.test(stderr)) resolve(false);
          else reject(new Error(`ccr up exited ${code}: ${stderr}`));
        });
      });
      if (ready) {
        child = started;
        started.stderr!.resume();
        break;
      }
    }
  }, 180_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child!.once("exit", resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const examples = readmeExamples();

  it("has examples for every service", () => {
    const text = examples.join("\n");
    for (const name of ["Gateway", "RelayNode", "Vault", "Capability", "ConfidentialWorkflows", "Health"]) expect(text).toContain(name);
  });

  it.each(examples)("%s", async (line) => {
    const [cmd, ...args] = words(line.replace(/127\.0\.0\.1:74(\d\d)/g, (_m, n: string) => `127.0.0.1:${base + Number(n)}`));
    const { stdout } = await run(cmd === "npx" ? "npx" : cmd!, args, { cwd: root, timeout: 60_000 });
    expect(stdout.trim()).not.toBe("");
    // Connect JSON answers are JSON; errors carry a code and a message saying what to fix.
    if (cmd === "curl" && !line.includes("/metrics")) {
      const body = JSON.parse(stdout) as Record<string, unknown>;
      if ("code" in body) expect(typeof body.message).toBe("string");
      if ("error" in body && line.includes("jsonrpc")) expect((body.error as { code: number }).code).toBeLessThan(-32000 + 1);
    }
    if (line.includes("/metrics")) expect(stdout).toContain("grpc_server_started_total");
  }, 60_000);
});
