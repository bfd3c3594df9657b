/**
 * ccr has one error type: ConnectError, with Connect's closed set of codes. Messages say what the
 * caller should fix; the underlying failure goes in `cause`, which is logged but never sent.
 *
 * Expected outcomes (quorum pending, attestation rejected, …) are tagged unions in the domain and are
 * turned into a ConnectError only at the service edge.
 */
export { Code, ConnectError } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";

/** Builds the error with `cause` kept for logs. */
export function ccrError(message: string, code: Code, cause?: unknown): ConnectError {
  return new ConnectError(message, code, undefined, undefined, cause);
}
