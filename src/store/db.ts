/**
 * The database handle: one postgres.js `Sql` whatever the backend, so repositories and migrations
 * are written once and run unchanged on
 * - PGlite (PostgreSQL 18 in WASM, in-process; the zero-setup default): in memory, or persisted in a
 *   data directory; reached through an in-process socket (./pglite-socket.ts);
 * - a PostgreSQL server (15 or newer) given by a `postgres://` URL.
 *
 * Because both backends speak the wire protocol to the same postgres.js, values are parsed the same
 * way on both (../shared/reference/node-recipes.md §5.1 lists the differences PGlite's own API would
 * have had). The mapping repositories can rely on:
 * - int8 (bigint, count(*), sum of int4) → JS `number`. A value beyond ±(2^53 − 1) is never rounded:
 *   the query fails with a RangeError. Parameters may be `number` or `bigint`.
 * - bytea → `Buffer` (a Uint8Array); parameters may be any Uint8Array.
 * - timestamptz → `Date` (millisecond precision; microseconds are truncated).
 * - json/jsonb → parsed values (write them with `sql.json(value)`); numeric → string.
 * - the session time zone is UTC on both, so `::text` renderings agree as well.
 *
 * PGlite has one connection: inside `sql.begin(tx => …)` use `tx`, never `sql`, or the query waits
 * for the connection the transaction holds (on a server it would silently run outside the
 * transaction instead).
 */
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { Code, ccrError } from "../domain/errors.js";
import { pgliteSocket, type PgliteSocket } from "./pglite-socket.js";

/**
 * int8 read as a JS number, refusing (not rounding) values a double cannot hold exactly; written
 * from a number or a bigint (hence the type).
 */
const int8AsNumber: postgres.PostgresType<number | bigint> = {
  to: 20,
  from: [20],
  serialize: (value: number | bigint): string => String(value),
  parse: (text: string): number => {
    const value = Number(text);
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`int8 value ${text} is outside JavaScript's safe integer range; read it as ::text or ::numeric`);
    }
    return value;
  },
};

const types = { int8: int8AsNumber };

/** The postgres.js query function every repository uses. */
export type Sql = postgres.Sql<{ int8: number | bigint }>;
/** The `tx` inside `sql.begin(tx => …)`. */
export type TransactionSql = postgres.TransactionSql<{ int8: number | bigint }>;

export type DbBackend = "pglite" | "postgres";

export interface Db {
  readonly sql: Sql;
  readonly backend: DbBackend;
  /** Ends the connections (waiting up to 5 s for running queries) and, for PGlite, the database. */
  close(): Promise<void>;
}

/** The slice of a pino logger the store uses (pino's `Logger` satisfies it). */
export interface DbLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export interface OpenDatabaseOptions {
  /** A `postgres://` or `postgresql://` URL of a server. Absent: PGlite. */
  readonly url?: string;
  /** PGlite only: the data directory to keep the database in. Absent: in memory, lost on close. */
  readonly dataDir?: string;
  /** Server only: the connection pool size (default 10). PGlite always has exactly one. */
  readonly maxConnections?: number;
  readonly logger?: DbLogger;
}

const SERVER_URL = /^postgres(ql)?:\/\//;
const CLOSE_TIMEOUT_S = 5;
const DEFAULT_MAX_CONNECTIONS = 10;

/** Opens the database the options name and checks that it answers. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Db> {
  const { url, dataDir, maxConnections, logger } = options;
  if (url !== undefined) {
    if (!SERVER_URL.test(url)) {
      throw ccrError(
        `database url must start with postgres:// or postgresql:// (got "${redactUrl(url)}"); leave it unset to use the embedded PGlite`,
        Code.InvalidArgument,
      );
    }
    if (dataDir !== undefined) {
      throw ccrError("set either a database url (a Postgres server) or a PGlite dataDir, not both", Code.InvalidArgument);
    }
    return openServer(url, maxConnections ?? DEFAULT_MAX_CONNECTIONS, logger);
  }
  if (maxConnections !== undefined) {
    throw ccrError("maxConnections applies to a Postgres server only; PGlite has exactly one connection", Code.InvalidArgument);
  }
  let pg: PGlite;
  try {
    pg = await PGlite.create(dataDir === undefined ? {} : { dataDir });
  } catch (error) {
    throw ccrError(
      `cannot open the embedded PGlite database${dataDir === undefined ? "" : ` in ${dataDir}`}: ${messageOf(error)}; check that the directory is writable and not used by another ccr process`,
      Code.Unavailable,
      error,
    );
  }
  const db = openPgliteDatabase(pg, logger);
  await ping(db, dataDir === undefined ? "PGlite (in memory)" : `PGlite in ${dataDir}`);
  logger?.info({ backend: "pglite", dataDir: dataDir ?? "memory" }, "database opened");
  return db;
}

/**
 * Wraps an already created PGlite (e.g. one loaded from a `dumpDataDir()` tarball) in a Db that owns
 * it: closing the Db closes the PGlite.
 */
export function openPgliteDatabase(pg: PGlite, logger?: DbLogger): Db {
  // postgres.js supports a custom `socket` (README "Custom socket"); its typings omit the option.
  const options: postgres.Options<typeof types> & { socket: () => PgliteSocket } = {
    socket: () => pgliteSocket(pg),
    max: 1,
    // PGlite ignores these, but naming them keeps postgres.js from reading PG* variables.
    user: "postgres",
    database: "postgres",
    // The one connection must live as long as the database: never idle out or recycle it.
    idle_timeout: 0,
    max_lifetime: null,
    types,
    onnotice: noticeHandler(logger),
  };
  const sql: Sql = postgres(options);
  return handle(sql, "pglite", async () => {
    await sql.end({ timeout: CLOSE_TIMEOUT_S });
    await pg.close();
  });
}

async function openServer(url: string, max: number, logger: DbLogger | undefined): Promise<Db> {
  if (!Number.isInteger(max) || max < 1) {
    throw ccrError(`maxConnections must be a positive integer (got ${max})`, Code.InvalidArgument);
  }
  const target = serverTarget(url);
  const sql: Sql = postgres(target.url, {
    ...(target.socketDir === undefined ? {} : { host: target.socketDir }),
    max,
    types,
    onnotice: noticeHandler(logger),
    // UTC like PGlite, so both render timestamps the same.
    connection: { application_name: "ccr", TimeZone: "UTC" },
  });
  const db = handle(sql, "postgres", () => sql.end({ timeout: CLOSE_TIMEOUT_S }));
  await ping(db, `Postgres at ${redactUrl(url)}`);
  logger?.info({ backend: "postgres", url: redactUrl(url) }, "database opened");
  return db;
}

/**
 * libpq spells a unix socket as a host that is a directory: `postgres://user@%2Fvar%2Frun%2Fpostgresql/db`
 * or `postgres://user@localhost/db?host=/var/run/postgresql`. postgres.js understands neither in a
 * URL (it would resolve "%2Fvar…" by DNS, or send `host` to the server as a setting), so the
 * directory is taken out of the URL and passed as its `host` option.
 */
export function serverTarget(url: string): { readonly url: string; readonly socketDir: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw ccrError(`database url "${redactUrl(url)}" is not a valid URL`, Code.InvalidArgument, error);
  }
  const hostParam = parsed.searchParams.get("host");
  if (hostParam !== null) {
    if (!hostParam.startsWith("/")) return { url, socketDir: undefined };
    parsed.searchParams.delete("host");
    return { url: parsed.toString(), socketDir: hostParam };
  }
  const hostname = decodeURIComponent(parsed.hostname);
  if (!hostname.startsWith("/")) return { url, socketDir: undefined };
  parsed.hostname = "localhost";
  return { url: parsed.toString(), socketDir: hostname };
}

function handle(sql: Sql, backend: DbBackend, end: () => Promise<void>): Db {
  let closing: Promise<void> | undefined;
  return Object.freeze({
    sql,
    backend,
    close: () => (closing ??= end()),
  });
}

async function ping(db: Db, what: string): Promise<void> {
  try {
    await db.sql`select 1`;
  } catch (error) {
    await db.close().catch(() => undefined);
    throw ccrError(`cannot reach ${what}: ${messageOf(error)}`, Code.Unavailable, error);
  }
}

/**
 * postgres.js prints notices with console.log by default, which would spam every start-up (e.g.
 * "relation already exists, skipping"); they go to the debug log instead, or nowhere.
 */
function noticeHandler(logger: DbLogger | undefined): (notice: postgres.Notice) => void {
  return (notice) => logger?.debug({ severity: notice["severity"], code: notice["code"] }, `postgres notice: ${String(notice["message"])}`);
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    // Not a URL: show it only if it cannot hold credentials.
    return url.includes("@") ? "(unparseable url)" : url;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
