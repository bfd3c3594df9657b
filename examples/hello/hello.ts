// hello: answers one field of its config. Config: {"greeting": "<text>"} (see config.json).
// Subscribes to the manual trigger, plus a cron trigger when the config names a "schedule".
import { ExecuteRequest, ExecutionResult, TriggerSubscription, handleExecute } from "../../sdk/assemblyscript";
export { alloc } from "../../sdk/assemblyscript";

export function execute(ptr: usize, len: i32): u64 {
  return handleExecute(ptr, len, run);
}

function run(req: ExecuteRequest): ExecutionResult {
  const config = req.configJson();
  if (config === null || !config.isObject()) return ExecutionResult.error("hello: the config must be a JSON object");
  if (req.isSubscribe) {
    const subs: TriggerSubscription[] = [TriggerSubscription.manual()];
    const schedule = config.getString("schedule");
    if (schedule.length > 0) subs.push(TriggerSubscription.cron(schedule));
    return ExecutionResult.subscriptions(subs);
  }
  const greeting = config.get("greeting");
  if (greeting === null || !greeting.isString()) return ExecutionResult.error('hello: the config has no string "greeting"');
  return ExecutionResult.string(greeting.asString());
}
