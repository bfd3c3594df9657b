/**
 * The AssemblyScript guest SDK, exercised through its conformance guest
 * (sdk/assemblyscript/conformance/probe.ts) in the real runtime: SHA-256 and base64 against
 * node's, the JSON parser and serializer against JSON.parse, and the typed host-call helpers.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { conformanceGuestWasm } from "../../../src/wasm/examples.js";
import type { GuestRequest, RunOutcome } from "../../../src/wasm/guest-abi.js";
import { WasmRuntime, type CompiledGuest } from "../../../src/wasm/wasm-runtime.js";
import { fakeHost, json, utf8, type FakeHost } from "../../fixtures/wasm/fake-host.js";

let runtime: WasmRuntime;
let probe: CompiledGuest;

beforeAll(async () => {
  runtime = new WasmRuntime({ maxWorkers: 2 });
  const compiled = await runtime.compile(await conformanceGuestWasm());
  if (compiled.kind !== "ok") throw new Error(JSON.stringify(compiled));
  probe = compiled.guest;
}, 240_000);

afterAll(async () => {
  await runtime?.close();
});

function run(config: Record<string, unknown>, payload: Uint8Array = utf8("{}"), host: FakeHost = fakeHost()): Promise<RunOutcome> {
  const request: GuestRequest = { kind: "trigger", config: json(config), triggerId: 1n, payload };
  return runtime.run({ module: probe, request, host });
}

describe("sha256", () => {
  it("matches node:crypto at every padding boundary and for 1 MiB", async () => {
    const lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 1 << 20];
    for (const n of lengths) {
      const data = randomBytes(n);
      expect(await run({ mode: "sha256" }, data), `length ${n}`).toEqual({
        kind: "value",
        value: createHash("sha256").update(data).digest("hex"),
      });
    }
  });
});

describe("base64", () => {
  it("matches Buffer's standard padded base64 and round-trips", async () => {
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 255, 1000]) {
      const data = randomBytes(n);
      expect(await run({ mode: "base64" }, data), `length ${n}`).toEqual({ kind: "value", value: data.toString("base64") });
    }
  });
});

describe("json", () => {
  const valid = [
    '{"a":[1,2.5,-300,0,-0.0,1e-7,6.02e23],"b":"esc \\" \\\\ \\/ \\b\\f\\n\\r\\t \\u0001 \\u00e9 \\ud83d\\ude00 ünïcödé 😀","c":{"d":null,"e":true,"f":false},"g":[]}',
    '  [ {} , [ [ ] ] , "" , 0 ]  ',
    '{"k":1,"k":2}',
    "12345678901234567890",
    '"just a string"',
    "-0.5",
    JSON.stringify({ nested: Array.from({ length: 50 }, (_, i) => ({ i, s: `item ${i}` })) }),
  ];
  for (const text of valid) {
    it(`parses and re-serializes ${text.slice(0, 40)}`, async () => {
      // Compared with JavaScript's own round trip (which, like the SDK, writes -0 as 0).
      expect(await run({ mode: "json" }, utf8(text))).toEqual({ kind: "value", value: JSON.parse(JSON.stringify(JSON.parse(text))) });
    });
  }

  const invalid = ['{"a":1,}', "[1 2]", "01", '"unterminated', '{"a" 1}', "tru", '"\\x"', "1.", "-", '"raw \u0001 control"', "{} x", "[".repeat(200) + "]".repeat(200), ""];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text.slice(0, 20))}`, async () => {
      const outcome = await run({ mode: "json" }, utf8(text));
      expect(outcome.kind).toBe("error");
      if (outcome.kind === "error") expect(outcome.message).toMatch(/^invalid json: .+ at offset \d+$/);
    });
  }
});

describe("host-call helpers", () => {
  it("getSecrets asks for several secrets at once, defaults the namespace to main, and reports a missing one alone", async () => {
    const host = fakeHost({ secrets: { "main/A": "alpha", "ops/B": "beta" } });
    const outcome = await run({ mode: "secrets", keys: ["A", "B", "C"], namespaces: ["", "ops"] }, undefined, host);
    expect(host.secretCalls).toEqual([
      {
        requests: [
          { id: "A", namespace: "main" },
          { id: "B", namespace: "ops" },
          { id: "C", namespace: "main" },
        ],
      },
    ]);
    const digest = (s: string) => createHash("sha256").update(s).digest("hex");
    expect(outcome).toEqual({
      kind: "value",
      value: [
        { id: "A", namespace: "main", sha256: digest("alpha") },
        { id: "B", namespace: "ops", sha256: digest("beta") },
        { id: "C", namespace: "main", error: "secret not found" },
      ],
    });
  });

  it("getSecrets reports a failed host call on every requested secret", async () => {
    const host = fakeHost({
      getSecrets: async () => {
        throw new Error("quorum certificate rejected: only 1 of 2 signatures");
      },
    });
    expect(await run({ mode: "secrets", keys: ["A", "B"] }, undefined, host)).toEqual({
      kind: "value",
      value: [
        { id: "A", namespace: "main", error: "quorum certificate rejected: only 1 of 2 signatures" },
        { id: "B", namespace: "main", error: "quorum certificate rejected: only 1 of 2 signatures" },
      ],
    });
  });

  it("echo sends JSON to echo@1.0.0 and reads the same JSON back", async () => {
    const host = fakeHost({ capability: async (req) => ({ kind: "payload", payload: req.payload }) });
    const input = { hello: ["world", 1, true, null] };
    expect(await run({ mode: "echo" }, json(input), host)).toEqual({ kind: "value", value: input });
    expect(host.capabilityCalls[0]).toMatchObject({ id: "echo@1.0.0", method: "Execute" });
  });

  it("httpFetch sends {url, method, headers} and reads a text body or a base64 body", async () => {
    const textHost = fakeHost({
      capability: async () => ({ kind: "payload", payload: json({ status: 201, headers: { "content-type": "text/plain" }, body: "héllo" }) }),
    });
    expect(await run({ mode: "http", url: "https://api.example/x" }, undefined, textHost)).toEqual({
      kind: "value",
      value: { status: 201, body: "héllo", bodyHex: Buffer.from("héllo").toString("hex"), contentType: "text/plain" },
    });
    expect(JSON.parse(Buffer.from(textHost.capabilityCalls[0]!.payload).toString())).toEqual({
      url: "https://api.example/x",
      method: "GET",
      headers: { "x-probe": "1" },
    });

    const binaryHost = fakeHost({
      capability: async () => ({ kind: "payload", payload: json({ status: 200, headers: {}, bodyBase64: Buffer.from([0, 1, 2, 255]).toString("base64") }) }),
    });
    expect(await run({ mode: "http", url: "https://api.example/bin" }, undefined, binaryHost)).toEqual({
      kind: "value",
      value: { status: 200, body: "", bodyHex: "000102ff", contentType: "" },
    });
  });
});
