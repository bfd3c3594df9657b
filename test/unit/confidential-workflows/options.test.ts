import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  CONFIDENTIAL_WORKFLOWS_DEFAULTS,
  resolveConfidentialWorkflowsOptions,
  type ConfidentialWorkflowsOptionsInput,
} from "../../../src/services/confidential-workflows/options.js";

const KEYS = [1, 2, 3, 4].map((i) => new Uint8Array(32).fill(i));
const base: ConfidentialWorkflowsOptionsInput = { don: { signers: KEYS, f: 1 }, gateway: { url: "http://127.0.0.1:7400/" } };

function problem(input: ConfidentialWorkflowsOptionsInput): string {
  try {
    resolveConfidentialWorkflowsOptions(input);
  } catch (error) {
    const ce = ConnectError.from(error);
    expect(ce.code).toBe(Code.InvalidArgument);
    return ce.rawMessage;
  }
  throw new Error("expected the options to be refused");
}

describe("resolveConfidentialWorkflowsOptions", () => {
  it("fills every default and freezes the result", () => {
    const o = resolveConfidentialWorkflowsOptions(base);
    expect(o).toMatchObject({
      gateway: { url: "http://127.0.0.1:7400", protocol: "grpc" },
      don: { f: 1 },
      binary: { maxBytes: CONFIDENTIAL_WORKFLOWS_DEFAULTS.binaryMaxBytes, fetchTimeoutMs: 10_000, fileRoots: undefined },
      maxConcurrentExecutions: 16,
      executionTimeoutMs: 30_000,
      runtime: { maxQueued: 16, defaultTimeoutMs: 30_000 },
      relay: { requestTimeoutMs: 15_000 },
      attestation: { bindingMode: "session", refreshIntervalMs: 60_000, nodeMaxDocumentAgeMs: 300_000, devAuthority: undefined, measurements: undefined },
    });
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.binary)).toBe(true);
    expect(Object.isFrozen(o.attestation)).toBe(true);
    expect(Object.isFrozen(o.don.signers)).toBe(true);
  });

  it("treats the DON signers as a set: sorted, hex accepted", () => {
    const o = resolveConfidentialWorkflowsOptions({ don: { signers: [...KEYS].reverse().map((k) => Buffer.from(k).toString("hex")), f: 1 } });
    expect(o.don.signers.map((s) => s[0])).toEqual([1, 2, 3, 4]);
    expect(o.gateway).toBeUndefined();
  });

  it("sizes the runtime's queue from the concurrency limit and passes runtime options through", () => {
    const o = resolveConfidentialWorkflowsOptions({ ...base, maxConcurrentExecutions: 3, executionTimeoutMs: 500, runtime: { maxWorkers: 1, memoryLimitBytes: 1 << 20 } });
    expect(o.runtime).toEqual({ maxWorkers: 1, memoryLimitBytes: 1 << 20, maxQueued: 3, defaultTimeoutMs: 500 });
  });

  it("takes measurements as hex or bytes", () => {
    const o = resolveConfidentialWorkflowsOptions({ ...base, attestation: { measurements: { pcr0: "0x" + "ab".repeat(48), pcr1: new Uint8Array(48).fill(1), pcr2: "cd".repeat(48) } } });
    expect(o.attestation.measurements!.pcr0[0]).toBe(0xab);
    expect(o.attestation.measurements!.pcr1[0]).toBe(1);
  });

  it.each<[string, ConfidentialWorkflowsOptionsInput]>([
    ["confidential-workflows options: don.signers must list the relay DON members' ed25519 public keys", { don: { signers: [], f: 0 } }],
    ["confidential-workflows options: don.signers[1] must be 32 bytes (an ed25519 public key), got 31", { don: { signers: [KEYS[0]!, new Uint8Array(31)], f: 0 } }],
    ["confidential-workflows options: don with f=1 needs at least 4 signers, got 3", { don: { signers: KEYS.slice(0, 3), f: 1 } }],
    [`confidential-workflows options: don.signers lists ${"01".repeat(32)} twice`, { don: { signers: [KEYS[0]!, KEYS[0]!], f: 0 } }],
    ['confidential-workflows options: gateway.url must be an http(s) URL, got "ftp://x"', { ...base, gateway: { url: "ftp://x" } }],
    ["confidential-workflows options: binary.maxBytes must be an integer from 8 to 1073741824 (got 0)", { ...base, binary: { maxBytes: 0 } }],
    ["confidential-workflows options: binary.fileRoots[0] must be an absolute path", { ...base, binary: { fileRoots: ["relative/dir"] } }],
    ["confidential-workflows options: maxConcurrentExecutions must be an integer from 1 to 100000 (got 0)", { ...base, maxConcurrentExecutions: 0 }],
    [
      "confidential-workflows options: attestation.refreshIntervalMs must be at most half of attestation.nodeMaxDocumentAgeMs (300000 ms)",
      { ...base, attestation: { refreshIntervalMs: 200_000 } },
    ],
    ['confidential-workflows options: attestation.bindingMode must be "session" (mode b) or "user-data" (mode a)', { ...base, attestation: { bindingMode: "b" as never } }],
    ["confidential-workflows options: attestation.measurements.pcr2 must be 48 bytes (SHA-384) as 96 hex characters", { ...base, attestation: { measurements: { pcr0: "00".repeat(48), pcr1: "00".repeat(48), pcr2: "00" } } }],
    ["confidential-workflows options: attestation.devAuthority.certificatePem must be a PEM certificate", { ...base, attestation: { devAuthority: { certificatePem: "x", privateKeyPem: "-----BEGIN PRIVATE KEY-----" } } }],
    ["confidential-workflows options: runtime.maxQueued is set by the enclave host (see maxConcurrentExecutions and executionTimeoutMs)", { ...base, runtime: { maxQueued: 1 } as never }],
  ])("refuses: %s", (message, input) => {
    expect(problem(input)).toBe(message);
  });
});
