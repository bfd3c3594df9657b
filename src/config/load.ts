/**
 * Loading configuration: the only code in src/ that reads process.env or a config file.
 *
 * Precedence, per key: flags > environment > config file > the key's default.
 *
 *  - The file is JSON: `{ "<section>": { "<key>": value, … }, … }`. Its path is the `file` option,
 *    else `$CCR_CONFIG`; no file is fine. Unknown sections and keys in it are errors (typos should
 *    not silently fall back to defaults), unless `allowUnknownSections` (several processes sharing
 *    one file, each knowing only its own sections).
 *  - Environment: `CCR_<SECTION>_<KEY>` in upper snake case (server.readMaxBytes →
 *    CCR_SERVER_READ_MAX_BYTES), or the name a key declares (`env: "DATABASE_URL"`).
 *  - Flags: a record keyed "section.key", as the CLI parsed them (strings are parsed like env
 *    values; numbers and booleans are taken as typed).
 *
 * Every value is validated; the first bad one throws a ConfigError naming the key, what was
 * expected, what was given (never for secret keys) and where it came from. The result is frozen.
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "./config-error.js";
import type { SectionSpec, SectionValues } from "./keys.js";

export type FlagValue = string | number | boolean | readonly string[];

export interface ConfigSources {
  /** The parsed config file and its path (for messages). */
  readonly file?: { readonly path: string; readonly values: unknown };
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** "section.key" → value. */
  readonly flags?: Readonly<Record<string, FlagValue | undefined>>;
}

export interface ResolveOptions {
  /** Ignore sections of the file that are not in `sections`. Unknown keys in known ones still fail. */
  readonly allowUnknownSections?: boolean;
}

export type ConfigValues<T extends Record<string, SectionSpec>> = {
  readonly [K in keyof T]: SectionValues<T[K]>;
};

/** The environment variable of a key: CCR_<SECTION>_<KEY> in upper snake case. */
export function envName(section: string, key: string): string {
  const snake = (s: string): string => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[^A-Za-z0-9]+/g, "_").toUpperCase();
  return `CCR_${snake(section)}_${snake(key)}`;
}

function show(raw: unknown, secret: boolean): string {
  if (secret) {
    return typeof raw === "string" ? `a value of ${raw.length} characters (not shown: secret)` : "a value (not shown: secret)";
  }
  const text = JSON.stringify(raw) ?? String(raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Resolves every section from the sources (pure: no I/O). */
export function resolveConfig<T extends Record<string, SectionSpec>>(
  sections: T,
  sources: ConfigSources,
  options: ResolveOptions = {},
): ConfigValues<T> {
  const env = sources.env ?? {};
  const flags = sources.flags ?? {};
  const file = sources.file;
  const fileValues: Record<string, unknown> = {};
  if (file !== undefined) {
    if (!isPlainObject(file.values)) {
      throw new ConfigError(`config: ${file.path} must hold a JSON object of sections, got ${show(file.values, false)}`, "");
    }
    for (const [sectionName, sectionValue] of Object.entries(file.values)) {
      if (!Object.hasOwn(sections, sectionName)) {
        if (options.allowUnknownSections === true) continue;
        throw new ConfigError(
          `config: unknown section "${sectionName}" in ${file.path} (known sections: ${Object.keys(sections).join(", ")})`,
          sectionName,
        );
      }
      if (!isPlainObject(sectionValue)) {
        throw new ConfigError(`config: section "${sectionName}" in ${file.path} must be an object, got ${show(sectionValue, false)}`, sectionName);
      }
      const spec = sections[sectionName]!;
      for (const key of Object.keys(sectionValue)) {
        if (!Object.hasOwn(spec, key)) {
          throw new ConfigError(
            `config: unknown key ${sectionName}.${key} in ${file.path} (known keys: ${Object.keys(spec).join(", ")})`,
            `${sectionName}.${key}`,
          );
        }
      }
      fileValues[sectionName] = sectionValue;
    }
  }
  for (const flag of Object.keys(flags)) {
    const [sectionName, key, ...rest] = flag.split(".");
    if (sectionName === undefined || key === undefined || rest.length > 0 || !Object.hasOwn(sections, sectionName) || !Object.hasOwn(sections[sectionName]!, key)) {
      throw new ConfigError(`config: unknown setting "${flag}" (expected "section.key", e.g. "server.port")`, flag);
    }
  }

  const result: Record<string, unknown> = {};
  for (const [sectionName, spec] of Object.entries(sections)) {
    const fromFile = (fileValues[sectionName] ?? {}) as Record<string, unknown>;
    const values: Record<string, unknown> = {};
    for (const [key, keySpec] of Object.entries(spec)) {
      const dotted = `${sectionName}.${key}`;
      const variable = keySpec.env ?? envName(sectionName, key);
      let raw: unknown;
      let fromText: boolean;
      let origin: string;
      const flag = flags[dotted];
      const envValue = env[variable];
      if (flag !== undefined) {
        raw = flag;
        fromText = typeof flag === "string";
        origin = `flag ${dotted}`;
      } else if (envValue !== undefined && envValue !== "") {
        raw = envValue;
        fromText = true;
        origin = variable;
      } else if (Object.hasOwn(fromFile, key)) {
        raw = fromFile[key];
        fromText = false;
        origin = file?.path ?? "config file";
      } else {
        if (keySpec.required) {
          throw new ConfigError(
            `config: ${dotted} is required (${keySpec.expected}); set it in the config file or ${variable}`,
            dotted,
          );
        }
        values[key] = keySpec.defaultValue;
        continue;
      }
      const parsed = keySpec.parse(raw, fromText);
      if (!parsed.ok) {
        throw new ConfigError(
          `config: ${dotted} must be ${keySpec.expected}, got ${show(raw, keySpec.secret)} (from ${origin})`,
          dotted,
        );
      }
      values[key] = parsed.value;
    }
    result[sectionName] = Object.freeze(values);
  }
  return Object.freeze(result) as ConfigValues<T>;
}

/** Reads and parses a JSON config file. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`config: cannot read config file ${path} (${code})`, "", error);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigError(`config: ${path} is not valid JSON (${(error as Error).message})`, "", error);
  }
}

export interface LoadConfigOptions extends ResolveOptions {
  /** The config file; default `$CCR_CONFIG`; none is fine. */
  readonly file?: string;
  /** Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly flags?: Readonly<Record<string, FlagValue | undefined>>;
}

/** The variable naming the config file when no `file` is given. */
export const configFileEnv = "CCR_CONFIG";

/** Reads the file (if any) and the environment, and resolves the sections. */
export function loadConfig<T extends Record<string, SectionSpec>>(sections: T, options: LoadConfigOptions = {}): ConfigValues<T> {
  const env = options.env ?? process.env;
  const path = options.file ?? (env[configFileEnv] === "" ? undefined : env[configFileEnv]);
  const sources: ConfigSources = {
    env,
    ...(options.flags === undefined ? {} : { flags: options.flags }),
    ...(path === undefined ? {} : { file: { path, values: readConfigFile(path) } }),
  };
  return resolveConfig(sections, sources, options);
}
