/**
 * One execution's host calls against a recording fake relay: which secrets go over the relay and
 * when, batching, reference ids, the subscribe phase, the receipts kept, and what reaches the log.
 */
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { RelayReceiptSchema, type RelayReceipt } from "../../../src/contract/index.js";
import { ManualClock } from "../../../src/domain/clock.js";
import {
  ExecutionHost,
  fetchSecretsInto,
  NO_EXECUTION_ID,
  REDACTED_SECRET,
} from "../../../src/services/confidential-workflows/execution-host.js";
import type { CapabilityCall, ExecutionIdentity, RelayClient, SecretId, SecretItem, SecretsFetch } from "../../../src/services/confidential-workflows/relay-client.js";
import { RelayReceipts } from "../../../src/services/confidential-workflows/relay-receipts.js";

const IDENTITY: ExecutionIdentity = { workflowId: "w".repeat(64), owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", executionId: "e".repeat(64), orgId: "", authorization: undefined };
const never = new AbortController().signal;

/** A stand-in receipt, told apart by its request id (certificates are checked in relay.test.ts). */
const receipt = (requestId: string): RelayReceipt => create(RelayReceiptSchema, { method: "confidential.secrets.get", requestId });

function fakeRelay(
  answer: (ids: readonly SecretId[]) => SecretsFetch = (ids) => ({
    kind: "ok",
    items: ids.map((id) => ({ kind: "secret", ...id, value: `value-of-${id.key}` })),
    receipt: receipt(`secrets-${ids[0]?.key}`),
  }),
  capability: (referenceId: string) => CapabilityCall = (referenceId) => ({ kind: "ok", response: { kind: "payload", payload: new Uint8Array() }, receipt: receipt(`call-${referenceId}`) }),
) {
  const secretCalls: SecretId[][] = [];
  const capabilityCalls: string[] = [];
  const relay = {
    getSecrets: async (_: ExecutionIdentity, ids: readonly SecretId[]) => {
      secretCalls.push([...ids]);
      return answer(ids);
    },
    executeCapability: async (_: ExecutionIdentity, referenceId: string) => {
      capabilityCalls.push(referenceId);
      return capability(referenceId);
    },
  } as unknown as RelayClient;
  return { relay, secretCalls, capabilityCalls };
}

function host(relay: RelayClient, secrets = new Map<string, SecretItem>(), identity = IDENTITY, receipts = new RelayReceipts()) {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (l: string) => void lines.push(l) });
  return { host: new ExecutionHost({ relay, identity, secrets, receipts, logger, clock: new ManualClock(42) }), lines, receipts };
}

describe("ExecutionHost", () => {
  it("answers from the prefetched secrets and fetches only the rest, once", async () => {
    const f = fakeRelay();
    const secrets = new Map<string, SecretItem>();
    await fetchSecretsInto(f.relay, IDENTITY, [{ key: "A", namespace: "main" }], secrets, new RelayReceipts(), never);
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
    await fetchSecretsInto(f.relay, IDENTITY, ids, new Map(), new RelayReceipts(), never);
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
    const f = fakeRelay(() => ({ kind: "ok", items: [{ kind: "secret", key: "API_KEY", namespace: "main", value: "s3cr3t-api-key" }], receipt: receipt("r") }));
    const { host: h, lines } = host(f.relay);
    await h.getSecrets({ requests: [{ id: "API_KEY", namespace: "main" }] }, never);
    h.log("warn", "oops, the key is s3cr3t-api-key!");
    const line = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 40, source: "guest", msg: `oops, the key is ${REDACTED_SECRET}!` });
    expect(lines.join("")).not.toContain("s3cr3t-api-key");
  });

  it("keeps a receipt per certified answer in call order — the pre-start fetch, then the guest's calls — and none for an uncertified one", async () => {
    const f = fakeRelay(
      (ids) =>
        ids[0]?.key === "DOWN"
          ? { kind: "failed", failure: "transport", error: "relay call failed (Unavailable): down" }
          : ids[0]?.key === "REFUSED"
            ? { kind: "failed", failure: "relay_error", error: "relay refused the request (PermissionDenied): no", receipt: receipt("secrets-REFUSED") }
            : { kind: "ok", items: ids.map((id) => ({ kind: "secret", ...id, value: "v" })), receipt: receipt(`secrets-${ids[0]?.key}`) },
      (referenceId) =>
        referenceId.endsWith(":1")
          ? { kind: "failed", failure: "certificate_invalid", error: "relay answer rejected: quorum certificate has 1 valid member signatures, need 2" }
          : { kind: "ok", response: { kind: "payload", payload: new Uint8Array() }, receipt: receipt(`call-${referenceId}`) },
    );
    const secrets = new Map<string, SecretItem>();
    const receipts = new RelayReceipts();
    await fetchSecretsInto(f.relay, IDENTITY, [{ key: "PRE", namespace: "main" }], secrets, receipts, never);
    const { host: h } = host(f.relay, secrets, IDENTITY, receipts);
    const call = { id: "echo@1.0.0", method: "Execute", payload: new Uint8Array() };
    await h.callCapability(call, never);
    await h.getSecrets({ requests: [{ id: "DOWN", namespace: "main" }] }, never);
    await h.callCapability(call, never);
    await h.getSecrets({ requests: [{ id: "REFUSED", namespace: "main" }] }, never);
    await h.getSecrets({ requests: [{ id: "PRE", namespace: "main" }] }, never); // answered from the prefetch: no call, no receipt
    await h.callCapability(call, never);
    const id = IDENTITY.executionId;
    expect(receipts.list().map((r) => r.requestId)).toEqual(["secrets-PRE", `call-${id}:0`, "secrets-REFUSED", `call-${id}:2`]);
  });

  it("keeps the first receipts up to the bound and counts the rest as dropped", async () => {
    const receipts = new RelayReceipts(2);
    const { host: h } = host(fakeRelay().relay, new Map(), IDENTITY, receipts);
    for (let i = 0; i < 5; i++) await h.callCapability({ id: "echo@1.0.0", method: "Execute", payload: new Uint8Array() }, never);
    expect(receipts.list().map((r) => r.requestId)).toEqual([`call-${IDENTITY.executionId}:0`, `call-${IDENTITY.executionId}:1`]);
    expect(receipts.dropped).toBe(3);
  });

  it("answers now() from the injected clock", () => {
    expect(host(fakeRelay().relay).host.nowMs()).toBe(42);
  });
});
