/**
 * Polyglot clients (issue 8): the Python stubs generated with buf.gen.python.yaml, driven by grpcio
 * over plaintext HTTP/2 (h2c), work against a mesh started with `ccr up`, exactly as a Python user
 * would run them (docs/clients.md). grpcio is a second, independent gRPC implementation, so this
 * also checks that ccr speaks standard gRPC: framing, status codes, and trailers-only error responses.
 *
 * Needs protoc, grpc_python_plugin and python3 with grpcio/protobuf (scripts/setup-polyglot.sh);
 * see ./toolchain.ts for the CI and skip rules.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { polyglotToolchain } from "./toolchain.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const ccrBin = join(root, "bin/ccr.js");
const bufBin = join(root, "node_modules/.bin/buf");
const callsScript = join(root, "test/polyglot/grpcio_calls.py");
const exampleScript = join(root, "clients/python/ccr_client.py");

/** What grpcio_calls.py prints: each call's result or its gRPC status. */
type Outcome<T> = { ok: T; error?: undefined } | { ok?: undefined; error: { code: string; details: string } };
interface CapabilityInfo {
  id: string;
  description: string;
  inputSchema: string;
  outputSchema: string;
}
interface Calls {
  grpcioVersion: string;
  health: { gateway: Outcome<{ status: string }>; capability: Outcome<{ status: string }> };
  capabilityList: Outcome<{ capabilities: CapabilityInfo[] }>;
  gatewayGetSecretsEmpty: Outcome<Record<string, never>>;
}

interface ReadyLine {
  event: "ready";
  endpoints: { gateway: string; capability: string };
}

/** Starts `ccr up --json` and resolves with its ready line; rejects (with stderr) if it exits first. */
async function startMesh(dir: string): Promise<{ child: ChildProcess; ready: ReadyLine; stderr: () => string }> {
  const child = spawn(process.execPath, [ccrBin, "up", "--json", "--base-port", "0", "--dir", dir], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    lines.once("line", (line) => resolve(JSON.parse(line) as ReadyLine));
    child.once("exit", (code) => reject(new Error(`ccr up exited (${code}) before its ready line:\n${stderr}`)));
  });
  return { child, ready, stderr: () => stderr };
}

function describePolyglot(name: string, body: (python: () => string) => void): void {
  const toolchain = polyglotToolchain();
  switch (toolchain.kind) {
    case "available":
      describe(name, () => body(() => toolchain.python));
      return;
    case "required":
      describe(name, () => {
        it("needs the polyglot toolchain", () => {
          throw new Error(toolchain.reason);
        });
      });
      return;
    case "skipped":
      describe.skip(`${name} (skipped: ${toolchain.reason})`, () =>
        body(() => {
          throw new Error("toolchain missing: this suite is skipped");
        }),
      );
      return;
  }
}

describePolyglot("Python client (grpcio + buf.gen.python.yaml) against `ccr up`", (python) => {
  let tmp: string;
  let stubs: string;
  let mesh: Awaited<ReturnType<typeof startMesh>> | undefined;
  let calls: Calls;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "ccr-polyglot-"));
    // The template's own output path under a temporary root: nothing generated lands in the repository.
    await run(bufBin, ["generate", "--template", "buf.gen.python.yaml", "--output", tmp], { cwd: root });
    stubs = join(tmp, "clients/python/gen");
    mesh = await startMesh(join(tmp, "mesh"));
    const { endpoints } = mesh.ready;
    // -B: no __pycache__ next to the scripts in the repository.
    const { stdout } = await run(
      python(),
      ["-B", callsScript, "--stubs", stubs, "--gateway", endpoints.gateway, "--capability", endpoints.capability],
      { timeout: 60_000 },
    );
    calls = JSON.parse(stdout) as Calls;
  });

  afterAll(async () => {
    if (mesh !== undefined && mesh.child.exitCode === null) {
      const exited = once(mesh.child, "exit");
      mesh.child.kill("SIGTERM");
      const [code] = (await exited) as [number | null];
      expect(code, mesh.stderr()).toBe(0);
    }
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  it("generates messages, type stubs and grpcio service stubs for every service", () => {
    for (const file of [
      "ccr/v1/capability_pb2.py",
      "ccr/v1/capability_pb2.pyi",
      "ccr/v1/capability_pb2_grpc.py",
      "ccr/v1/gateway_pb2_grpc.py",
      "ccr/v1/relay_pb2.py",
      "ccr/v1/vault_pb2_grpc.py",
      "ccr/v1/confidential_workflows_pb2_grpc.py",
      "ccr/sdk/v1/sdk_pb2.py",
      "grpc/health/v1/health_pb2_grpc.py",
    ]) {
      expect(existsSync(join(stubs, file)), file).toBe(true);
    }
  });

  it("grpc.health.v1.Health/Check answers SERVING on the gateway and the capability service", () => {
    expect(calls.health).toEqual({ gateway: { ok: { status: "SERVING" } }, capability: { ok: { status: "SERVING" } } });
  });

  // Needs the Capability service wired into `ccr up` (until then the mesh answers UNIMPLEMENTED).
  it("ccr.v1.Capability/List returns the registry, sorted by id, each entry describing itself", () => {
    expect(calls.capabilityList.error).toBeUndefined();
    const capabilities = calls.capabilityList.ok!.capabilities;
    const ids = capabilities.map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(["echo@1.0.0", "http-fetch@1.0.0"]));
    expect(ids).toEqual([...ids].sort());
    for (const c of capabilities) {
      expect(c.id).toMatch(/^[a-z0-9][a-z0-9-]*@\d+\.\d+\.\d+/);
      expect(c.description, c.id).not.toBe("");
      // JSON Schemas (capability.proto): they must at least parse.
      expect(() => JSON.parse(c.inputSchema), c.id).not.toThrow();
      expect(() => JSON.parse(c.outputSchema), c.id).not.toThrow();
    }
  });

  // Needs the Gateway wired into `ccr up` (until then the mesh answers UNIMPLEMENTED).
  it("ccr.v1.Gateway/GetSecrets with an empty request fails with INVALID_ARGUMENT naming the request id", () => {
    expect(calls.gatewayGetSecretsEmpty).toEqual({
      error: { code: "INVALID_ARGUMENT", details: expect.stringContaining("request ID cannot be empty") },
    });
  });

  // The example in clients/python (docs/clients.md) must keep working as documented.
  it("the example client clients/python/ccr_client.py lists capabilities and shows the gateway's error", async () => {
    const { endpoints } = mesh!.ready;
    const { stdout } = await run(
      python(),
      ["-B", exampleScript, "--stubs", stubs, "--gateway", endpoints.gateway, "--capability", endpoints.capability],
      { timeout: 60_000 },
    );
    expect(stdout).toMatch(/^capability echo@1\.0\.0: \S/m);
    expect(stdout).toContain("Gateway.GetSecrets({}): INVALID_ARGUMENT: request ID cannot be empty");
  });
});
