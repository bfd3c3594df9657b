/**
 * What the workflow node's admin API answers when a request fails below it: a database it cannot
 * reach is Unavailable (503, retry), any other unexpected failure a bare internal error (500) whose
 * detail stays in the log. Real HTTP on loopback; the stores are stand-ins that fail.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createArtifactServer, type ArtifactServer, type ArtifactServerDeps } from "../../../src/services/workflow-node/artifact-server.js";
import { isDatabaseUnavailable } from "../../../src/store/database-unavailable.js";

let server: ArtifactServer | undefined;
const logged: { obj: object; msg?: string }[] = [];

afterEach(async () => {
  await server?.close();
  server = undefined;
  logged.length = 0;
});

async function serverWhoseRegistryFails(error: unknown): Promise<string> {
  const failing = { list: () => Promise.reject(error) };
  const logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (obj: object, msg?: string) => void logged.push({ obj, ...(msg === undefined ? {} : { msg }) }),
    child: () => logger,
  };
  server = createArtifactServer({
    host: "127.0.0.1",
    port: 0,
    maxArtifactBytes: 1024,
    adminToken: undefined,
    registry: failing,
    logger,
  } as unknown as ArtifactServerDeps);
  return server.listen();
}

describe("admin API failures below the handler", () => {
  it("answers a database it cannot reach with 503 unavailable, and logs the driver's reason", async () => {
    const url = await serverWhoseRegistryFails(Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), { code: "CONNECTION_CLOSED" }));
    const res = await fetch(`${url}/admin/v1/workflows`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: "unavailable", message: "the workflow node's database is unavailable; retry shortly" } });
    expect(JSON.stringify(logged)).toContain("CONNECTION_CLOSED");
  });

  it("answers a server shutting down (SQLSTATE 57P01) the same way", async () => {
    const url = await serverWhoseRegistryFails(Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }));
    expect((await fetch(`${url}/admin/v1/workflows`)).status).toBe(503);
  });

  it("answers any other failure with a bare internal error; the detail is only in the log", async () => {
    const url = await serverWhoseRegistryFails(new Error("relation \"workflow_specs_v2\" does not exist"));
    const res = await fetch(`${url}/admin/v1/workflows`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "internal", message: "internal error" } });
    expect(JSON.stringify(logged)).toContain("workflow_specs_v2");
  });
});

describe("isDatabaseUnavailable", () => {
  it("recognises driver connection errors and the server's connection SQLSTATEs, nothing else", () => {
    for (const code of ["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECT_TIMEOUT", "ECONNREFUSED", "57P01", "57P03", "08006", "08001"]) {
      expect(isDatabaseUnavailable({ code }), code).toBe(true);
    }
    for (const value of [{ code: "23505" }, { code: "42P01" }, { code: 57 }, new Error("x"), null, "CONNECTION_CLOSED"]) {
      expect(isDatabaseUnavailable(value), JSON.stringify(value)).toBe(false);
    }
  });
});
