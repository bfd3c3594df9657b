/**
 * The only place tests read the environment (src/ reads it only in src/config/).
 */
export interface TestEnv {
  /** A Postgres server for the server variant of store suites (e.g. postgres://postgres@127.0.0.1:5432/postgres). */
  readonly databaseUrl: string | undefined;
  /** True when CI=true: what would be skipped locally must fail instead. */
  readonly ci: boolean;
}

export function testEnv(): TestEnv {
  const databaseUrl = process.env["DATABASE_URL"];
  return Object.freeze({
    databaseUrl: databaseUrl === undefined || databaseUrl.trim() === "" ? undefined : databaseUrl.trim(),
    ci: process.env["CI"] === "true",
  });
}
