/**
 * The constraints the migrations promise (see the comments in migrations/*.sql) hold on both
 * backends, so a repository can rely on the database to refuse what it documents as refused.
 */
import { expect, it } from "vitest";
import type { Sql } from "../../../src/store/db.js";
import { describeEachDatabase } from "../../support/databases.js";

const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const WORKFLOW_ID = `00${"1f".repeat(31)}`;

function registryRow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    workflow_id: WORKFLOW_ID,
    owner: OWNER,
    name: "price-feed",
    tag: "v1",
    status: "active",
    binary_url: "http://127.0.0.1:1/binary.wasm",
    created_at: new Date(0),
    updated_at: new Date(0),
    ...overrides,
  };
}

async function insertRegistry(sql: Sql, row: Record<string, unknown>): Promise<void> {
  await sql`insert into workflow_registry ${sql(row)}`;
}

function execution(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "e".repeat(64),
    workflow_id: WORKFLOW_ID,
    trigger_id: "cron-trigger@1.0.0#0",
    trigger_kind: "cron",
    status: "started",
    started_at: new Date(1000),
    ...overrides,
  };
}

describeEachDatabase("schema constraints", (getDb) => {
  it("workflow_registry: stores a row with defaults for the optional fields", async () => {
    const { sql } = getDb();
    await insertRegistry(sql, registryRow());
    const [row] = await sql`select don_family, config_url, secrets_url, binary_hash, attributes from workflow_registry`;
    expect(row).toEqual({ don_family: "", config_url: "", secrets_url: "", binary_hash: null, attributes: Buffer.alloc(0) });
    await sql`delete from workflow_registry`;
  });

  it("workflow_registry: refuses a malformed id, owner, status or oversized attributes", async () => {
    const { sql } = getDb();
    const bad = [
      { workflow_id: "0x" + "1f".repeat(32) },
      { workflow_id: "1F".repeat(32) },
      { owner: "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed" },
      { status: "deleted" },
      { attributes: Buffer.alloc(1025) },
      { binary_hash: Buffer.alloc(31) },
      { name: "" },
    ];
    for (const override of bad) {
      await expect(insertRegistry(sql, registryRow(override)), JSON.stringify(Object.keys(override))).rejects.toMatchObject({
        code: "23514",
      });
    }
    await insertRegistry(sql, registryRow({ attributes: Buffer.alloc(1024), binary_hash: Buffer.alloc(32) }));
    await sql`delete from workflow_registry`;
  });

  it("workflow_registry: one record per (owner, name, tag)", async () => {
    const { sql } = getDb();
    await insertRegistry(sql, registryRow());
    await expect(insertRegistry(sql, registryRow({ workflow_id: "00" + "2e".repeat(31) }))).rejects.toMatchObject({
      code: "23505",
      constraint_name: "workflow_registry_owner_name_tag_key",
    });
    await insertRegistry(sql, registryRow({ workflow_id: "00" + "2e".repeat(31), tag: "v2", status: "paused" }));
    const rows = await sql`select tag from workflow_registry where owner = ${OWNER} and name = 'price-feed' order by tag`;
    expect(rows.map((row) => row["tag"])).toEqual(["v1", "v2"]);
    await sql`delete from workflow_registry`;
  });

  it("workflow_specs_v2: upserts on workflow_id with attributes, as the upstream ORM does", async () => {
    const { sql } = getDb();
    const spec = {
      workflow: "0061736d",
      config: "",
      workflow_id: WORKFLOW_ID,
      workflow_owner: "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
      workflow_name: "price-feed",
      workflow_tag: "v1",
      status: "active",
      binary_url: "http://127.0.0.1:1/binary.wasm",
      config_url: "",
      created_at: new Date(0),
      updated_at: new Date(0),
      spec_type: "wasm_file",
      attributes: Buffer.from('{"confidential":true}'),
    };
    const upsert = (row: typeof spec) => sql`
      insert into workflow_specs_v2 ${sql(row)}
      on conflict (workflow_id) do update set
        workflow = excluded.workflow, config = excluded.config, workflow_owner = excluded.workflow_owner,
        workflow_name = excluded.workflow_name, workflow_tag = excluded.workflow_tag, status = excluded.status,
        binary_url = excluded.binary_url, config_url = excluded.config_url, updated_at = excluded.updated_at,
        spec_type = excluded.spec_type, attributes = excluded.attributes
      returning id`;
    const [first] = await upsert(spec);
    const [second] = await upsert({ ...spec, status: "paused", attributes: Buffer.alloc(0), updated_at: new Date(5000) });
    expect(second?.["id"]).toBe(first?.["id"]);
    const rows = await sql`select status, attributes, created_at, updated_at from workflow_specs_v2`;
    expect(rows).toEqual([{ status: "paused", attributes: Buffer.alloc(0), created_at: new Date(0), updated_at: new Date(5000) }]);
    await sql`delete from workflow_specs_v2`;
  });

  it("workflow_executions: finished_at and duration_ms are set exactly when the execution has finished", async () => {
    const { sql } = getDb();
    await sql`insert into workflow_executions ${sql(execution())}`;
    await expect(sql`update workflow_executions set status = 'succeeded'`).rejects.toMatchObject({ code: "23514" });
    await expect(
      sql`update workflow_executions set status = 'succeeded', finished_at = ${new Date(1500)}`,
    ).rejects.toMatchObject({ code: "23514" });
    await sql`update workflow_executions set status = 'succeeded', finished_at = ${new Date(1500)}, duration_ms = 500, result = ${Buffer.from("ok")}`;
    await expect(
      sql`insert into workflow_executions ${sql(execution({ id: "f".repeat(64), status: "exploded" }))}`,
    ).rejects.toMatchObject({ code: "23514" });
    const rows = await sql`select status, result, duration_ms from workflow_executions where workflow_id = ${WORKFLOW_ID} order by started_at desc`;
    expect(rows).toEqual([{ status: "succeeded", result: Buffer.from("ok"), duration_ms: 500 }]);
    await sql`delete from workflow_executions`;
  });

  it("vault_secrets: one row per (owner, namespace, key), namespace 'main' by default, 12-byte nonces only", async () => {
    const { sql } = getDb();
    const secret = {
      owner: OWNER,
      key: "API_KEY",
      ciphertext: Buffer.from("not plaintext"),
      nonce: Buffer.alloc(12, 1),
      key_id: "k1",
      created_at: new Date(0),
      updated_at: new Date(0),
    };
    await sql`insert into vault_secrets ${sql(secret)}`;
    await expect(sql`insert into vault_secrets ${sql(secret)}`).rejects.toMatchObject({ code: "23505" });
    await sql`insert into vault_secrets ${sql({ ...secret, namespace: "other" })}`;
    await expect(sql`insert into vault_secrets ${sql({ ...secret, key: "B", nonce: Buffer.alloc(16) })}`).rejects.toMatchObject({
      code: "23514",
    });
    const rows = await sql`select namespace, version from vault_secrets order by namespace`;
    expect(rows).toEqual([
      { namespace: "main", version: 1 },
      { namespace: "other", version: 1 },
    ]);
    await sql`delete from vault_secrets`;
  });

  it("vault_write_nonces: a replayed (owner, nonce) conflicts", async () => {
    const { sql } = getDb();
    const nonce = { owner: OWNER, nonce: "n-1", expires_at: new Date(60_000) };
    await sql`insert into vault_write_nonces ${sql(nonce)}`;
    await expect(sql`insert into vault_write_nonces ${sql(nonce)}`).rejects.toMatchObject({ code: "23505" });
    const inserted = await sql`insert into vault_write_nonces ${sql(nonce)} on conflict do nothing returning nonce`;
    expect(inserted).toHaveLength(0);
    await sql`delete from vault_write_nonces`;
  });
});
