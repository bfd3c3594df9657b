/**
 * The workflow WASM runtime (docs/wasm-abi.md): shared by the enclave host and the workflow node.
 */
export { WasmRuntime, sha256Hex, type CompiledGuest, type CompileOptions, type CompileOutcome, type RunInput, type RunLimits, type WasmRuntimeStats } from "./wasm-runtime.js";
export { wasmRuntimeConfig, type WasmRuntimeConfig, type WasmRuntimeOptions } from "./runtime-config.js";
export {
  GUEST_EXPORTS,
  GUEST_IMPORTS,
  GUEST_IMPORT_MODULE,
  GUEST_LOG_LEVELS,
  type CapabilityRequest,
  type CapabilityResponse,
  type GuestLogLevel,
  type GuestRequest,
  type HostCalls,
  type JsonValue,
  type RunOutcome,
  type SecretAnswer,
  type SecretsRequest,
  type SecretsResponse,
  type TriggerSubscription,
} from "./guest-abi.js";
export { exampleConfig, exampleNames, exampleWasm, isExampleName, conformanceGuestWasm } from "./examples.js";
