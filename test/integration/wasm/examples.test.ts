/**
 * The three example workflows, compiled from source and run in real worker threads with fake host
 * calls (issue 6, "Guest ABI and SDK").
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, exampleWasm } from "../../../src/wasm/examples.js";
import type { CapabilityRequest } from "../../../src/wasm/guest-abi.js";
import { WasmRuntime, type CompiledGuest } from "../../../src/wasm/wasm-runtime.js";
import { fakeHost, json, utf8 } from "../../fixtures/wasm/fake-host.js";

const BUILD_TIMEOUT_MS = 240_000;
let runtime: WasmRuntime;
const guests: Record<string, CompiledGuest> = {};

beforeAll(async () => {
  runtime = new WasmRuntime({ maxWorkers: 2 });
  for (const name of ["hello", "secret-digest", "http-price"]) {
    const compiled = await runtime.compile(await exampleWasm(name));
    if (compiled.kind !== "ok") throw new Error(`${name}: ${JSON.stringify(compiled)}`);
    guests[name] = compiled.guest;
  }
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await runtime?.close();
});

function guest(name: string): CompiledGuest {
  const g = guests[name];
  if (g === undefined) throw new Error(`example ${name} not compiled`);
  return g;
}

const trigger = (config: Uint8Array, payload = utf8("{}")) => ({ kind: "trigger" as const, config, triggerId: 0n, payload });
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

describe("hello", () => {
  it("answers the config's greeting", async () => {
    const outcome = await runtime.run({ module: guest("hello"), request: trigger(await exampleConfig("hello")), host: fakeHost() });
    expect(outcome).toEqual({ kind: "value", value: "hello from ccr" });
  });

  it("subscribes to the manual trigger, and to cron when the config has a schedule", async () => {
    const config = json({ greeting: "hi", schedule: "*/30 * * * * *" });
    const outcome = await runtime.run({ module: guest("hello"), request: { kind: "subscribe", config }, host: fakeHost() });
    expect(outcome.kind).toBe("subscriptions");
    if (outcome.kind !== "subscriptions") return;
    expect(outcome.subscriptions.map((s) => [s.id, s.method, text(s.payload)])).toEqual([
      ["manual-trigger@1.0.0", "Trigger", "{}"],
      ["cron-trigger@1.0.0", "Trigger", '{"schedule":"*/30 * * * * *"}'],
    ]);
  });

  it("answers a workflow error when the field is missing", async () => {
    const outcome = await runtime.run({ module: guest("hello"), request: trigger(json({ other: 1 })), host: fakeHost() });
    expect(outcome).toEqual({ kind: "error", message: 'hello: the config has no string "greeting"' });
  });
});

describe("secret-digest", () => {
  const secret = "correct horse battery staple ✓";

  it("answers the SHA-256 of the secret from the host, never the secret", async () => {
    const host = fakeHost({ secrets: { "main/API_KEY": secret } });
    const outcome = await runtime.run({ module: guest("secret-digest"), request: trigger(await exampleConfig("secret-digest")), host });
    expect(outcome).toEqual({ kind: "value", value: createHash("sha256").update(secret, "utf8").digest("hex") });
    expect(host.secretCalls).toEqual([{ requests: [{ id: "API_KEY", namespace: "main" }] }]);
    const everything = JSON.stringify(outcome) + JSON.stringify(host.logs);
    expect(everything).not.toContain(secret);
    expect(host.logs.map((l) => l.message)).toEqual(["secret-digest: hashing secret main/API_KEY"]);
  });

  it("uses the configured namespace, and reports a missing secret as a workflow error", async () => {
    const host = fakeHost({ secrets: { "main/API_KEY": secret } });
    const outcome = await runtime.run({
      module: guest("secret-digest"),
      request: trigger(json({ secret: "API_KEY", namespace: "ops" })),
      host,
    });
    expect(host.secretCalls[0]).toEqual({ requests: [{ id: "API_KEY", namespace: "ops" }] });
    expect(outcome).toEqual({ kind: "error", message: "secret-digest: secret ops/API_KEY: secret not found" });
  });
});

describe("http-price", () => {
  function priceHost(body: string, status = 200) {
    return fakeHost({
      capability: async (request: CapabilityRequest) => {
        if (request.id !== "http-fetch@1.0.0") return { kind: "error", error: `unexpected capability ${request.id}` };
        return { kind: "payload", payload: json({ status, headers: { "content-type": "application/json" }, body }) };
      },
    });
  }

  it("fetches the configured URL with http-fetch and answers the number", async () => {
    const host = priceHost('{"price": 3120.55, "currency": "USD"}');
    const outcome = await runtime.run({ module: guest("http-price"), request: trigger(await exampleConfig("http-price")), host });
    expect(outcome).toEqual({ kind: "value", value: 3120.55 });
    expect(host.capabilityCalls).toHaveLength(1);
    const call = host.capabilityCalls[0]!;
    expect(call.id).toBe("http-fetch@1.0.0");
    expect(call.method).toBe("Execute");
    expect(JSON.parse(text(call.payload))).toEqual({
      url: "http://127.0.0.1:8080/price.json",
      method: "GET",
      headers: { accept: "application/json" },
    });
  });

  it("follows a dotted field path and accepts a numeric string", async () => {
    const host = priceHost('{"data": {"eth": {"usd": "2999.5"}}}');
    const config = json({ url: "https://prices.example/eth", field: "data.eth.usd" });
    expect(await runtime.run({ module: guest("http-price"), request: trigger(config), host })).toEqual({ kind: "value", value: 2999.5 });
  });

  it("answers workflow errors for a non-2xx status, a missing field, a non-number and a failed fetch", async () => {
    const config = await exampleConfig("http-price");
    const run = (host: ReturnType<typeof fakeHost>) => runtime.run({ module: guest("http-price"), request: trigger(config), host });
    expect(await run(priceHost('{"price": 1}', 503))).toEqual({
      kind: "error",
      message: "http-price: http://127.0.0.1:8080/price.json answered HTTP 503",
    });
    expect(await run(priceHost('{"cost": 1}'))).toEqual({ kind: "error", message: 'http-price: the response has no field "price"' });
    expect(await run(priceHost('{"price": "cheap"}'))).toEqual({ kind: "error", message: 'http-price: field "price" is not a number' });
    const refused = fakeHost({ capability: async () => ({ kind: "error", error: "http-fetch: host 127.0.0.1:8080 is not on the allowlist" }) });
    expect(await run(refused)).toEqual({ kind: "error", message: "http-price: http-fetch: host 127.0.0.1:8080 is not on the allowlist" });
  });
});
