/**
 * One execution's host calls against a recording fake relay: which secrets go over the relay and
 * when, batching, reference ids, the subscribe phase, and what reaches the log.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/domain/clock.js";
import {
  ExecutionHost,
  fetchSecretsInto,
  NO_EXECUTION_ID,
  REDACTED_SECRET,
} from "../../../src/services/confidential-workflows/execution-host.js";
import type { ExecutionIdentity, RelayClient, SecretId, SecretItem, SecretsFetch } from "../../../src/services/confidential-workflows/relay-client.js";

const IDENTITY: ExecutionIdentity = { workflowId: "w".repeat(64), owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", executionId: "e".repeat(64), orgId: "", authorization: undefined };
const never = new AbortController().signal;

function fakeRelay(answer: (ids: readonly SecretId[]) => SecretsFetch = (ids) => ({ kind: "ok", items: ids.map((id) => ({ kind: "secret", ...id, value: `value-of-${id.key}` })) })) {
  const secretCalls: SecretId[][] = [];
  const capabilityCalls: string[] = [];
  const relay = {
    getSecrets: async (_: ExecutionIdentity, ids: readonly SecretId[]) => {
      secretCalls.push([...ids]);
      return answer(ids);
    },
    executeCapability: async (_: ExecutionIdentity, referenceId: string) => {
      capabilityCalls.push(referenceId);
      return { kind: "ok", response: { kind: "payload", payload: new Uint8Array() } };
    },
  } as unknown as RelayClient;
  return { relay, secretCalls, capabilityCalls };
}

function host(relay: RelayClient, secrets = new Map<string, SecretItem>(), identity = IDENTITY) {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (l: string) => void lines.push(l) });
  return { host: new ExecutionHost({ relay, identity, secrets, logger, clock: new ManualClock(42) }), lines };
}

describe("ExecutionHost", () => {
  it("answers from the prefetched secrets and fetches only the rest, once", async () => {
    const f = fakeRelay();
    const secrets = new Map<string, SecretItem>();
    await fetchSecretsInto(f.relay, IDENTITY, [{ key: "A", namespace: "main" }], secrets, never);
    const { host: h } = host(f.relay, secrets);
    const first = await h.getSecrets({ requests: [{ id: "A", namespace: "main" }, { id: "B", namespace: "" }, { id: "B", namespace: "main" }] }, never);
    expect(first.responses).toEqual([
      { kind: "secret", id: "A", namespace: "main", value: "value-of-A" },
      { kind: "secret", id: "B", namespace: "main", value: "value-of-B" },
      { kind: "secret", id: "B", namespace: "main", value: "value-of-B" },
    ]);
    await h.getSecrets({ requests: [{ id: "B", namespace: "main" }] }, never);
    expect(f.secretCalls).toEqual([[{ key: "A", namespace: "main" }], [{ key: "B", namespace: "main" }]]);
  });

  it("splits more than 64 secrets into round trips of 64", async () => {
    const f = fakeRelay();
    const ids = Array.from({ length: 130 }, (_, i) => ({ key: `K${i}`, namespace: "main" }));
    await fetchSecretsInto(f.relay, IDENTITY, ids, new Map(), never);
    expect(f.secretCalls.map((c) => c.length)).toEqual([64, 64, 2]);
  });

  it("turns a failed round trip into an error for each of its secrets", async () => {
    const f = fakeRelay(() => ({ kind: "failed", failure: "transport", error: "relay call failed (Unavailable): down" }));
    const { host: h } = host(f.relay);
    const res = await h.getSecrets({ requests: [{ id: "A", namespace: "main" }] }, never);
    expect(res.responses).toEqual([{ kind: "error", id: "A", namespace: "main", error: "relay call failed (Unavailable): down" }]);
  });

  it("numbers capability calls <execution_id>:0, :1, …", async () => {
    const f = fakeRelay();
    const { host: h } = host(f.relay);
    for (let i = 0; i < 3; i++) await h.callCapability({ id: "echo@1.0.0", method: "Execute", payload: new Uint8Array() }, never);
    expect(f.capabilityCalls).toEqual([0, 1, 2].map((n) => `${IDENTITY.executionId}:${n}`));
    expect(h.capabilityCalls).toBe(3);
  });

  it("refuses relay calls without an execution id (subscribe phase), without calling the relay", async () => {
    const f = fakeRelay();
    const { host: h } = host(f.relay, new Map(), { ...IDENTITY, executionId: "" });
    expect(await h.callCapability({ id: "echo@1.0.0", method: "Execute", payload: new Uint8Array() }, never)).toEqual({ kind: "error", error: NO_EXECUTION_ID });
    expect((await h.getSecrets({ requests: [{ id: "A", namespace: "main" }] }, never)).responses[0]).toMatchObject({ kind: "error", error: NO_EXECUTION_ID });
    expect(f.secretCalls).toHaveLength(0);
    expect(f.capabilityCalls).toHaveLength(0);
  });

  it("logs guest lines at their level, with a received secret's value redacted", async () => {
    const f = fakeRelay(() => ({ kind: "ok", items: [{ kind: "secret", key: "API_KEY", namespace: "main", value: "s3cr3t-api-key" }] }));
    const { host: h, lines } = host(f.relay);
    await h.getSecrets({ requests: [{ id: "API_KEY", namespace: "main" }] }, never);
    h.log("warn", "oops, the key is s3cr3t-api-key!");
    const line = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 40, source: "guest", msg: `oops, the key is ${REDACTED_SECRET}!` });
    expect(lines.join("")).not.toContain("s3cr3t-api-key");
  });

  it("answers now() from the injected clock", () => {
    expect(host(fakeRelay().relay).host.nowMs()).toBe(42);
  });
});
