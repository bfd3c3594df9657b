/**
 * The `server` section every ccr process reads: where it listens and the runtime's limits. The key
 * names match `createServer`'s options (src/transport/server-options.ts).
 */
import { defineSection, integer, oneOf, string, type SectionValues } from "./keys.js";

export const logLevelValues = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A host name, IPv4 or IPv6 address (no scheme, no port). */
const hostPattern = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]+)$/;

export const serverSection = defineSection({
  host: string({
    default: "127.0.0.1",
    pattern: hostPattern,
    patternDescription: "a host name or IP address to bind, without scheme or port",
    description: "Interface to listen on; 0.0.0.0 or :: for all.",
  }),
  port: integer({ min: 0, max: 65535, default: 0, description: "TCP port; 0 picks a free one." }),
  readMaxBytes: integer({
    min: 1024,
    max: 256 * 1024 * 1024,
    default: 4 * 1024 * 1024,
    unit: "bytes",
    description: "Largest accepted request message or HTTP body; larger ones are refused ResourceExhausted.",
  }),
  shutdownGraceMs: integer({
    min: 0,
    max: 600_000,
    default: 10_000,
    unit: "ms",
    description: "On shutdown, how long in-flight calls may finish before they are aborted Unavailable.",
  }),
  idleTimeoutMs: integer({
    min: 100,
    max: 3_600_000,
    default: 10_000,
    unit: "ms",
    description: "A connection that sends nothing for this long after connecting is closed.",
  }),
  logLevel: oneOf(logLevelValues, { default: "info", description: "Minimum level of the JSON logs on stderr." }),
});

export type ServerConfig = SectionValues<typeof serverSection>;
