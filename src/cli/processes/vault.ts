/**
 * The vault process: the Vault service on its own server, its secrets in Postgres or PGlite.
 */
import { readConfigText, readDonFile, resolveRelativeTo, type ServerConfig, type VaultProcessConfig } from "../../config/index.js";
import { Vault } from "../../contract/index.js";
import { parseVaultKeyFile } from "../../domain/vault/keyring.js";
import { createVaultService, resolveVaultOptions } from "../../services/vault/index.js";
import type { Db } from "../../store/db.js";
import { createPostgresVaultStore } from "../../store/vault-store.js";
import { createServer, implement, type Logger } from "../../transport/index.js";
import { openMigratedDatabase, type RunningProcess } from "./process.js";

export interface VaultProcessOptions {
  readonly server: ServerConfig;
  readonly vault: VaultProcessConfig;
  /** The config file the paths are relative to. */
  readonly configFile: string | undefined;
  readonly logger: Logger;
  /** A shared, migrated database (`ccr up` shares one PGlite); default: open one from the config. */
  readonly db?: Db;
}

export async function startVaultProcess(o: VaultProcessOptions): Promise<RunningProcess> {
  const path = (p: string) => resolveRelativeTo(o.configFile, p);
  const don = readDonFile(path(o.vault.donFile));
  const keyringFile = path(o.vault.keyringFile);
  const options = resolveVaultOptions({
    keyring: parseVaultKeyFile(readConfigText(keyringFile), keyringFile),
    donMembers: don.members.map((m) => m.publicKey),
  });
  const ownDb = o.db === undefined;
  const db = o.db ?? (await openMigratedDatabase({ databaseUrl: o.vault.databaseUrl, dataDir: path(o.vault.dataDir), logger: o.logger }));
  try {
    const vault = createVaultService({ options, store: createPostgresVaultStore(db.sql), logger: o.logger });
    const server = createServer({ ...o.server, name: "vault", logger: o.logger, services: [implement(Vault, vault.implementation)], leanUnary: vault.leanRoutes });
    vault.registerMetricsOn(server.metrics.registry);
    const { url } = await server.listen();
    let closing: Promise<void> | undefined;
    return {
      name: "vault",
      url,
      close: () =>
        (closing ??= (async () => {
          await server.close();
          if (ownDb) await db.close();
        })()),
    };
  } catch (error) {
    if (ownDb) await db.close();
    throw error;
  }
}
