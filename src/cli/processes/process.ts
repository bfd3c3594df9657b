/**
 * What every composition root returns: the URL it serves, and a close that drains it.
 */
import { openDatabase, type Db } from "../../store/db.js";
import { migrate } from "../../store/migrate.js";
import type { Logger } from "../../transport/index.js";

export interface RunningProcess {
  /** e.g. "gateway", "relay-node-0". */
  readonly name: string;
  /** The URL the process serves its RPCs (or HTTP) at. */
  readonly url: string;
  /** Drains and stops; idempotent. */
  close(): Promise<void>;
}

/** A database opened for one process (server when `databaseUrl` is set, else PGlite in `dataDir`), migrated. */
export async function openMigratedDatabase(o: { databaseUrl: string | undefined; dataDir: string; logger: Logger }): Promise<Db> {
  const db = await openDatabase(o.databaseUrl !== undefined ? { url: o.databaseUrl, logger: o.logger } : { dataDir: o.dataDir, logger: o.logger });
  try {
    await migrate(db);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
