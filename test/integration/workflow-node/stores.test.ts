/**
 * The workflow node's repositories and the registry's semantics on both databases (PGlite and a
 * Postgres server; the server variant needs DATABASE_URL, and is required in CI).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { ManualClock } from "../../../src/domain/clock.js";
import { deriveWorkflowIdHex } from "../../../src/domain/workflow/workflow-id.js";
import { registryWorkflowSource, WorkflowRegistry } from "../../../src/services/workflow-node/registry.js";
import { createWorkflowArtifactsStore } from "../../../src/store/workflow-artifacts.js";
import { createWorkflowExecutionsStore } from "../../../src/store/workflow-executions.js";
import { createWorkflowRegistryStore } from "../../../src/store/workflow-registry.js";
import { createWorkflowSpecsStore, type WorkflowSpecRecord } from "../../../src/store/workflow-specs.js";
import { describeEachDatabase } from "../../support/databases.js";

const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const OTHER = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
const T0 = Date.UTC(2026, 0, 1);
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected a failure");
}

describeEachDatabase(
  "workflow registry (WorkflowRegistry 2.0.0 semantics)",
  (getDb) => {
    const clock = new ManualClock(T0);
    const registry = () =>
      new WorkflowRegistry({
        store: createWorkflowRegistryStore(getDb().sql),
        artifacts: createWorkflowArtifactsStore(getDb().sql),
        artifactUrl: (sha) => `http://127.0.0.1:7410/artifacts/${sha}`,
        clock,
      });
    const deploy = (name: string, extra: { tag?: string; binary?: string; keepAlive?: boolean; status?: "active" | "paused"; owner?: string; attributes?: string } = {}) =>
      registry().deploy({
        owner: extra.owner ?? OWNER,
        name,
        binary: utf8(extra.binary ?? `binary of ${name}`),
        config: utf8(`{"name":"${name}"}`),
        ...(extra.tag === undefined ? {} : { tag: extra.tag }),
        ...(extra.keepAlive === undefined ? {} : { keepAlive: extra.keepAlive }),
        ...(extra.status === undefined ? {} : { status: extra.status }),
        ...(extra.attributes === undefined ? {} : { attributes: utf8(extra.attributes) }),
      });

    it("derives the id from owner, name, binary and config, stores the artifacts and serves them by hash", async () => {
      const result = await deploy("derive", { attributes: '{"confidential":true}' });
      const expectedId = deriveWorkflowIdHex({ owner: OWNER, name: "derive", binary: utf8("binary of derive"), config: utf8('{"name":"derive"}') });
      expect(result).toEqual({ kind: "created", workflowId: expectedId, pausedWorkflowIds: [] });
      const row = await registry().get(expectedId);
      expect(row).toMatchObject({ owner: OWNER, name: "derive", tag: "latest", status: "active", secretsUrl: "" });
      expect(new TextDecoder().decode(row.attributes)).toBe('{"confidential":true}');
      const sha = row.binaryUrl.split("/").at(-1)!;
      expect(new TextDecoder().decode(await createWorkflowArtifactsStore(getDb().sql).get(sha))).toBe("binary of derive");
      // Deploying the same thing again is harmless.
      expect(await deploy("derive", { attributes: '{"confidential":true}' })).toEqual({ kind: "unchanged", workflowId: expectedId });
    });

    it("a create pauses the other active versions of the same owner and name, unless keep-alive", async () => {
      const v1 = await deploy("versions", { tag: "v1" });
      const v2 = await deploy("versions", { tag: "v2", binary: "v2" });
      expect(v2).toMatchObject({ kind: "created", pausedWorkflowIds: [v1.workflowId] });
      expect((await registry().get(v1.workflowId)).status).toBe("paused");
      const v3 = await deploy("versions", { tag: "v3", binary: "v3", keepAlive: true });
      expect(v3).toMatchObject({ kind: "created", pausedWorkflowIds: [] });
      expect((await registry().get(v2.workflowId)).status).toBe("active");
      // Other names and other owners are untouched.
      const other = await deploy("versions", { tag: "v1", binary: "theirs", owner: OTHER });
      expect(other).toMatchObject({ kind: "created", pausedWorkflowIds: [] });
      expect((await registry().get(v3.workflowId)).status).toBe("active");
    });

    it("an upsert of a known (owner, name, tag) updates it to the new id; its status cannot change that way", async () => {
      const first = await deploy("update", { tag: "t" });
      const second = await deploy("update", { tag: "t", binary: "new binary" });
      expect(second).toEqual({ kind: "updated", workflowId: expect.stringMatching(/^[0-9a-f]{64}$/), previousWorkflowId: first.workflowId });
      expect((await failure(registry().get(first.workflowId))).code).toBe(Code.NotFound);
      const sha = createHash("sha256").update("new binary").digest("hex");
      expect((await registry().get(second.workflowId)).binaryUrl).toBe(`http://127.0.0.1:7410/artifacts/${sha}`);
      const error = await failure(deploy("update", { tag: "t", binary: "third", status: "paused" }));
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toContain("CannotChangeStatusOnUpdate");
    });

    it("refuses an id that exists under another name, tag or owner", async () => {
      await deploy("dup", { tag: "a" });
      const error = await failure(
        registry().upsert({
          owner: OWNER,
          name: "dup",
          tag: "b",
          binary: utf8("binary of dup"),
          config: utf8('{"name":"dup"}'),
          binaryUrl: "http://x/b",
          configUrl: "",
        }),
      );
      expect(error.code).toBe(Code.AlreadyExists);
      expect(error.rawMessage).toContain("WorkflowIDAlreadyExists");
    });

    it("checks names, tags, URLs and the 1024-byte attribute limit", async () => {
      expect((await failure(deploy("n".repeat(65)))).rawMessage).toContain("WorkflowNameTooLong");
      expect((await failure(deploy("tagged", { tag: "t".repeat(33) }))).rawMessage).toContain("WorkflowTagTooLong");
      expect((await failure(deploy("big", { attributes: `{"x":"${"a".repeat(1020)}"}` }))).rawMessage).toContain("AttributesTooLong");
      expect((await failure(deploy("bad-owner", { owner: "0x1234" }))).code).toBe(Code.InvalidArgument);
      const badConfig = await failure(registry().deploy({ owner: OWNER, name: "c", binary: utf8("b"), config: new Uint8Array([0xff, 0xfe]) }));
      expect(badConfig.rawMessage).toContain("UTF-8");
    });

    it("pause and activate are idempotent and owner-only; delete removes the workflow", async () => {
      const { workflowId } = await deploy("lifecycle");
      expect((await registry().pause(workflowId, OWNER)).changed).toBe(true);
      expect((await registry().pause(workflowId, OWNER.toLowerCase())).changed).toBe(false);
      expect((await registry().activate(workflowId, OWNER)).row.status).toBe("active");
      expect((await failure(registry().pause(workflowId, OTHER))).code).toBe(Code.PermissionDenied);
      expect((await failure(registry().delete(workflowId, OTHER))).code).toBe(Code.PermissionDenied);
      await registry().delete(workflowId, OWNER);
      expect((await failure(registry().delete(workflowId, OWNER))).code).toBe(Code.NotFound);
      expect((await failure(registry().activate(workflowId, OWNER))).rawMessage).toContain("WorkflowDoesNotExist");
    });

    it("the syncer's listing reads unchanged rows once, and still sees every change", async () => {
      const store = createWorkflowRegistryStore(getDb().sql);
      const source = registryWorkflowSource(store);
      const reads: number[] = [];
      const counting = { ...store, getMany: async (ids: readonly string[]) => (reads.push(ids.length), store.getMany(ids)) };
      const counted = registryWorkflowSource(counting);
      const { workflowId } = await deploy("listing", { attributes: '{"confidential":true}' });
      const before = (await counted.list()).length;
      expect(reads.at(-1)).toBe(before); // first listing: every row read
      await counted.list();
      expect(reads.at(-1)).toBe(0); // nothing changed: no row read
      // A status change within the same millisecond (updated_at unchanged) is still seen: the
      // status is part of the cheap listing.
      await registry().pause(workflowId, OWNER);
      expect((await counted.list()).find((w) => w.workflowId === workflowId)?.status).toBe("paused");
      expect(reads.at(-1)).toBe(0);
      clock.advance(1);
      await registry().activate(workflowId, OWNER);
      expect((await counted.list()).find((w) => w.workflowId === workflowId)?.status).toBe("active");
      expect(reads.at(-1)).toBe(1); // a later change re-reads the row
      await registry().delete(workflowId, OWNER);
      expect((await counted.list()).some((w) => w.workflowId === workflowId)).toBe(false);
      // The same id registered again, now with other attributes: read afresh.
      clock.advance(1);
      await deploy("listing", { attributes: '{"confidential":false}', tag: "again" });
      const again = (await counted.list()).find((w) => w.workflowId === workflowId);
      expect(new TextDecoder().decode(again?.attributes)).toBe('{"confidential":false}');
      expect(again?.tag).toBe("again");
      // A fresh source agrees with the cached one.
      expect(await source.list()).toEqual(await counted.list());
    });

    it("lists every workflow oldest first, filtered by owner", async () => {
      clock.advance(1_000);
      const mine = await deploy("listed");
      clock.advance(1_000);
      const theirs = await deploy("listed", { owner: OTHER, binary: "x" });
      const all = await registry().list();
      expect(all.map((r) => r.workflowId).slice(-2)).toEqual([mine.workflowId, theirs.workflowId]);
      const others = await registry().list({ owner: OTHER.toLowerCase() });
      expect(others.every((r) => r.owner === OTHER)).toBe(true);
      expect(others.map((r) => r.workflowId)).toContain(theirs.workflowId);
    });
  },
  { scope: "suite" },
);

describeEachDatabase("workflow_specs_v2 repository", (getDb) => {
  const spec = (n: number, attributes = ""): WorkflowSpecRecord => ({
    workflow: Buffer.from(`binary ${n}`).toString("hex"),
    config: `{"n":${n}}`,
    workflowId: n.toString(16).padStart(64, "0"),
    workflowOwner: OWNER.slice(2).toLowerCase(),
    workflowName: `w${n}`,
    workflowTag: "latest",
    status: "active",
    binaryUrl: `http://x/${n}`,
    configUrl: `http://x/${n}/c`,
    specType: "wasm_file",
    attributes: utf8(attributes),
  });

  it("upserts many rows (attributes included), reads them back in one query, and deletes idempotently", async () => {
    const specs = createWorkflowSpecsStore(getDb().sql);
    const many = Array.from({ length: 1_200 }, (_, i) => spec(i + 1, i % 2 === 0 ? '{"confidential":true}' : ""));
    await specs.upsertMany(many, T0);
    const read = await specs.getMany([spec(1).workflowId, spec(2).workflowId, "f".repeat(64)]);
    expect(read.size).toBe(2);
    expect(read.get(spec(1).workflowId)).toMatchObject({ ...spec(1, '{"confidential":true}'), createdAtMs: T0, updatedAtMs: T0 });
    expect(read.get(spec(2).workflowId)?.attributes).toEqual(new Uint8Array(0));
    expect((await specs.listIds()).length).toBe(1_200);

    // ON CONFLICT (workflow_id) DO UPDATE: every column, attributes too; created_at kept.
    await specs.upsertMany([{ ...spec(2, '{"confidential":true}'), config: "changed" }, { ...spec(2), config: "last wins" }], T0 + 5);
    expect(await specs.get(spec(2).workflowId)).toMatchObject({ config: "last wins", createdAtMs: T0, updatedAtMs: T0 + 5 });

    expect(await specs.setStatusMany([spec(3).workflowId], "paused", T0 + 6)).toBe(1);
    expect((await specs.get(spec(3).workflowId))?.status).toBe("paused");
    expect(await specs.deleteMany([spec(1).workflowId, spec(3).workflowId, "e".repeat(64)])).toBe(2);
    expect(await specs.deleteMany([spec(1).workflowId])).toBe(0);
    expect(await specs.get(spec(1).workflowId)).toBeUndefined();
  });

  it("reads a row written before the attributes column as having no attributes", async () => {
    const { sql } = getDb();
    const id = "d".repeat(64);
    await sql`
      insert into workflow_specs_v2 (workflow, workflow_id, workflow_owner, workflow_name, workflow_tag, status, created_at, updated_at, attributes)
      values ('00', ${id}, ${"ab".repeat(20)}, 'old', 't', 'active', now(), now(), null)`;
    expect((await createWorkflowSpecsStore(sql).get(id))?.attributes).toEqual(new Uint8Array(0));
  });
});

describeEachDatabase("workflow_executions repository", (getDb) => {
  const wf = "0a".repeat(32);
  const exec = (n: number): string => n.toString(16).padStart(64, "0");

  it("records a start once, finishes it once with its duration, and lists newest first", async () => {
    const executions = createWorkflowExecutionsStore(getDb().sql);
    expect(await executions.insertStarted({ id: exec(1), workflowId: wf, triggerId: "cron-trigger@1.0.0#0", triggerKind: "cron", startedAtMs: T0 })).toBe(true);
    expect(await executions.insertStarted({ id: exec(1), workflowId: wf, triggerId: "cron-trigger@1.0.0#0", triggerKind: "cron", startedAtMs: T0 + 9 })).toBe(false);
    const done = await executions.finish({ id: exec(1), status: "succeeded", result: utf8('{"v":1}'), error: null, finishedAtMs: T0 + 250, relaySigners: [] });
    expect(done).toMatchObject({ id: exec(1), status: "succeeded", error: null, startedAtMs: T0, finishedAtMs: T0 + 250, durationMs: 250 });
    expect(new TextDecoder().decode(done?.result ?? undefined)).toBe('{"v":1}');
    expect(await executions.finish({ id: exec(1), status: "failed", result: null, error: "again", finishedAtMs: T0 + 300, relaySigners: [] })).toBeUndefined();

    await executions.insertStarted({ id: exec(2), workflowId: wf, triggerId: "manual-trigger@1.0.0#1", triggerKind: "manual", startedAtMs: T0 + 1_000 });
    await executions.finish({ id: exec(2), status: "failed", result: null, error: "boom", finishedAtMs: T0 + 1_010, relaySigners: [] });
    const listed = await executions.listByWorkflow(wf, 10);
    expect(listed.map((r) => [r.id, r.status, r.error])).toEqual([
      [exec(2), "failed", "boom"],
      [exec(1), "succeeded", null],
    ]);
    expect(await executions.listByWorkflow(wf, 1)).toHaveLength(1);
  });

  it("marks executions cut off by a stop as cancelled", async () => {
    const executions = createWorkflowExecutionsStore(getDb().sql);
    const other = "0b".repeat(32);
    await executions.insertStarted({ id: exec(10), workflowId: other, triggerId: "t", triggerKind: "manual", startedAtMs: T0 });
    expect(await executions.cancelStarted("interrupted", T0 + 40)).toBe(1);
    expect(await executions.get(exec(10))).toMatchObject({ status: "cancelled", error: "interrupted", durationMs: 40 });
    expect(await executions.cancelStarted("interrupted", T0 + 50)).toBe(0);
  });

  it("records the relay signers with the outcome: an empty list until then, the given list after, on every read path", async () => {
    const { sql } = getDb();
    const executions = createWorkflowExecutionsStore(sql);
    const wf3 = "0c".repeat(32);
    const signers = ["1f".repeat(32), "a0".repeat(32), "fe".repeat(32)];
    await executions.insertStarted({ id: exec(20), workflowId: wf3, triggerId: "t", triggerKind: "manual", startedAtMs: T0 });
    expect((await executions.get(exec(20)))?.relaySigners).toEqual([]);
    const done = await executions.finish({ id: exec(20), status: "failed", result: null, error: "relay refused", finishedAtMs: T0 + 5, relaySigners: signers });
    expect(done?.relaySigners).toEqual(signers);
    expect((await executions.get(exec(20)))?.relaySigners).toEqual(signers);
    expect((await executions.listByWorkflow(wf3, 10)).map((r) => r.relaySigners)).toEqual([signers]);
    // A local workflow's execution: none.
    await executions.insertStarted({ id: exec(21), workflowId: wf3, triggerId: "t", triggerKind: "manual", startedAtMs: T0 - 1 });
    expect((await executions.finish({ id: exec(21), status: "succeeded", result: utf8("1"), error: null, finishedAtMs: T0, relaySigners: [] }))?.relaySigners).toEqual([]);
    // Stored as a real text[] (not a string), so SQL can read it too.
    const [row] = await sql`select relay_signers, cardinality(relay_signers) as n, relay_signers[2] as second from workflow_executions where id = ${exec(20)}`;
    expect(row).toEqual({ relay_signers: signers, n: 3, second: signers[1] });
  });

  it("refuses a relay signer that is not a 64-hex key, and leaves the row started", async () => {
    const executions = createWorkflowExecutionsStore(getDb().sql);
    const wf4 = "0d".repeat(32);
    await executions.insertStarted({ id: exec(30), workflowId: wf4, triggerId: "t", triggerKind: "manual", startedAtMs: T0 });
    for (const bad of ["AB".repeat(32), "ab".repeat(31), "", "ab".repeat(32) + ",cd"]) {
      const error = await failure(executions.finish({ id: exec(30), status: "succeeded", result: null, error: null, finishedAtMs: T0 + 1, relaySigners: ["cd".repeat(32), bad] }));
      expect(error.message).toMatch(/check constraint/);
    }
    expect(await executions.get(exec(30))).toMatchObject({ status: "started", relaySigners: [] });
  });
});
