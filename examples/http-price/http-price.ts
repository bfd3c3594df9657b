// http-price: GETs a URL from its config with the http-fetch capability and answers one number
// from the JSON body. Config: {"url": "<http(s) URL>", "field": "<key or dotted path>"}, e.g.
// {"url": "https://prices.example/eth", "field": "data.price"}. The field may hold a JSON number
// or a numeric string ("3120.55"); anything else, or a non-2xx status, is a workflow error.
import { ExecuteRequest, ExecutionResult, HttpRequest, TriggerSubscription, handleExecute, httpFetch, log } from "../../sdk/assemblyscript";
export { alloc } from "../../sdk/assemblyscript";

export function execute(ptr: usize, len: i32): u64 {
  return handleExecute(ptr, len, run);
}

function isNumeric(s: string): bool {
  // A JSON-number-like string: optional sign, digits, optional fraction, optional exponent.
  let i = 0;
  const n = s.length;
  if (i < n && (s.charCodeAt(i) == 0x2d || s.charCodeAt(i) == 0x2b)) i++;
  let digits = 0;
  while (i < n && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
    i++;
    digits++;
  }
  if (i < n && s.charCodeAt(i) == 0x2e) {
    i++;
    while (i < n && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
      i++;
      digits++;
    }
  }
  if (digits == 0) return false;
  if (i < n && (s.charCodeAt(i) == 0x65 || s.charCodeAt(i) == 0x45)) {
    i++;
    if (i < n && (s.charCodeAt(i) == 0x2d || s.charCodeAt(i) == 0x2b)) i++;
    let exp = 0;
    while (i < n && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
      i++;
      exp++;
    }
    if (exp == 0) return false;
  }
  return i == n;
}

function run(req: ExecuteRequest): ExecutionResult {
  const config = req.configJson();
  if (config === null || !config.isObject()) return ExecutionResult.error("http-price: the config must be a JSON object");
  if (req.isSubscribe) {
    const subs: TriggerSubscription[] = [TriggerSubscription.manual()];
    const schedule = config.getString("schedule");
    if (schedule.length > 0) subs.push(TriggerSubscription.cron(schedule));
    return ExecutionResult.subscriptions(subs);
  }
  const url = config.getString("url");
  const field = config.getString("field", "price");
  if (url.length == 0) return ExecutionResult.error('http-price: the config has no string "url"');

  const res = httpFetch(HttpRequest.get(url).header("accept", "application/json"));
  if (!res.ok) return ExecutionResult.error("http-price: " + res.error);
  if (res.status < 200 || res.status > 299) return ExecutionResult.error("http-price: " + url + " answered HTTP " + res.status.toString());
  const body = res.json();
  if (body === null) return ExecutionResult.error("http-price: the response body is not JSON");
  const v = body.path(field);
  if (v === null) return ExecutionResult.error('http-price: the response has no field "' + field + '"');
  let price: f64 = NaN;
  if (v.isNumber()) price = v.asNumber();
  else if (v.isString() && isNumeric(v.asString())) price = parseFloat(v.asString());
  if (!isFinite(price)) return ExecutionResult.error('http-price: field "' + field + '" is not a number');
  log("http-price: " + field + " = " + price.toString());
  return ExecutionResult.number(price);
}
