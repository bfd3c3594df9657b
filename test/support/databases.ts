/**
 * Run one store suite on both backends:
 *
 *   describeEachDatabase("vault store", (getDb, backend) => {
 *     it("stores a secret", async () => { const { sql } = getDb(); … });
 *   });
 *
 * gives each suite (or each test, with `{ scope: "test" }`) its own freshly migrated database:
 * - PGlite: a clone of a migrated template. A cold PGlite runs initdb (2–5 s, ~800 MB); a clone
 *   loads a `dumpDataDir()` tarball instead (~0.5–0.9 s on a busy 2-core box). The template is
 *   built once per migrations version and PGlite version, by one process while the others wait
 *   (a lock file), cached as a file in the OS temp directory for all workers and later runs, and
 *   read once per test file. Nothing is built for test files that never ask for a database.
 * - Postgres server (when DATABASE_URL is set): a throwaway database `ccr_test_<random>` created on
 *   that server, migrated, and dropped afterwards, so files run in parallel without interfering.
 *   In CI (CI=true) a missing DATABASE_URL or an unreachable server fails the suite; outside CI a
 *   missing DATABASE_URL skips the server variant with the reason in its name (the only allowed
 *   skip).
 */
import { randomBytes, createHash } from "node:crypto";
import { open, readdir, readFile, rename, stat, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, afterEach, beforeAll, beforeEach, describe, it } from "vitest";
import { openDatabase, openPgliteDatabase, type Db, type DbBackend } from "../../src/store/db.js";
import { loadMigrations, migrate } from "../../src/store/migrate.js";
import { testEnv } from "./test-env.js";

export interface TestDatabase {
  readonly backend: DbBackend;
  readonly db: Db;
  /** Server only: the URL of this throwaway database, to open more handles to it. */
  readonly url: string | undefined;
  /** Closes the handle and, on a server, drops the database. */
  dispose(): Promise<void>;
}

export interface ServerTestDatabase extends TestDatabase {
  readonly backend: "postgres";
  readonly url: string;
}

export interface TestDatabaseOptions {
  /** Apply the project's migrations (default true). `false` gives an empty database. */
  readonly migrated?: boolean;
}

export interface DescribeDatabaseOptions extends TestDatabaseOptions {
  /** One database for the whole suite (default), or a fresh one for every test. */
  readonly scope?: "suite" | "test";
}

type SuiteBody<T> = (get: () => T, backend: DbBackend) => void;

/** The same suite once on PGlite and once on the Postgres server. */
export function describeEachDatabase(name: string, body: SuiteBody<Db>, options: DescribeDatabaseOptions = {}): void {
  describe(name, () => {
    describePglite("pglite", (get) => body(() => get().db, "pglite"), options);
    describeServer("postgres server", (get) => body(() => get().db, "postgres"), options);
  });
}

/** A suite on PGlite only, with access to the whole TestDatabase. */
export function describePglite(name: string, body: SuiteBody<TestDatabase>, options: DescribeDatabaseOptions = {}): void {
  describe(name, () => body(withDatabase(() => createPgliteTestDatabase(options), options.scope), "pglite"));
}

/**
 * A suite on the Postgres server only (e.g. several connections to one database), with the same
 * CI rule as describeEachDatabase.
 */
export function describeServer(name: string, body: SuiteBody<ServerTestDatabase>, options: DescribeDatabaseOptions = {}): void {
  const availability = serverAvailability();
  switch (availability.kind) {
    case "available":
      describe(name, () =>
        body(withDatabase(() => createServerTestDatabase(availability.url, options), options.scope), "postgres"),
      );
      return;
    case "required":
      describe(name, () => {
        it("needs a Postgres server", () => {
          throw new Error(availability.reason);
        });
      });
      return;
    case "skipped":
      describe.skip(`${name} (skipped: ${availability.reason})`, () => body(notAvailable, "postgres"));
      return;
  }
}

type ServerAvailability =
  | { readonly kind: "available"; readonly url: string }
  | { readonly kind: "required"; readonly reason: string }
  | { readonly kind: "skipped"; readonly reason: string };

/** Whether server suites run, fail (CI without a server) or are skipped (locally without one). */
export function serverAvailability(): ServerAvailability {
  const { databaseUrl, ci } = testEnv();
  if (databaseUrl !== undefined) return { kind: "available", url: databaseUrl };
  if (ci) {
    return {
      kind: "required",
      reason: "CI=true but DATABASE_URL is not set: store suites must also run on a Postgres server in CI (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)",
    };
  }
  return { kind: "skipped", reason: "DATABASE_URL not set; set it to a Postgres server to run this variant" };
}

function notAvailable(): never {
  throw new Error("no database: this suite is skipped");
}

/** Registers the hooks that create and dispose the database; returns its getter. */
function withDatabase<T extends TestDatabase>(create: () => Promise<T>, scope: "suite" | "test" = "suite"): () => T {
  let current: T | undefined;
  const setUp = async (): Promise<void> => {
    current = await create();
  };
  const tearDown = async (): Promise<void> => {
    const done = current;
    current = undefined;
    await done?.dispose();
  };
  if (scope === "suite") {
    beforeAll(setUp);
    afterAll(tearDown);
  } else {
    beforeEach(setUp);
    afterEach(tearDown);
  }
  return () => {
    if (current === undefined) throw new Error("the test database exists only inside tests and hooks of its suite");
    return current;
  };
}

// ---------------------------------------------------------------------------------------------
// PGlite

/** A PGlite database cloned from the cached template (migrated unless `migrated: false`). */
export async function createPgliteTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const template = await pgliteTemplate(options.migrated === false ? "empty" : "migrated");
  const pg = await PGlite.create({ loadDataDir: template });
  const db = openPgliteDatabase(pg);
  return Object.freeze({ backend: "pglite" as const, db, url: undefined, dispose: () => db.close() });
}

type TemplateKind = "empty" | "migrated";
const templates = new Map<TemplateKind, Promise<Blob>>();

/** The template tarball of this worker, from the file cache or built (and cached) now. */
export function pgliteTemplate(kind: TemplateKind): Promise<Blob> {
  let template = templates.get(kind);
  if (template === undefined) {
    template = loadOrBuildTemplate(kind);
    templates.set(kind, template);
    // A failed build must not poison the other suites of this file.
    template.catch(() => templates.delete(kind));
  }
  return template;
}

const TEMPLATE_POLL_MS = 100;
/** A build lock older than this was left by a crashed process (a cold build takes seconds). */
const STALE_LOCK_MS = 120_000;

/**
 * Reads the cached template file, or builds it. One process builds while the others wait for its
 * file (a cold PGlite costs seconds of CPU and ~800 MB, too much to pay twice on a 2-core box).
 */
async function loadOrBuildTemplate(kind: TemplateKind): Promise<Blob> {
  const prefix = `ccr-pglite-${kind}-`;
  const path = join(tmpdir(), `${prefix}${await templateKey(kind)}.tar`);
  const lockPath = `${path}.lock`;
  for (;;) {
    const cached = await readIfExists(path);
    if (cached !== undefined) return new Blob([cached]);
    let lock: FileHandle;
    try {
      lock = await open(lockPath, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const lockAge = await stat(lockPath).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (lockAge > STALE_LOCK_MS) await unlink(lockPath).catch(() => undefined);
      await sleep(TEMPLATE_POLL_MS);
      continue;
    }
    try {
      // Another process may have finished between our read and taking the lock.
      const built = await readIfExists(path);
      if (built !== undefined) return new Blob([built]);
      const tarball = kind === "empty" ? await buildEmptyTemplate() : await buildMigratedTemplate();
      // Written under another name and renamed, so a reader never sees half a file.
      const partial = `${path}.${process.pid}.tmp`;
      await writeFile(partial, new Uint8Array(await tarball.arrayBuffer()));
      await rename(partial, path);
      await removeOutdatedTemplates(prefix, path);
      return tarball;
    } finally {
      await lock.close();
      await unlink(lockPath).catch(() => undefined);
    }
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Templates of earlier migrations or PGlite versions (40 MB each) are of no further use. */
async function removeOutdatedTemplates(prefix: string, current: string): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const path = join(tmpdir(), name);
    if (name.startsWith(prefix) && name.endsWith(".tar") && path !== current) await unlink(path).catch(() => undefined);
  }
}

async function buildEmptyTemplate(): Promise<Blob> {
  const pg = await PGlite.create();
  try {
    return await pg.dumpDataDir("none");
  } finally {
    await pg.close();
  }
}

async function buildMigratedTemplate(): Promise<Blob> {
  const pg = await PGlite.create({ loadDataDir: await pgliteTemplate("empty") });
  const db = openPgliteDatabase(pg);
  try {
    await migrate(db);
    // The bridge is idle once migrate() has returned, so the dump sees a quiet database.
    return await pg.dumpDataDir("none");
  } finally {
    await db.close();
  }
}

/** Changes whenever a migration or the PGlite version changes, so a stale template is never used. */
async function templateKey(kind: TemplateKind): Promise<string> {
  const hash = createHash("sha256");
  const pglitePackage = new URL("../../node_modules/@electric-sql/pglite/package.json", import.meta.url);
  hash.update(JSON.parse(await readFile(pglitePackage, "utf8")).version as string);
  if (kind === "migrated") {
    for (const migration of await loadMigrations()) hash.update(`\n${migration.name}:${migration.checksum}`);
  }
  return hash.digest("hex").slice(0, 16);
}

// ---------------------------------------------------------------------------------------------
// Postgres server

/** A new database `ccr_test_<random>` on the server of `serverUrl`, migrated unless told not to. */
export async function createServerTestDatabase(serverUrl: string, options: TestDatabaseOptions = {}): Promise<ServerTestDatabase> {
  const name = `ccr_test_${randomBytes(8).toString("hex")}`;
  await withAdmin(serverUrl, (admin) => admin.sql.unsafe(`CREATE DATABASE ${name}`));
  const url = databaseUrl(serverUrl, name);
  const drop = (): Promise<unknown> =>
    withAdmin(serverUrl, (admin) => admin.sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  let db: Db;
  try {
    db = await openDatabase({ url, maxConnections: 4 });
  } catch (error) {
    await drop();
    throw error;
  }
  try {
    if (options.migrated !== false) await migrate(db);
  } catch (error) {
    await db.close();
    await drop();
    throw error;
  }
  return Object.freeze({
    backend: "postgres" as const,
    db,
    url,
    dispose: async () => {
      await db.close();
      await drop();
    },
  });
}

async function withAdmin<T>(serverUrl: string, fn: (admin: Db) => Promise<T>): Promise<T> {
  const admin = await openDatabase({ url: serverUrl, maxConnections: 1 });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
