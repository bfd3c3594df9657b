import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Code, ConnectError } from "../../../src/domain/errors.js";
import { openDatabase } from "../../../src/store/db.js";
import { defaultMigrationsDir, loadMigrations, migrate } from "../../../src/store/migrate.js";
import { describeEachDatabase, describeServer } from "../../support/databases.js";

const PROJECT_TABLES = [
  "schema_migrations",
  "vault_secrets",
  "vault_write_nonces",
  "workflow_executions",
  "workflow_registry",
  "workflow_specs_v2",
];

/** A scratch migrations directory per test. */
function useScratchDir(): () => string {
  let dir: string | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ccr-migrations-"));
  });
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (dir === undefined) throw new Error("scratch dir is created per test");
    return dir;
  };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

describe("migration files", () => {
  it("are found relative to the package, whatever the working directory", async () => {
    const previous = process.cwd();
    process.chdir(tmpdir());
    try {
      const names = (await loadMigrations()).map((migration) => migration.name);
      // Other areas add their own migrations after these; the list is sorted.
      expect(names.slice(0, 5)).toEqual([
        "0001_workflow_registry.sql",
        "0002_workflow_specs_v2.sql",
        "0003_add_workflow_attributes_column.sql",
        "0004_workflow_executions.sql",
        "0005_vault_secrets.sql",
      ]);
      expect(names).toEqual([...names].sort());
    } finally {
      process.chdir(previous);
    }
    expect(defaultMigrationsDir()).toBe(fileURLToPath(new URL("../../../migrations/", import.meta.url)));
  });

  const scratch = useScratchDir();

  it("refuses a file not named NNNN_name.sql", async () => {
    await writeFile(join(scratch(), "1_init.sql"), "select 1;");
    const error = await rejection(loadMigrations(scratch()));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain("must be named NNNN_lowercase_name.sql");
  });

  it("refuses two files with the same number", async () => {
    await writeFile(join(scratch(), "0001_a.sql"), "select 1;");
    await writeFile(join(scratch(), "0001_b.sql"), "select 1;");
    const error = await rejection(loadMigrations(scratch()));
    expect(error.rawMessage).toBe("migrations 0001_a.sql and 0001_b.sql share the number 0001; renumber the newer one");
  });

  it("checksums ignore CRLF line endings", async () => {
    await writeFile(join(scratch(), "0001_a.sql"), "select 1;\nselect 2;\n");
    const [unix] = await loadMigrations(scratch());
    await writeFile(join(scratch(), "0001_a.sql"), "select 1;\r\nselect 2;\r\n");
    const [windows] = await loadMigrations(scratch());
    expect(windows?.checksum).toBe(unix?.checksum);
  });
});

describeEachDatabase(
  "migrate",
  (getDb) => {
    const scratch = useScratchDir();

    it("applies every migration in order and records its name and checksum", async () => {
      const result = await migrate(getDb());
      const files = await loadMigrations();
      expect(result).toEqual({ applied: files.map((file) => file.name), alreadyApplied: 0 });

      const ledger = await getDb().sql`select name, checksum from schema_migrations order by name`;
      expect(ledger.map((row) => ({ name: row["name"], checksum: row["checksum"] }))).toEqual(
        files.map((file) => ({ name: file.name, checksum: file.checksum })),
      );
      const tables = await getDb().sql`
        select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
      expect(tables.map((row) => row["table_name"])).toEqual(expect.arrayContaining(PROJECT_TABLES));
    });

    it("does nothing when run again", async () => {
      await migrate(getDb());
      const before = await getDb().sql`select name, applied_at from schema_migrations order by name`;
      const again = await migrate(getDb());
      expect(again).toEqual({ applied: [], alreadyApplied: before.length });
      expect(await getDb().sql`select name, applied_at from schema_migrations order by name`).toEqual(before);
    });

    it("applies only the files added since the last run", async () => {
      await writeFile(join(scratch(), "0001_a.sql"), "create table a (x int);");
      await migrate(getDb(), { dir: scratch() });
      await writeFile(join(scratch(), "0002_b.sql"), "create table b (x int);");
      expect(await migrate(getDb(), { dir: scratch() })).toEqual({ applied: ["0002_b.sql"], alreadyApplied: 1 });
    });

    it("refuses to run when an applied file was changed, and applies nothing", async () => {
      await writeFile(join(scratch(), "0001_a.sql"), "create table a (x int);");
      await migrate(getDb(), { dir: scratch() });
      await writeFile(join(scratch(), "0001_a.sql"), "create table a (x bigint);");
      await writeFile(join(scratch(), "0002_b.sql"), "create table b (x int);");

      const error = await rejection(migrate(getDb(), { dir: scratch() }));
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toMatch(
        /^migration 0001_a\.sql was changed after it was applied \(recorded sha256 [0-9a-f]{64}, file sha256 [0-9a-f]{64}\); migrations are forward-only/,
      );
      const tables = await getDb().sql`select 1 from information_schema.tables where table_name = 'b'`;
      expect(tables).toHaveLength(0);
    });

    it("refuses a database migrated by a newer build", async () => {
      await writeFile(join(scratch(), "0001_a.sql"), "create table a (x int);");
      await writeFile(join(scratch(), "0002_b.sql"), "create table b (x int);");
      await migrate(getDb(), { dir: scratch() });
      await rm(join(scratch(), "0002_b.sql"));

      const error = await rejection(migrate(getDb(), { dir: scratch() }));
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toContain("the database has migration 0002_b.sql applied, which this build does not have");
    });

    it("refuses a new file numbered before an applied one", async () => {
      await writeFile(join(scratch(), "0002_b.sql"), "create table b (x int);");
      await migrate(getDb(), { dir: scratch() });
      await writeFile(join(scratch(), "0001_a.sql"), "create table a (x int);");

      const error = await rejection(migrate(getDb(), { dir: scratch() }));
      expect(error.rawMessage).toContain("migration 0001_a.sql is numbered before 0002_b.sql, which is already applied");
    });

    it("rolls a failing migration back entirely and does not record it", async () => {
      await writeFile(join(scratch(), "0001_a.sql"), "create table a (x int);");
      await writeFile(join(scratch(), "0002_b.sql"), "create table b (x int);\ninsert into b values (1);\nselect no_such_function();");

      const error = await rejection(migrate(getDb(), { dir: scratch() }));
      expect(error.code).toBe(Code.Internal);
      expect(error.rawMessage).toMatch(/^migration 0002_b\.sql failed and was rolled back: function no_such_function\(\) does not exist/);
      const ledger = await getDb().sql`select name from schema_migrations`;
      expect(ledger.map((row) => row["name"])).toEqual(["0001_a.sql"]);
      expect(await getDb().sql`select 1 from information_schema.tables where table_name = 'b'`).toHaveLength(0);

      // Never applied anywhere, so it may still be fixed in place.
      await writeFile(join(scratch(), "0002_b.sql"), "create table b (x int);\ninsert into b values (1);");
      expect(await migrate(getDb(), { dir: scratch() })).toEqual({ applied: ["0002_b.sql"], alreadyApplied: 1 });
    });

    it("lets concurrent runs on one handle apply each file once", async () => {
      const results = await Promise.all([migrate(getDb()), migrate(getDb()), migrate(getDb())]);
      const files = (await loadMigrations()).map((file) => file.name);
      expect(results.flatMap((result) => result.applied).sort()).toEqual(files);
      for (const result of results) expect(result.applied.length + result.alreadyApplied).toBe(files.length);
    });
  },
  { migrated: false, scope: "test" },
);

describeServer(
  "migrate with concurrent start-ups",
  (getTestDatabase) => {
    it("lets several processes migrate one database at once: all succeed, each file applied once", async () => {
      const { url } = getTestDatabase();
      const handles = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ url, maxConnections: 2 })));
      try {
        const results = await Promise.all(handles.map((db) => migrate(db)));
        const files = (await loadMigrations()).map((file) => file.name);
        expect(results.flatMap((result) => result.applied).sort()).toEqual(files);
        for (const result of results) expect(result.applied.length + result.alreadyApplied).toBe(files.length);
        const [count] = await getTestDatabase().db.sql`select count(*) as n from schema_migrations`;
        expect(count?.["n"]).toBe(files.length);
      } finally {
        await Promise.all(handles.map((db) => db.close()));
      }
    });

    it("runs a data migration once even when every migrator races for it", async () => {
      const dir = await mkdtemp(join(tmpdir(), "ccr-migrations-"));
      try {
        await writeFile(join(dir, "0001_counter.sql"), "create table counter (n int not null);");
        await writeFile(join(dir, "0002_count.sql"), "insert into counter values (1);");
        const { url } = getTestDatabase();
        const handles = await Promise.all([1, 2, 3, 4].map(() => openDatabase({ url, maxConnections: 1 })));
        try {
          await Promise.all(handles.map((db) => migrate(db, { dir })));
        } finally {
          await Promise.all(handles.map((db) => db.close()));
        }
        const [row] = await getTestDatabase().db.sql`select count(*) as n from counter`;
        expect(row?.["n"]).toBe(1);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
  { migrated: false, scope: "test" },
);
