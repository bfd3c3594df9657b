/**
 * Forward-only schema migrations: plain SQL files `migrations/NNNN_name.sql`, applied in name order,
 * each in its own transaction together with its row in `schema_migrations` (so a file is either
 * applied and recorded, or neither). Files run on PostgreSQL 15 (the CI server) and PGlite (18).
 *
 * Forward-only means an applied file is never edited: its SHA-256 is recorded, and a changed file,
 * a file missing from this build, or a new file numbered before an applied one stops the run before
 * anything is applied. A fix is a new migration.
 *
 * Concurrent start-ups (several processes on one server) are serialized by a transaction-scoped
 * advisory lock taken at the start of every migration transaction; whoever gets the lock second
 * re-reads `schema_migrations` and skips what the first applied. On PGlite the lock is trivially
 * granted (one connection) and the same code runs.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, ccrError } from "../domain/errors.js";
import type { Db, DbLogger, TransactionSql } from "./db.js";
import { packagePath } from "../package-root.js";

export interface Migration {
  /** The file name, e.g. `0001_workflow_registry.sql`; also its key in `schema_migrations`. */
  readonly name: string;
  readonly sql: string;
  /** SHA-256 (hex) of the file text with line endings normalized to \n. */
  readonly checksum: string;
}

export interface MigrateOptions {
  /** Directory of NNNN_name.sql files (default: the package's `migrations/`). */
  readonly dir?: string;
  readonly logger?: DbLogger;
}

export interface MigrateResult {
  /** Names applied by this run, in order. */
  readonly applied: readonly string[];
  /** How many files were already applied (by an earlier run or a concurrent one). */
  readonly alreadyApplied: number;
}

/** Fixed key of the advisory lock ("ccrmig" in ASCII); any ccr process migrating takes it. */
export const MIGRATION_LOCK_KEY = 0x6363726d6967;

const FILE_NAME = /^\d{4}_[a-z0-9_]+\.sql$/;

/** `<package root>/migrations`, independent of the working directory. */
export function defaultMigrationsDir(): string {
  return packagePath("migrations/");
}

/** Reads and checks the migration files of `dir`, sorted. Other file types are ignored. */
export async function loadMigrations(dir: string = defaultMigrationsDir()): Promise<readonly Migration[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    throw ccrError(`cannot read the migrations directory ${dir}`, Code.FailedPrecondition, error);
  }
  const names = entries.filter((name) => name.endsWith(".sql")).sort();
  const seenNumbers = new Map<string, string>();
  const migrations: Migration[] = [];
  for (const name of names) {
    if (!FILE_NAME.test(name)) {
      throw ccrError(`migration file ${join(dir, name)} must be named NNNN_lowercase_name.sql`, Code.FailedPrecondition);
    }
    const number = name.slice(0, 4);
    const clash = seenNumbers.get(number);
    if (clash !== undefined) {
      throw ccrError(`migrations ${clash} and ${name} share the number ${number}; renumber the newer one`, Code.FailedPrecondition);
    }
    seenNumbers.set(number, name);
    const text = (await readFile(join(dir, name), "utf8")).replace(/\r\n/g, "\n");
    migrations.push(Object.freeze({ name, sql: text, checksum: sha256Hex(text) }));
  }
  return Object.freeze(migrations);
}

/** Applies the pending migrations of `options.dir` (default: the package's) to `db`. */
export async function migrate(db: Db, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await loadMigrations(options.dir);
  const { logger } = options;
  const { sql } = db;

  // Create the ledger and check it against the files under the lock, before applying anything.
  const appliedBefore = await sql.begin(async (tx) => {
    await lock(tx);
    await tx`
      create table if not exists schema_migrations (
        name text primary key,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`;
    return readLedger(tx);
  });
  checkLedger(migrations, appliedBefore);

  const applied: string[] = [];
  let alreadyApplied = 0;
  for (const migration of migrations) {
    if (appliedBefore.has(migration.name)) {
      alreadyApplied += 1;
      continue;
    }
    const outcome = await sql.begin(async (tx) => {
      await lock(tx);
      // A concurrent migrator may have applied it while we waited for the lock.
      const [row] = await tx<{ checksum: string }[]>`select checksum from schema_migrations where name = ${migration.name}`;
      if (row !== undefined) {
        checkChecksum(migration, row.checksum);
        return "already-applied" as const;
      }
      try {
        // No parameters: postgres.js sends it as a simple query, so a file may hold many statements.
        await tx.unsafe(migration.sql);
      } catch (error) {
        throw ccrError(
          `migration ${migration.name} failed and was rolled back: ${error instanceof Error ? error.message : String(error)}; fix it before release, or add a new migration if it was already applied elsewhere`,
          Code.Internal,
          error,
        );
      }
      await tx`insert into schema_migrations (name, checksum) values (${migration.name}, ${migration.checksum})`;
      return "applied" as const;
    });
    if (outcome === "applied") {
      applied.push(migration.name);
      logger?.info({ migration: migration.name }, "migration applied");
    } else {
      alreadyApplied += 1;
    }
  }
  logger?.debug({ applied: applied.length, alreadyApplied }, "migrations up to date");
  return Object.freeze({ applied: Object.freeze(applied), alreadyApplied });
}

async function lock(tx: TransactionSql): Promise<void> {
  await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY}::int8)`;
}

async function readLedger(tx: TransactionSql): Promise<Map<string, string>> {
  const rows = await tx<{ name: string; checksum: string }[]>`select name, checksum from schema_migrations order by name`;
  return new Map(rows.map((row) => [row.name, row.checksum]));
}

function checkLedger(migrations: readonly Migration[], applied: ReadonlyMap<string, string>): void {
  const byName = new Map(migrations.map((migration) => [migration.name, migration]));
  for (const [name, checksum] of applied) {
    const migration = byName.get(name);
    if (migration === undefined) {
      throw ccrError(
        `the database has migration ${name} applied, which this build does not have; run a ccr at least as new as the one that migrated this database`,
        Code.FailedPrecondition,
      );
    }
    checkChecksum(migration, checksum);
  }
  const lastApplied = [...applied.keys()].sort().at(-1);
  if (lastApplied === undefined) return;
  const misplaced = migrations.find((migration) => !applied.has(migration.name) && migration.name < lastApplied);
  if (misplaced !== undefined) {
    throw ccrError(
      `migration ${misplaced.name} is numbered before ${lastApplied}, which is already applied; migrations are forward-only: renumber it after the last applied one`,
      Code.FailedPrecondition,
    );
  }
}

function checkChecksum(migration: Migration, appliedChecksum: string): void {
  if (appliedChecksum !== migration.checksum) {
    throw ccrError(
      `migration ${migration.name} was changed after it was applied (recorded sha256 ${appliedChecksum}, file sha256 ${migration.checksum}); migrations are forward-only: restore the file and put the change in a new migration`,
      Code.FailedPrecondition,
    );
  }
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}
