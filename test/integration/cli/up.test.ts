import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { health } from "../../../src/contract/index.js";
import { createServiceTransport } from "../../../src/transport/index.js";

const bin = fileURLToPath(new URL("../../../bin/ccr.js", import.meta.url));

function runCcr(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stderr: () => stderr };
}

describe("ccr up", () => {
  it("prints exactly one ready line, serves health on every endpoint, and drains on SIGTERM with exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ccr-up-"));
    const { child, stderr } = runCcr(["up", "--json", "--base-port", "0", "--dir", dir]);
    const lines = createInterface({ input: child.stdout });
    const stdoutLines: string[] = [];
    const ready = new Promise<string>((resolve) => lines.on("line", (line) => { stdoutLines.push(line); resolve(line); }));
    const line = await ready;
    const event = JSON.parse(line) as { event: string; endpoints: Record<string, string | string[]> };
    expect(event.event).toBe("ready");
    expect(Object.keys(event.endpoints).sort()).toEqual(
      ["artifacts", "capability", "confidentialWorkflows", "gateway", "relayNodes", "vault", "workflowNode"].sort(),
    );
    expect(event.endpoints.relayNodes).toHaveLength(4);
    const { artifacts, workflowNode, ...grpc } = event.endpoints;
    expect(artifacts).toBe(`${workflowNode as string}/artifacts`);
    const urls = Object.values(grpc).flat();
    expect(new Set(urls).size).toBe(8);
    for (const url of urls) {
      const client = createClient(health.Health, createServiceTransport({ baseUrl: url, protocol: "connect", httpVersion: "1.1" }));
      expect((await client.check({})).status).toBe(health.HealthCheckResponse_ServingStatus.SERVING);
    }
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code, stderr()).toBe(0);
    expect(stdoutLines).toHaveLength(1);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("refuses a bad config value at start-up, naming the key", async () => {
    const { child, stderr } = runCcr(["up", "--json", "--base-port", "not-a-port"]);
    const [code] = await once(child, "exit");
    expect(code).toBe(2);
    expect(stderr()).toContain("mesh.basePort");
  });
});
