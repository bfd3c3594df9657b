import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError } from "../../../src/domain/errors.js";
import { openDatabase, openPgliteDatabase, redactUrl, serverTarget, type Db, type DbLogger } from "../../../src/store/db.js";
import { pgliteSocket } from "../../../src/store/pglite-socket.js";
import { describeServer, pgliteTemplate } from "../../support/databases.js";

interface LogLine {
  readonly level: string;
  readonly fields: object;
  readonly message: string;
}

function capturingLogger(): { logger: DbLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: object, message: string) => lines.push({ level, fields, message });
  return { logger: { debug: at("debug"), info: at("info") }, lines };
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

/** An empty PGlite cloned from the test template, with a logger. */
async function clonedPglite(logger?: DbLogger): Promise<Db> {
  return openPgliteDatabase(await PGlite.create({ loadDataDir: await pgliteTemplate("empty") }), logger);
}

const RAISE_NOTICE = "do $$ begin raise notice 'hello from postgres'; end $$";

describe("openDatabase options", () => {
  it("refuses a url that is not postgres:// or postgresql://", async () => {
    const error = await rejection(openDatabase({ url: "mysql://user:hunter2@localhost/db" }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe(
      'database url must start with postgres:// or postgresql:// (got "mysql://user:***@localhost/db"); leave it unset to use the embedded PGlite',
    );
  });

  it("refuses a server url together with a PGlite dataDir", async () => {
    const error = await rejection(openDatabase({ url: "postgres://localhost/db", dataDir: "/tmp/x" }));
    expect(error.rawMessage).toBe("set either a database url (a Postgres server) or a PGlite dataDir, not both");
  });

  it("refuses a pool size for PGlite and a non-positive one for a server", async () => {
    expect((await rejection(openDatabase({ maxConnections: 2 }))).code).toBe(Code.InvalidArgument);
    expect((await rejection(openDatabase({ url: "postgres://localhost/db", maxConnections: 0 }))).rawMessage).toBe(
      "maxConnections must be a positive integer (got 0)",
    );
  });

  it("reports an unreachable server as Unavailable without revealing the password", async () => {
    const error = await rejection(openDatabase({ url: "postgres://ccr:hunter2@127.0.0.1:1/ccr" }));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toMatch(/^cannot reach Postgres at postgres:\/\/ccr:\*\*\*@127\.0\.0\.1:1\/ccr: /);
    expect(error.rawMessage).not.toContain("hunter2");
  });

  it("takes a unix socket directory out of the url, in both libpq spellings", () => {
    expect(serverTarget("postgres://u@%2Fvar%2Frun%2Fpostgresql:5433/d")).toEqual({
      url: "postgres://u@localhost:5433/d",
      socketDir: "/var/run/postgresql",
    });
    expect(serverTarget("postgres://u@localhost/d?host=/tmp&sslmode=disable")).toEqual({
      url: "postgres://u@localhost/d?sslmode=disable",
      socketDir: "/tmp",
    });
    expect(serverTarget("postgres://u@db.example:5432/d?host=db2.example")).toEqual({
      url: "postgres://u@db.example:5432/d?host=db2.example",
      socketDir: undefined,
    });
    expect(serverTarget("postgresql://u:p@127.0.0.1:5432/d")).toEqual({ url: "postgresql://u:p@127.0.0.1:5432/d", socketDir: undefined });
  });

  it("redacts only the password of a url", () => {
    expect(redactUrl("postgres://u:p%40ss@h:5432/d?sslmode=require")).toBe("postgres://u:***@h:5432/d?sslmode=require");
    expect(redactUrl("postgres://u@h/d")).toBe("postgres://u@h/d");
    expect(redactUrl("not a url with user:secret@host")).toBe("(unparseable url)");
  });
});

describe("PGlite backend", () => {
  beforeAll(async () => {
    await pgliteTemplate("empty");
  });
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  // A fresh data directory runs initdb (3 s on an idle 2-core box, far more on a busy one), then
  // the reopen reads it back: hence the longer timeout.
  it("creates the database in a new dataDir and keeps it across close and reopen", { timeout: 120_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), "ccr-pglite-"));
    const dataDir = join(dir, "data");
    const first = await openDatabase({ dataDir });
    expect(first.backend).toBe("pglite");
    await first.sql`create table kept (id int8 primary key, b bytea)`;
    await first.sql`insert into kept values (1, ${Buffer.from([1, 2, 3])})`;
    await first.close();

    const second = await openDatabase({ dataDir });
    try {
      expect(await second.sql`select id, b from kept`).toEqual([{ id: 1, b: Buffer.from([1, 2, 3]) }]);
    } finally {
      await second.close();
    }
  });

  it("sends notices to the debug log, not to the console", async () => {
    const consoleLog = vi.spyOn(console, "log");
    const { logger, lines } = capturingLogger();
    const db = await clonedPglite(logger);
    try {
      await db.sql.unsafe(RAISE_NOTICE);
      expect(lines).toContainEqual({
        level: "debug",
        fields: { severity: "NOTICE", code: "00000" },
        message: "postgres notice: hello from postgres",
      });
      expect(consoleLog).not.toHaveBeenCalled();
    } finally {
      consoleLog.mockRestore();
      await db.close();
    }
  });

  it("can be closed twice", async () => {
    const db = await clonedPglite();
    await db.close();
    await db.close();
  });
});

describe("PGlite socket", () => {
  beforeAll(async () => {
    await pgliteTemplate("empty");
  });
  it("answers an SSL request with 'N', so clients that prefer TLS fall back to plain", async () => {
    const pg = await PGlite.create({ loadDataDir: await pgliteTemplate("empty") });
    const options = { socket: () => pgliteSocket(pg), max: 1, ssl: "prefer" } as postgres.Options<{}>;
    const sql = postgres(options);
    try {
      expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await sql.end();
      await pg.close();
    }
  });

  it("rolls back a transaction left open by a dropped connection", async () => {
    const pg = await PGlite.create({ loadDataDir: await pgliteTemplate("empty") });
    try {
      await pg.exec("create table t (id int)");
      const socket = pgliteSocket(pg);
      socket.on("data", () => undefined);
      socket.write(startupMessage());
      // A write's callback runs once PGlite has executed it.
      await new Promise<void>((resolve, reject) =>
        socket.write(simpleQuery("begin; insert into t values (1);"), (error) => (error ? reject(error) : resolve())),
      );
      expect(pg.isInTransaction()).toBe(true);

      socket.destroy();
      await once(socket, "close");
      expect(pg.isInTransaction()).toBe(false);
      expect((await pg.query("select count(*)::int as n from t")).rows).toEqual([{ n: 0 }]);
    } finally {
      await pg.close();
    }
  });

  it("serves a second connection after the first has ended", async () => {
    const pg = await PGlite.create({ loadDataDir: await pgliteTemplate("empty") });
    try {
      for (const value of [1, 2]) {
        const sql = postgres({ socket: () => pgliteSocket(pg), max: 1 } as postgres.Options<{}>);
        expect(await sql`select ${value}::int as v`).toEqual([{ v: value }]);
        await sql.end();
      }
    } finally {
      await pg.close();
    }
  });
});

describeServer("Postgres server backend", (getTestDatabase) => {
  it("sends notices to the debug log, not to the console", async () => {
    const consoleLog = vi.spyOn(console, "log");
    const { logger, lines } = capturingLogger();
    const db = await openDatabase({ url: getTestDatabase().url, logger });
    try {
      await db.sql.unsafe(RAISE_NOTICE);
      expect(lines).toContainEqual({
        level: "debug",
        fields: { severity: "NOTICE", code: "00000" },
        message: "postgres notice: hello from postgres",
      });
      expect(consoleLog).not.toHaveBeenCalled();
    } finally {
      consoleLog.mockRestore();
      await db.close();
    }
  });

  it("drops notices when there is no logger, rather than printing them", async () => {
    const consoleLog = vi.spyOn(console, "log");
    const db = await openDatabase({ url: getTestDatabase().url });
    try {
      await db.sql.unsafe(RAISE_NOTICE);
      expect(consoleLog).not.toHaveBeenCalled();
    } finally {
      consoleLog.mockRestore();
      await db.close();
    }
  });

  it("logs the opened database without the password", async () => {
    const { logger, lines } = capturingLogger();
    const db = await openDatabase({ url: getTestDatabase().url, logger });
    await db.close();
    expect(lines).toContainEqual({ level: "info", fields: { backend: "postgres", url: redactUrl(getTestDatabase().url) }, message: "database opened" });
  });
});

function startupMessage(): Buffer {
  const body = Buffer.concat([int32(196608), Buffer.from("user\0postgres\0database\0postgres\0\0")]);
  return Buffer.concat([int32(body.length + 4), body]);
}

function simpleQuery(text: string): Buffer {
  const body = Buffer.from(`${text}\0`);
  return Buffer.concat([Buffer.from("Q"), int32(body.length + 4), body]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}
