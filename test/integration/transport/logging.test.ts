/**
 * The call log, read back as JSON lines from an injected destination: one line per call with
 * rpc, requestId, code and duration; levels by outcome; secrets redacted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capability } from "../../../src/contract/index.js";
import { createServiceClient, Http2SessionPool } from "../../../src/transport/index.js";
import { startTestServer, type TestServer } from "../../support/server.js";
import { fakeCapability, secretMarker } from "./fake-capability.js";

let t: TestServer;
const sessions = new Http2SessionPool();

beforeAll(async () => {
  t = await startTestServer([fakeCapability().registration]);
});

afterAll(async () => {
  sessions.closeAll();
  await t.close();
});

const capability = () => createServiceClient(Capability, { baseUrl: t.url, protocol: "connect", sessions });

const lineFor = (requestId: string) => t.logs().filter((l) => l["requestId"] === requestId);

describe("call logging", () => {
  it("never writes a redacted field, at any of the covered depths", async () => {
    await capability().execute(
      { capabilityId: "log-secret@1" },
      { headers: { "x-request-id": "secret-call", authorization: `Bearer ${secretMarker}` } },
    );
    expect(t.rawLogs()).not.toContain(secretMarker);
    const handlerLine = lineFor("secret-call").find((l) => l.msg === "handling a secret");
    expect(handlerLine).toMatchObject({
      rpc: "ccr.v1.Capability/Execute",
      value: "[REDACTED]",
      request: { privateKey: "[REDACTED]", nested: { seed: "[REDACTED]" } },
      headers: { authorization: "[REDACTED]" },
    });
  });

  it("writes one debug line for a successful call, with code and duration", async () => {
    await capability().execute({ capabilityId: "echo@1" }, { headers: { "x-request-id": "ok-call" } });
    const lines = lineFor("ok-call");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 20, msg: "rpc ok", code: "OK", svc: "test", rpc: "ccr.v1.Capability/Execute" });
    expect(typeof lines[0]?.["durationMs"]).toBe("number");
  });

  it("logs an expected error at info by code name and message, without a stack", async () => {
    await capability()
      .execute({ capabilityId: "missing@1" }, { headers: { "x-request-id": "expected-error" } })
      .catch(() => undefined);
    const lines = lineFor("expected-error");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, code: "NotFound", error: 'capability "missing@1" is not registered' });
    expect(JSON.stringify(lines[0])).not.toContain("stack");
  });

  it("logs a server fault at error with the original cause and its stack", async () => {
    await capability()
      .execute({ capabilityId: "boom@1" }, { headers: { "x-request-id": "server-fault" } })
      .catch(() => undefined);
    const lines = lineFor("server-fault");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, code: "Internal", error: "internal error" });
    expect(lines[0]?.["cause"]).toMatchObject({ message: "kaboom: the database is on fire" });
    expect(String((lines[0]?.["cause"] as { stack?: string }).stack)).toContain("fake-capability");
  });
});
