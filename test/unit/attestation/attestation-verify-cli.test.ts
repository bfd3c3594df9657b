import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runAttestationVerify } from "../../../src/cli/commands/attestation-verify.js";
import { EXAMPLE_TIMESTAMP_MS, INVALID_TIMESTAMP_MS, PCR0, PCR1, PCR2, T0, buildDocument, hex, makePki, vectorPath } from "./fixtures.js";

const EXAMPLE = vectorPath("example_attestation.b64");
const INVALID = vectorPath("invalid_attestation.b64");
const EXAMPLE_AT = new Date(EXAMPLE_TIMESTAMP_MS).toISOString();
const NOW = Date.parse("2026-11-21T00:00:00Z");

function run(args: string[], files: Record<string, Uint8Array> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runAttestationVerify(args, {
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    readFile: (p) => files[p] ?? new Uint8Array(readFileSync(p)),
    nowMs: () => NOW,
  });
  const stdout = out.join("");
  return { code, stdout, stderr: err.join(""), json: stdout.startsWith("{") ? JSON.parse(stdout) : null };
}

describe("ccr attestation verify", () => {
  it("accepts example_attestation with --dev as of its timestamp, printing one JSON line", () => {
    const r = run(["--file", EXAMPLE, "--at", EXAMPLE_AT, "--dev"]);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith("\n")).toBe(true);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.json).toMatchObject({
      valid: true,
      reason: null,
      moduleId: "i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a",
      timestamp: "2024-09-09T19:49:12.400Z",
      pcrAllowlist: "not checked",
      devMode: true,
      verifiedAt: EXAMPLE_AT,
    });
    expect(Object.keys(r.json.pcrs)).toEqual([...Array(16).keys()].map(String));
    expect(r.json.pcrs["0"]).toBe("00".repeat(48));
    expect(r.json.pcrs["3"]).toMatch(/^671ca1e328f75015/);
    expect(r.stderr).toMatch(/warning: dev mode/);
  });

  it("rejects example_attestation without --dev: debug PCRs (exit 1)", () => {
    const r = run(["--file", EXAMPLE, "--at", EXAMPLE_AT]);
    expect(r.code).toBe(1);
    expect(r.json.valid).toBe(false);
    expect(r.json.reason).toMatch(/^attestation: debug-mode PCRs rejected/);
    expect(r.json.moduleId).toBe("i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a");
  });

  it("rejects example_attestation now: too old", () => {
    const r = run(["--file", EXAMPLE, "--dev"]);
    expect(r.code).toBe(1);
    expect(r.json.reason).toBe("attestation: document too old (timestamp 2024-09-09T19:49:12.400Z, max age 300 s)");
    expect(r.json.verifiedAt).toBe(new Date(NOW).toISOString());
  });

  it("rejects invalid_attestation: COSE signature invalid (exit 1), with or without --at", () => {
    for (const args of [["--file", INVALID], ["--file", INVALID, "--at", new Date(INVALID_TIMESTAMP_MS).toISOString(), "--dev"]]) {
      const r = run(args);
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ valid: false, reason: "attestation: COSE signature invalid", timestamp: "2024-07-23T21:29:40.771Z" });
    }
  });

  it("checks --pcrs sets when given (each flag adds one allowed build)", () => {
    const zero = "00".repeat(48);
    const other = "11".repeat(48);
    const ok = run(["--file", EXAMPLE, "--at", EXAMPLE_AT, "--dev", "--pcrs", `${other},${other},${other}`, "--pcrs", `${zero},${zero},${zero}`]);
    expect(ok.code).toBe(0);
    expect(ok.json.pcrAllowlist).toBe("checked");
    const bad = run(["--file", EXAMPLE, "--at", EXAMPLE_AT, "--dev", `--pcrs=${zero},${other},${zero}`]);
    expect(bad.code).toBe(1);
    expect(bad.json.reason).toBe("attestation: pcr1 not in allowlist");
  });

  it("takes raw COSE bytes as well as base64", () => {
    const raw = new Uint8Array(Buffer.from(readFileSync(EXAMPLE, "utf8").trim(), "base64"));
    const r = run(["--file", "doc.cose", "--at", EXAMPLE_AT, "--dev"], { "doc.cose": raw });
    expect(r.code).toBe(0);
  });

  it("verifies a dev document against a --dev-root", () => {
    const pki = makePki("cli");
    const document = buildDocument({ pki, timestampMs: T0 });
    const files = { "doc.b64": new TextEncoder().encode(Buffer.from(document).toString("base64")), "root.pem": new TextEncoder().encode(pki.root.certificatePem) };
    const at = new Date(T0 + 1000).toISOString();
    const ok = run(["--file", "doc.b64", "--at", at, "--dev", "--dev-root", "root.pem", "--pcrs", [PCR0, PCR1, PCR2].map(hex).join(",")], files);
    expect(ok.code).toBe(0);
    const noRoot = run(["--file", "doc.b64", "--at", at, "--dev"], files);
    expect(noRoot.json.reason).toBe("attestation: certificate chain does not end at a trusted root");
  });

  it("prints a malformed document's reason with exit 1", () => {
    const r = run(["--file", "x"], { x: new TextEncoder().encode(Buffer.from([0x84, 0x40, 0xa0, 0x40, 0x40]).toString("base64")) });
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ valid: false, moduleId: null, timestamp: null, pcrs: {} });
    expect(r.json.reason).toMatch(/^attestation: malformed document: /);
  });

  it.each([
    ["no --file", [], /--file is required/],
    ["an unknown flag", ["--file", EXAMPLE, "--verbose"], /unknown argument/],
    ["a bad --at", ["--file", EXAMPLE, "--at", "yesterday"], /--at must be an ISO-8601 time/],
    ["--pcrs with two values", ["--file", EXAMPLE, "--pcrs", "aa,bb"], /three hex values/],
    ["--pcrs of a wrong length", ["--file", EXAMPLE, "--pcrs", "aa,bb,cc"], /must be 32, 48 or 64 bytes/],
    ["--dev-root without --dev", ["--file", EXAMPLE, "--dev-root", "r.pem"], /--dev-root requires --dev/],
    ["a missing file", ["--file", "/nonexistent/doc"], /cannot read --file/],
  ])("exits 2 for unusable input: %s", (_name, args, message) => {
    const r = run(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });

  it("exits 2 when the file is neither COSE bytes nor base64", () => {
    const r = run(["--file", "x"], { x: new TextEncoder().encode("this is not base64!") });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/neither raw COSE_Sign1 bytes nor base64/);
  });

  it("prints usage for --help (exit 0)", () => {
    const r = run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: ccr attestation verify --file DOC/);
  });
});
