/**
 * The deployment directory's files (written by `ccr init`): the shared DON file, key files and the
 * enclave measurement allowlist. Reading them is configuration, so it lives here; every error names
 * the file and the field, never key material.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError } from "./config-error.js";

/** A relay DON member as the DON file lists it. */
export interface DonMemberFile {
  readonly name: string;
  /** ed25519 public key, 64 hex characters. */
  readonly publicKey: string;
}

/** The shared DON config every process of a deployment reads. */
export interface DonFile {
  readonly donId: string;
  readonly gatewayId: string;
  readonly f: number;
  readonly members: readonly DonMemberFile[];
  /** The workflow nodes' ed25519 public keys (hex) relay nodes accept authorizations from. */
  readonly workflowNodeKeys: readonly string[];
  /** How many distinct workflow-node signatures an authorization needs. */
  readonly authorizationThreshold: number;
}

/** One allowed enclave build. */
export interface PcrSetFile {
  readonly pcr0: string;
  readonly pcr1: string;
  readonly pcr2: string;
}

export interface MeasurementsFile {
  readonly pcrSets: readonly PcrSetFile[];
}

const HEX32 = /^[0-9a-f]{64}$/;
const HEX48 = /^[0-9a-f]{96}$/;

function fail(file: string, what: string): never {
  throw new ConfigError(`config: ${file}: ${what}`, file);
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`config: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}); run \`ccr init\` or fix the path`, file, error);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigError(`config: ${file} is not valid JSON (${(error as Error).message})`, file, error);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Resolves `path` against the directory of the config file that named it. */
export function resolveRelativeTo(configFile: string | undefined, path: string): string {
  if (isAbsolute(path) || configFile === undefined) return resolve(path);
  return resolve(dirname(configFile), path);
}

export function readDonFile(file: string): DonFile {
  const raw = readJson(file);
  if (!isObject(raw)) fail(file, "must hold a JSON object");
  const { donId, gatewayId, f, members, workflowNodeKeys, authorizationThreshold } = raw;
  if (typeof donId !== "string" || donId === "") fail(file, "donId must be a non-empty string");
  if (typeof gatewayId !== "string" || gatewayId === "") fail(file, "gatewayId must be a non-empty string");
  if (typeof f !== "number" || !Number.isInteger(f) || f < 0) fail(file, "f must be an integer ≥ 0");
  if (!Array.isArray(members) || members.length < 3 * f + 1) {
    fail(file, `members must list at least 3F+1 = ${3 * (f as number) + 1} relay nodes`);
  }
  const seen = new Set<string>();
  const parsedMembers = members.map((m, i): DonMemberFile => {
    if (!isObject(m) || typeof m.name !== "string" || typeof m.publicKey !== "string" || !HEX32.test(m.publicKey)) {
      fail(file, `members[${i}] must be {"name": string, "publicKey": 64 lowercase hex characters}`);
    }
    if (seen.has(m.publicKey)) fail(file, `members[${i}].publicKey is listed twice`);
    seen.add(m.publicKey);
    return Object.freeze({ name: m.name, publicKey: m.publicKey });
  });
  if (!Array.isArray(workflowNodeKeys) || workflowNodeKeys.some((k) => typeof k !== "string" || !HEX32.test(k))) {
    fail(file, "workflowNodeKeys must be a list of ed25519 public keys (64 lowercase hex characters)");
  }
  const threshold = authorizationThreshold ?? 1;
  if (typeof threshold !== "number" || !Number.isInteger(threshold) || threshold < 1 || threshold > workflowNodeKeys.length) {
    fail(file, `authorizationThreshold must be an integer from 1 to the number of workflowNodeKeys (${workflowNodeKeys.length})`);
  }
  return Object.freeze({
    donId,
    gatewayId,
    f,
    members: Object.freeze(parsedMembers),
    workflowNodeKeys: Object.freeze([...(workflowNodeKeys as string[])]),
    authorizationThreshold: threshold,
  });
}

/**
 * Reads a 32-byte key (seed) stored as 64 hex characters. Refuses a key file others can read: a
 * relay node's key is its vote.
 */
export function readKeyFile(file: string): Uint8Array {
  let text: string;
  try {
    const mode = statSync(file).mode;
    if (process.platform !== "win32" && (mode & 0o077) !== 0) {
      throw new ConfigError(`config: ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); run \`chmod 600 ${file}\``, file);
    }
    text = readFileSync(file, "utf8").trim();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`config: cannot read key file ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}); run \`ccr init\` or fix the path`, file, error);
  }
  if (!HEX32.test(text)) fail(file, "must hold a 32-byte key as 64 lowercase hex characters");
  return new Uint8Array(Buffer.from(text, "hex"));
}

/** Reads a text file (PEM, JSON keyring) named by config. */
export function readConfigText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`config: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"}); run \`ccr init\` or fix the path`, file, error);
  }
}

export function readMeasurementsFile(file: string): MeasurementsFile {
  const raw = readJson(file);
  if (!isObject(raw) || !Array.isArray(raw.pcrSets)) fail(file, 'must hold {"pcrSets": [{"pcr0", "pcr1", "pcr2"}, …]}');
  const pcrSets = raw.pcrSets.map((s, i): PcrSetFile => {
    if (!isObject(s) || ![s.pcr0, s.pcr1, s.pcr2].every((p) => typeof p === "string" && HEX48.test(p))) {
      fail(file, `pcrSets[${i}] must have pcr0, pcr1 and pcr2 as 96 lowercase hex characters (48 bytes)`);
    }
    return Object.freeze({ pcr0: s.pcr0 as string, pcr1: s.pcr1 as string, pcr2: s.pcr2 as string });
  });
  return Object.freeze({ pcrSets: Object.freeze(pcrSets) });
}
