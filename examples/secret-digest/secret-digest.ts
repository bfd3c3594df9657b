// secret-digest: fetches one secret and answers its SHA-256 (lowercase hex) — never the secret.
// Config: {"secret": "<key>", "namespace"?: "<namespace>"} (namespace defaults to "main").
// Deploy it with the secret named in its attributes (`--secret API_KEY`), so the enclave host
// fetches it before the run; the guest's get_secrets call then reads it.
import { ExecuteRequest, ExecutionResult, TriggerSubscription, getSecret, handleExecute, log, sha256HexOfString } from "../../sdk/assemblyscript";
export { alloc } from "../../sdk/assemblyscript";

export function execute(ptr: usize, len: i32): u64 {
  return handleExecute(ptr, len, run);
}

function run(req: ExecuteRequest): ExecutionResult {
  const config = req.configJson();
  if (config === null || !config.isObject()) return ExecutionResult.error("secret-digest: the config must be a JSON object");
  if (req.isSubscribe) return ExecutionResult.subscriptions([TriggerSubscription.manual()]);
  const key = config.getString("secret");
  if (key.length == 0) return ExecutionResult.error('secret-digest: the config has no string "secret"');
  const namespace = config.getString("namespace", "main");
  const secret = getSecret(key, namespace);
  // The error names the key, never a value.
  if (!secret.ok) return ExecutionResult.error("secret-digest: secret " + namespace + "/" + key + ": " + secret.error);
  log("secret-digest: hashing secret " + namespace + "/" + key);
  return ExecutionResult.string(sha256HexOfString(secret.value));
}
