/**
 * The http-fetch host allowlist. Entries:
 *   "api.example.com"        that host, any port
 *   "api.example.com:8443"   that host, that port only
 *   "*.example.com"          any subdomain of example.com (not example.com itself), any port
 *   "127.0.0.1", "[::1]:80"  IP literals, IPv6 in brackets
 * Host names compare case-insensitively. Matching is by the URL's host name as written: the
 * allowlist names who may be called, it does not pin addresses (DNS is trusted as configured).
 */
import { Code, ccrError } from "../../domain/errors.js";

export interface HostRule {
  /** Lowercase host, without the "*." of a wildcard. */
  readonly host: string;
  readonly wildcard: boolean;
  /** Undefined: any port. */
  readonly port: number | undefined;
}

const ENTRY = /^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:(\d{1,5}))?$/;

export function parseHostRule(entry: string, path: string): HostRule {
  const match = ENTRY.exec(entry.trim().toLowerCase());
  const port = match?.[5] === undefined ? undefined : Number(match[5]);
  if (match === null || (port !== undefined && (port < 1 || port > 65535)) || (match[1] !== undefined && match[2]!.startsWith("["))) {
    throw ccrError(`${path} "${entry}" must be a host name, "*.domain", or an IP literal, optionally with ":port"`, Code.InvalidArgument);
  }
  return Object.freeze({ host: match[2]!, wildcard: match[1] !== undefined, port });
}

/** True when `url`'s host and port match a rule. */
export function hostAllowed(rules: readonly HostRule[], url: URL): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  return rules.some(
    (rule) => (rule.port === undefined || rule.port === port) && (rule.wildcard ? host.endsWith(`.${rule.host}`) : host === rule.host),
  );
}
