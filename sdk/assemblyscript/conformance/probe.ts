// The SDK's conformance guest: one module that exercises every host call and SDK helper, driven
// by its config {"mode": ...}. The runtime's tests (test/*/wasm) run it; it is not a workflow.
//
// Modes (trigger phase; the subscribe phase answers one manual trigger):
//   config        → the config, parsed and re-serialized
//   trap          → `unreachable`
//   abort         → an AssemblyScript abort (throw)
//   loop          → never returns
//   oom           → allocates 64 KiB blocks until memory runs out
//   log           → logs config.count lines "line <i>", then answers config.count
//   long-log      → logs one line of config.bytes "x"
//   capability    → calls config.id/config.method with the trigger payload; answers the payload
//                   text, or a workflow error "capability failed: <error>"
//   echo          → echo@1.0.0 with the trigger payload (JSON)
//   http          → http-fetch GET config.url; answers {status, body, bodyBytes, header}
//   secrets       → get_secrets for config.keys / config.namespaces; answers per key
//                   {id, namespace, sha256} or {id, namespace, error} (never a value)
//   now           → the host clock
//   sha256        → SHA-256 hex of the trigger payload bytes
//   base64        → base64 of the trigger payload bytes (round-tripped through the decoder)
//   json          → the trigger payload parsed by the SDK's parser and re-serialized, or a workflow
//                   error "invalid json: <why>"
//   big-result    → a string value of config.bytes "y"
import {
  ExecuteRequest,
  ExecutionResult,
  TriggerSubscription,
  HttpRequest,
  JsonValue,
  base64Decode,
  base64Encode,
  callCapability,
  echo,
  getSecrets,
  handleExecute,
  httpFetch,
  jsonArray,
  jsonError,
  jsonNumber,
  jsonObject,
  jsonString,
  log,
  now,
  parseJson,
  sha256,
  sha256HexOfString,
  toHex,
} from "..";
export { alloc } from "..";

export function execute(ptr: usize, len: i32): u64 {
  return handleExecute(ptr, len, run);
}

let sink: Uint8Array[] = [];

function run(req: ExecuteRequest): ExecutionResult {
  if (req.isSubscribe) return ExecutionResult.subscriptions([TriggerSubscription.manual()]);
  const config = req.configJson();
  if (config === null) return ExecutionResult.error("probe: config is not JSON: " + jsonError());
  const mode = config.getString("mode");

  if (mode == "config") return ExecutionResult.value(config);
  if (mode == "trap") unreachable();
  if (mode == "abort") throw new Error("probe aborted on purpose");
  if (mode == "loop") {
    let i: i64 = 0;
    while (true) i++;
  }
  if (mode == "oom") {
    while (true) sink.push(new Uint8Array(65536));
  }
  if (mode == "log") {
    const count = <i32>config.getNumber("count", 0);
    for (let i = 0; i < count; i++) log("line " + i.toString());
    return ExecutionResult.number(<f64>count);
  }
  if (mode == "long-log") {
    log("x".repeat(<i32>config.getNumber("bytes", 0)));
    return ExecutionResult.nothing();
  }
  if (mode == "capability") {
    const r = callCapability(config.getString("id"), config.getString("method", "Execute"), req.triggerPayload);
    if (!r.ok) return ExecutionResult.error("capability failed: " + r.error);
    return ExecutionResult.string(r.payloadText());
  }
  if (mode == "echo") {
    const input = req.triggerPayloadJson();
    if (input === null) return ExecutionResult.error("probe: trigger payload is not JSON");
    const r = echo(input);
    if (!r.ok) return ExecutionResult.error("echo failed: " + r.error);
    return ExecutionResult.value(r.value!);
  }
  if (mode == "http") {
    const res = httpFetch(HttpRequest.get(config.getString("url")).header("x-probe", "1"));
    if (!res.ok) return ExecutionResult.error("http failed: " + res.error);
    return ExecutionResult.value(
      jsonObject()
        .set("status", jsonNumber(<f64>res.status))
        .set("body", jsonString(res.body))
        .set("bodyHex", jsonString(toHex(res.bodyBytes)))
        .set("contentType", jsonString(res.header("Content-Type"))),
    );
  }
  if (mode == "secrets") {
    const keys: string[] = [];
    const nss: string[] = [];
    const k = config.get("keys");
    const n = config.get("namespaces");
    if (k !== null) for (let i = 0; i < k.length; i++) keys.push(k.at(i)!.asString());
    if (n !== null) for (let i = 0; i < n.length; i++) nss.push(n.at(i)!.asString());
    const results = getSecrets(keys, nss);
    const out = jsonArray();
    for (let i = 0; i < results.length; i++) {
      const r = results[i];
      const o = jsonObject().set("id", jsonString(r.id)).set("namespace", jsonString(r.namespace));
      if (r.ok) o.set("sha256", jsonString(sha256HexOfString(r.value)));
      else o.set("error", jsonString(r.error));
      out.push(o);
    }
    return ExecutionResult.value(out);
  }
  if (mode == "now") return ExecutionResult.number(now());
  if (mode == "sha256") return ExecutionResult.string(toHex(sha256(req.triggerPayload)));
  if (mode == "base64") {
    const text = base64Encode(req.triggerPayload);
    const back = base64Decode(text);
    if (back === null || toHex(back) != toHex(req.triggerPayload)) return ExecutionResult.error("base64 round trip failed");
    return ExecutionResult.string(text);
  }
  if (mode == "json") {
    const v: JsonValue | null = parseJson(req.triggerPayloadText());
    if (v === null) return ExecutionResult.error("invalid json: " + jsonError());
    return ExecutionResult.value(v);
  }
  if (mode == "big-result") return ExecutionResult.string("y".repeat(<i32>config.getNumber("bytes", 0)));
  return ExecutionResult.error("probe: unknown mode " + mode);
}
