/**
 * Whether a query failed because the database could not be reached or is going away, rather than
 * because of the query: the answer to such a failure is "retry shortly" (Unavailable, HTTP 503),
 * not a server fault. Covers postgres.js's own connection errors and the server's SQLSTATEs for
 * it: class 08 (connection exception) and 57P01–57P03 (admin or crash shutdown, cannot connect
 * now), https://www.postgresql.org/docs/current/errcodes-appendix.html.
 */
const DRIVER_CODES: ReadonlySet<string> = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
]);

const SERVER_CODES: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03"]);

export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  return DRIVER_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code);
}
