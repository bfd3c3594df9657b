/**
 * The value mapping repositories rely on (documented in src/store/db.ts) is the same on PGlite and
 * on a Postgres server, and transactions behave the same.
 */
import { expect, it } from "vitest";
import { describeEachDatabase } from "../../support/databases.js";

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describeEachDatabase("database values and transactions", (getDb) => {
  it("round-trips bytea as Buffer, including empty and every byte value", async () => {
    const { sql } = getDb();
    await sql`create table t_bytes (id int primary key, b bytea)`;
    await sql`insert into t_bytes ${sql([
      { id: 1, b: ALL_BYTES },
      { id: 2, b: new Uint8Array(0) },
      { id: 3, b: new Uint8Array([0, 0xff, 0x5c, 0x78]) },
    ])}`;
    const rows = await sql<{ id: number; b: Buffer }[]>`select id, b from t_bytes order by id`;
    expect(rows.map((row) => row.b)).toEqual([ALL_BYTES, Buffer.alloc(0), Buffer.from([0, 0xff, 0x5c, 0x78])]);
    for (const row of rows) expect(Buffer.isBuffer(row.b)).toBe(true);
  });

  it("reads the attributes default as an empty Buffer, not null", async () => {
    const { sql } = getDb();
    await sql`
      insert into workflow_specs_v2 (workflow, workflow_id, workflow_owner, workflow_name, workflow_tag, created_at, updated_at)
      values ('00', ${"ab".repeat(32)}, ${"cd".repeat(20)}, 'w', 'v1', now(), now())`;
    const [row] = await sql`select attributes, config, status, spec_type from workflow_specs_v2`;
    expect(row).toEqual({ attributes: Buffer.alloc(0), config: "", status: "", spec_type: "yaml" });
  });

  it("reads int8 as a number and accepts number and bigint parameters", async () => {
    const { sql } = getDb();
    const [row] = await sql`
      select ${0}::int8 as zero, ${-1}::int8 as minus_one,
             ${Number.MAX_SAFE_INTEGER}::int8 as max_safe, ${BigInt(Number.MIN_SAFE_INTEGER)}::int8 as min_safe,
             (select count(*) from workflow_registry) as count,
             42::int4 as int4`;
    expect(row).toEqual({ zero: 0, minus_one: -1, max_safe: Number.MAX_SAFE_INTEGER, min_safe: Number.MIN_SAFE_INTEGER, count: 0, int4: 42 });
  });

  it("refuses an int8 beyond the safe integer range instead of rounding it, and stays usable", async () => {
    const { sql } = getDb();
    await expect(sql`select 9007199254740993::int8 as big`).rejects.toThrow(
      "int8 value 9007199254740993 is outside JavaScript's safe integer range; read it as ::text or ::numeric",
    );
    const [row] = await sql`select 9007199254740993::int8::text as big`;
    expect(row?.["big"]).toBe("9007199254740993");
  });

  it("round-trips timestamptz as a Date with millisecond precision, rendered in UTC", async () => {
    const { sql } = getDb();
    const at = new Date(Date.UTC(2023, 10, 14, 22, 13, 20, 123));
    const [row] = await sql`select ${at}::timestamptz as at, ${at}::timestamptz::text as text, now() as now`;
    expect(row?.["at"]).toEqual(at);
    expect(row?.["text"]).toBe("2023-11-14 22:13:20.123+00");
    expect(row?.["now"]).toBeInstanceOf(Date);
  });

  it("reads SQL NULL as null", async () => {
    const { sql } = getDb();
    const [row] = await sql`select null::bytea as b, null::int8 as n, null::timestamptz as t, null::text as s`;
    expect(row).toEqual({ b: null, n: null, t: null, s: null });
  });

  it("leaves nothing behind when a transaction's callback throws", async () => {
    const { sql } = getDb();
    await sql`create table t_rollback (id int primary key)`;
    await expect(
      sql.begin(async (tx) => {
        await tx`insert into t_rollback values (1)`;
        await tx`insert into t_rollback values (2)`;
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await sql`select id from t_rollback`).toHaveLength(0);
  });

  it("leaves nothing behind when a statement inside a transaction fails, and the next transaction commits", async () => {
    const { sql } = getDb();
    await sql`create table t_rollback2 (id int primary key)`;
    await expect(
      sql.begin(async (tx) => {
        await tx`insert into t_rollback2 values (1)`;
        await tx`insert into t_rollback2 values (1)`;
      }),
    ).rejects.toMatchObject({ code: "23505" });
    expect(await sql`select id from t_rollback2`).toHaveLength(0);

    await sql.begin(async (tx) => {
      await tx`insert into t_rollback2 values (2)`;
    });
    expect(await sql`select id from t_rollback2`).toEqual([{ id: 2 }]);
  });

  it("rolls back to a savepoint without losing the rest of the transaction", async () => {
    const { sql } = getDb();
    await sql`create table t_savepoint (id int primary key)`;
    await sql.begin(async (tx) => {
      await tx`insert into t_savepoint values (1)`;
      await tx
        .savepoint(async (sp) => {
          await sp`insert into t_savepoint values (2)`;
          throw new Error("undo 2");
        })
        .catch(() => undefined);
    });
    expect(await sql`select id from t_savepoint`).toEqual([{ id: 1 }]);
  });

  it("answers concurrent queries and reports SQL errors with their code", async () => {
    const { sql } = getDb();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sql`select ${i}::int as i`));
    expect(results.map((rows) => rows[0]?.["i"])).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await expect(sql`select * from no_such_table`).rejects.toMatchObject({
      code: "42P01",
      message: 'relation "no_such_table" does not exist',
    });
    expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
  });
});
