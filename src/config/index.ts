/**
 * Configuration: declarative sections, validated once from flags > env > file > defaults into a
 * frozen object. The only module in src/ that reads process.env or config files.
 */
export { ConfigError } from "./config-error.js";
export {
  boolean,
  defineSection,
  integer,
  number,
  oneOf,
  string,
  stringList,
  type Key,
  type KeyOptions,
  type KeySpec,
  type ListKeyOptions,
  type NumberKeyOptions,
  type ParseResult,
  type SectionSpec,
  type SectionValues,
  type StringKeyOptions,
} from "./keys.js";
export {
  configFileEnv,
  envName,
  loadConfig,
  readConfigFile,
  resolveConfig,
  type ConfigSources,
  type ConfigValues,
  type FlagValue,
  type LoadConfigOptions,
  type ResolveOptions,
} from "./load.js";
export { logLevelValues, serverSection, type ServerConfig } from "./server-config.js";
export { meshSection, type MeshConfig } from "./mesh-config.js";
export * from "./process-sections.js";
export * from "./deployment-files.js";
export { CONFIG_SECTIONS, renderConfigReference } from "./reference.js";
