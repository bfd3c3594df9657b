/**
 * What the polyglot tests need besides Node: `protoc` (protobuf-compiler; buf runs it for
 * `protoc_builtin` plugins), `grpc_python_plugin` (protobuf-compiler-grpc) and a python3 that imports
 * grpcio and protobuf (python3-grpcio, python3-protobuf). scripts/setup-polyglot.sh installs them.
 *
 * In CI (CI=true) a missing tool fails the suite; outside CI it skips the suite with the reason in its
 * name, as test/support/databases.ts does for a missing Postgres server.
 */
import { spawnSync } from "node:child_process";
import { testEnv } from "../support/test-env.js";

export type PolyglotToolchain =
  | { readonly kind: "available"; readonly python: string }
  | { readonly kind: "required"; readonly reason: string }
  | { readonly kind: "skipped"; readonly reason: string };

/**
 * Python interpreters to try, in order. Debian's python3-grpcio installs into the system
 * interpreter's dist-packages, which a python3 earlier on PATH (pyenv, a venv) does not see.
 */
const PYTHON_CANDIDATES = ["python3", "/usr/bin/python3"] as const;

function runs(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 30_000 });
  return result.error === undefined && result.status === 0;
}

function onPath(command: string): boolean {
  return runs("sh", ["-c", 'command -v "$0" >/dev/null', command]);
}

export function polyglotToolchain(): PolyglotToolchain {
  const missing: string[] = [];
  if (!onPath("protoc")) missing.push("protoc (Debian: protobuf-compiler)");
  if (!onPath("grpc_python_plugin")) missing.push("grpc_python_plugin (Debian: protobuf-compiler-grpc)");
  const python = PYTHON_CANDIDATES.find((candidate) => runs(candidate, ["-c", "import grpc, google.protobuf"]));
  if (python === undefined) missing.push("a python3 with grpcio and protobuf (Debian: python3-grpcio python3-protobuf)");
  if (python !== undefined && missing.length === 0) return { kind: "available", python };
  const reason = `missing ${missing.join(", ")}; run scripts/setup-polyglot.sh`;
  return testEnv().ci ? { kind: "required", reason: `CI=true and ${reason}` } : { kind: "skipped", reason };
}
