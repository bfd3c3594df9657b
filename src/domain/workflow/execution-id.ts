/**
 * Execution ids: 64 lowercase hex digits, upstream `GenerateExecutionID(workflowID, triggerEventID)`
 * = hex(sha256(workflowID ‖ triggerEventID)). Deriving the id from the trigger event (instead of
 * drawing it at random) makes "this event already ran" a primary-key conflict in
 * `workflow_executions`: after a restart, a trigger event that fires again maps to the same id and
 * is not executed twice. The workflow id is fixed-length hex, so the concatenation is unambiguous.
 */
import { createHash } from "node:crypto";

export function deriveExecutionId(workflowId: string, triggerEventId: string): string {
  return createHash("sha256").update(workflowId, "utf8").update(triggerEventId, "utf8").digest("hex");
}

const EXECUTION_ID = /^[0-9a-f]{64}$/;

export function isExecutionId(value: string): boolean {
  return EXECUTION_ID.test(value);
}
