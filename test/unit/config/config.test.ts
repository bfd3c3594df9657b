import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  boolean,
  ConfigError,
  defineSection,
  envName,
  integer,
  loadConfig,
  oneOf,
  resolveConfig,
  serverSection,
  string,
  stringList,
  type ServerConfig,
} from "../../../src/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "ccr-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeJson(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
}

/** The ConfigError thrown by `fn`. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const sections = { server: serverSection };

describe("the server section", () => {
  it("has defaults for every key", () => {
    const config = resolveConfig(sections, {});
    const server: ServerConfig = config.server;
    expect(server).toEqual({
      host: "127.0.0.1",
      port: 0,
      readMaxBytes: 4 * 1024 * 1024,
      shutdownGraceMs: 10_000,
      idleTimeoutMs: 10_000,
      logLevel: "info",
    });
  });

  it("fails with the key named, what is expected, what was given and where", () => {
    const error = configError(() => resolveConfig(sections, { env: { CCR_SERVER_PORT: "abc" } }));
    expect(error.rawMessage).toBe('config: server.port must be an integer 0–65535, got "abc" (from CCR_SERVER_PORT)');
    expect(error.key).toBe("server.port");
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error).toBeInstanceOf(ConnectError);
  });

  it("refuses out-of-range and non-integer values from the file", () => {
    const path = writeJson("bad-port.json", { server: { port: 70000 } });
    expect(configError(() => loadConfig(sections, { file: path, env: {} })).rawMessage).toBe(
      `config: server.port must be an integer 0–65535, got 70000 (from ${path})`,
    );
    const typed = writeJson("string-port.json", { server: { port: "7400" } });
    expect(configError(() => loadConfig(sections, { file: typed, env: {} })).key).toBe("server.port");
    expect(configError(() => resolveConfig(sections, { env: { CCR_SERVER_LOG_LEVEL: "loud" } })).rawMessage).toBe(
      'config: server.logLevel must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud" (from CCR_SERVER_LOG_LEVEL)',
    );
    expect(configError(() => resolveConfig(sections, { env: { CCR_SERVER_HOST: "http://x:1" } })).key).toBe("server.host");
  });
});

describe("precedence: flags > env > file > defaults", () => {
  const path = writeJson("layers.json", { server: { port: 1111, readMaxBytes: 2048, idleTimeoutMs: 500 } });

  it("takes each key from the highest source that sets it", () => {
    const config = loadConfig(sections, {
      file: path,
      env: { CCR_SERVER_PORT: "2222", CCR_SERVER_READ_MAX_BYTES: "4096" },
      flags: { "server.port": "3333" },
    });
    expect(config.server.port).toBe(3333); // flag
    expect(config.server.readMaxBytes).toBe(4096); // env
    expect(config.server.idleTimeoutMs).toBe(500); // file
    expect(config.server.shutdownGraceMs).toBe(10_000); // default
  });

  it("reads the file named by CCR_CONFIG when no file is given", () => {
    expect(loadConfig(sections, { env: { CCR_CONFIG: path } }).server.port).toBe(1111);
  });

  it("treats an empty environment variable as unset", () => {
    expect(loadConfig(sections, { file: path, env: { CCR_SERVER_PORT: "" } }).server.port).toBe(1111);
  });
});

describe("the file", () => {
  it("must exist and be JSON", () => {
    expect(configError(() => loadConfig(sections, { file: join(dir, "missing.json"), env: {} })).rawMessage).toMatch(
      /^config: cannot read config file .*missing\.json \(ENOENT\)$/,
    );
    const broken = writeJson("broken.json", "{ server: ");
    expect(configError(() => loadConfig(sections, { file: broken, env: {} })).rawMessage).toMatch(/is not valid JSON/);
  });

  it("may not hold unknown keys or sections (typos would silently become defaults)", () => {
    const typo = writeJson("typo.json", { server: { prot: 1 } });
    expect(configError(() => loadConfig(sections, { file: typo, env: {} })).rawMessage).toBe(
      `config: unknown key server.prot in ${typo} (known keys: host, port, readMaxBytes, shutdownGraceMs, idleTimeoutMs, logLevel)`,
    );
    const other = writeJson("other.json", { vault: {}, server: { port: 1 } });
    expect(configError(() => loadConfig(sections, { file: other, env: {} })).key).toBe("vault");
    expect(loadConfig(sections, { file: other, env: {}, allowUnknownSections: true }).server.port).toBe(1);
  });

  it("refuses unknown flags", () => {
    expect(configError(() => resolveConfig(sections, { flags: { "server.prot": "1" } })).key).toBe("server.prot");
  });
});

describe("declaring a section", () => {
  const relaySection = defineSection({
    gatewayUrls: stringList({ minItems: 1, itemPattern: /^https?:\/\//, itemDescription: "http(s) URLs" }),
    nodeKeyHex: string({ pattern: /^[0-9a-f]{64}$/, patternDescription: "64 lowercase hex digits", secret: true }),
    databaseUrl: string({ env: "DATABASE_URL" }).optional(),
    dev: boolean({ default: false }),
    quorumTimeoutMs: integer({ min: 1, max: 60_000, default: 5_000, unit: "ms" }),
    mode: oneOf(["strict", "lenient"] as const, { default: "strict" }),
  });
  const key = "a".repeat(64);

  it("types, defaults and parses each key", () => {
    const config = resolveConfig(
      { relay: relaySection },
      { env: { CCR_RELAY_GATEWAY_URLS: "http://a:1, http://b:2", CCR_RELAY_NODE_KEY_HEX: key, CCR_RELAY_DEV: "yes" } },
    );
    const relay: { readonly gatewayUrls: readonly string[]; readonly databaseUrl: string | undefined; readonly mode: "strict" | "lenient" } =
      config.relay;
    expect(relay.gatewayUrls).toEqual(["http://a:1", "http://b:2"]);
    expect(config.relay).toMatchObject({ dev: true, quorumTimeoutMs: 5_000, mode: "strict", databaseUrl: undefined });
  });

  it("reads an explicitly named environment variable", () => {
    const config = resolveConfig(
      { relay: relaySection },
      { env: { CCR_RELAY_GATEWAY_URLS: "http://a:1", CCR_RELAY_NODE_KEY_HEX: key, DATABASE_URL: "postgres://db" } },
    );
    expect(config.relay.databaseUrl).toBe("postgres://db");
  });

  it("says how to set a missing required key", () => {
    expect(configError(() => resolveConfig({ relay: relaySection }, { env: { CCR_RELAY_NODE_KEY_HEX: key } })).rawMessage).toBe(
      "config: relay.gatewayUrls is required (a list of at least 1 http(s) URLs (comma-separated in env and flags)); set it in the config file or CCR_RELAY_GATEWAY_URLS",
    );
  });

  it("never echoes the value of a secret key", () => {
    const error = configError(() =>
      resolveConfig({ relay: relaySection }, { env: { CCR_RELAY_GATEWAY_URLS: "http://a:1", CCR_RELAY_NODE_KEY_HEX: "not-the-real-key" } }),
    );
    expect(error.key).toBe("relay.nodeKeyHex");
    expect(error.rawMessage).not.toContain("not-the-real-key");
    expect(error.rawMessage).toContain("64 lowercase hex digits");
  });

  it("returns a deeply frozen object", () => {
    const config = resolveConfig(
      { relay: relaySection, server: serverSection },
      { env: { CCR_RELAY_GATEWAY_URLS: "http://a:1", CCR_RELAY_NODE_KEY_HEX: key } },
    );
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.relay.gatewayUrls)).toBe(true);
  });
});

describe("envName", () => {
  it("is CCR_<SECTION>_<KEY> in upper snake case", () => {
    expect(envName("server", "readMaxBytes")).toBe("CCR_SERVER_READ_MAX_BYTES");
    expect(envName("relayNode", "gatewayUrls")).toBe("CCR_RELAY_NODE_GATEWAY_URLS");
  });
});
