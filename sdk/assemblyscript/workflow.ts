// The execute entry point: decodes the host's execute request, runs the workflow's handler, and
// encodes its ExecutionResult (docs/wasm-abi.md, "Execute").
import { base64Decode, base64Encode } from "./base64";
import { JsonValue, jsonArray, jsonNull, jsonNumber, jsonObject, jsonString, jsonBool, parseJson, jsonError } from "./json";

export const CRON_TRIGGER_ID = "cron-trigger@1.0.0";
export const MANUAL_TRIGGER_ID = "manual-trigger@1.0.0";
export const TRIGGER_METHOD = "Trigger";

function utf8Text(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>bytes.length);
}

/** One call of the workflow: the subscribe phase, or one trigger event. */
export class ExecuteRequest {
  /** The workflow's config artifact, exactly as deployed. */
  config: Uint8Array = new Uint8Array(0);
  /** True in the subscribe phase: answer `ExecutionResult.subscriptions`. */
  isSubscribe: bool = false;
  /** Index (decimal text) of the subscription that fired. */
  triggerId: string = "";
  triggerPayload: Uint8Array = new Uint8Array(0);
  /** The largest result the host accepts, bytes. */
  maxResponseSize: f64 = 0;

  configText(): string {
    return utf8Text(this.config);
  }
  /** The config parsed as JSON; null (see `jsonError()`) if it is not JSON. */
  configJson(): JsonValue | null {
    return parseJson(this.configText());
  }
  triggerPayloadText(): string {
    return utf8Text(this.triggerPayload);
  }
  triggerPayloadJson(): JsonValue | null {
    return parseJson(this.triggerPayloadText());
  }
}

/** A trigger the workflow subscribes to; `payload` is the trigger's JSON config. */
export class TriggerSubscription {
  constructor(
    public id: string,
    public method: string,
    public payload: JsonValue,
  ) {}
  /** `cron-trigger@1.0.0` with a cron schedule (5 fields, or 6 with seconds first; UTC). */
  static cron(schedule: string): TriggerSubscription {
    return new TriggerSubscription(CRON_TRIGGER_ID, TRIGGER_METHOD, jsonObject().set("schedule", jsonString(schedule)));
  }
  /** `manual-trigger@1.0.0`: fired by `ccr workflow trigger`. */
  static manual(): TriggerSubscription {
    return new TriggerSubscription(MANUAL_TRIGGER_ID, TRIGGER_METHOD, jsonObject());
  }
}

/** What the workflow answers: a value, an error, or (subscribe phase) its subscriptions. */
export class ExecutionResult {
  private constructor(private json: JsonValue) {}

  static value(v: JsonValue): ExecutionResult {
    return new ExecutionResult(jsonObject().set("value", v));
  }
  static string(s: string): ExecutionResult {
    return ExecutionResult.value(jsonString(s));
  }
  static number(n: f64): ExecutionResult {
    return ExecutionResult.value(jsonNumber(n));
  }
  static bool(b: bool): ExecutionResult {
    return ExecutionResult.value(jsonBool(b));
  }
  static nothing(): ExecutionResult {
    return ExecutionResult.value(jsonNull());
  }
  /** A workflow error: the execution succeeded, the workflow failed with this message. */
  static error(message: string): ExecutionResult {
    return new ExecutionResult(jsonObject().set("error", jsonString(message)));
  }
  static subscriptions(subs: TriggerSubscription[]): ExecutionResult {
    const arr = jsonArray();
    for (let i = 0; i < subs.length; i++) {
      const payload = Uint8Array.wrap(String.UTF8.encode(subs[i].payload.stringify()));
      arr.push(
        jsonObject()
          .set("id", jsonString(subs[i].id))
          .set("method", jsonString(subs[i].method))
          .set("payload", jsonString(base64Encode(payload))),
      );
    }
    return new ExecutionResult(jsonObject().set("subscriptions", arr));
  }

  toJson(): string {
    return this.json.stringify();
  }
}

/** Keeps the last result's bytes reachable until the host has read them. */
let lastResult: ArrayBuffer = new ArrayBuffer(0);

function decodeRequest(text: string): ExecuteRequest | null {
  const j = parseJson(text);
  if (j === null) return null;
  const req = new ExecuteRequest();
  const config = base64Decode(j.getString("config"));
  if (config === null) return null;
  req.config = config;
  req.maxResponseSize = j.getNumber("maxResponseSize", 0);
  const trigger = j.get("trigger");
  if (trigger !== null) {
    req.triggerId = trigger.getString("id");
    const payload = base64Decode(trigger.getString("payload"));
    if (payload === null) return null;
    req.triggerPayload = payload;
  } else {
    req.isSubscribe = true;
  }
  return req;
}

/**
 * Implements the `execute` export: call it from the workflow's own exported `execute`:
 *
 *   export function execute(ptr: usize, len: i32): u64 { return handleExecute(ptr, len, run); }
 */
export function handleExecute(ptr: usize, len: i32, handler: (request: ExecuteRequest) => ExecutionResult): u64 {
  const text = String.UTF8.decodeUnsafe(ptr, <usize>len);
  heap.free(ptr);
  const req = decodeRequest(text);
  const result = req === null ? ExecutionResult.error("malformed execute request: " + jsonError()) : handler(req);
  lastResult = String.UTF8.encode(result.toJson());
  return (<u64>changetype<usize>(lastResult) << 32) | <u64>lastResult.byteLength;
}
