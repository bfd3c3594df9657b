// The ccr guest SDK for AssemblyScript (docs/wasm-abi.md). A workflow's entry file:
//
//   import { ExecuteRequest, ExecutionResult, handleExecute } from "<path>/sdk/assemblyscript";
//   export { alloc } from "<path>/sdk/assemblyscript";
//   export function execute(ptr: usize, len: i32): u64 { return handleExecute(ptr, len, run); }
//   function run(req: ExecuteRequest): ExecutionResult { ... }
export { alloc, now, LogLevel } from "./host";
export { log, logDebug, logWarn, logError } from "./log";
export { SecretResult, getSecret, getSecrets } from "./secrets";
export {
  CapabilityResult,
  callCapability,
  callCapabilityJson,
  EchoResult,
  echo,
  HttpRequest,
  HttpResponse,
  httpFetch,
  ECHO_ID,
  HTTP_FETCH_ID,
  EXECUTE_METHOD,
} from "./capabilities";
export {
  ExecuteRequest,
  ExecutionResult,
  TriggerSubscription,
  handleExecute,
  CRON_TRIGGER_ID,
  MANUAL_TRIGGER_ID,
  TRIGGER_METHOD,
} from "./workflow";
export { JsonKind, JsonValue, jsonNull, jsonBool, jsonNumber, jsonString, jsonArray, jsonObject, parseJson, jsonError, quoteJson } from "./json";
export { base64Encode, base64Decode } from "./base64";
export { sha256, sha256HexOfString, toHex } from "./sha256";
