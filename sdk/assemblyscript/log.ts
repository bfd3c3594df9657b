// Guest logging. Lines reach the host's logger with the workflow and execution ids; the runtime
// cuts long lines and rate-limits, so a chatty guest loses lines, never the host.
import { LogLevel, rawLog } from "./host";

export function log(message: string): void {
  rawLog(LogLevel.Info, message);
}
export function logDebug(message: string): void {
  rawLog(LogLevel.Debug, message);
}
export function logWarn(message: string): void {
  rawLog(LogLevel.Warn, message);
}
export function logError(message: string): void {
  rawLog(LogLevel.Error, message);
}
