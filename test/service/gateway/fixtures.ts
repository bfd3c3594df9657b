/**
 * In-memory gateway fixture: a RelayGateway behind createRouterTransport (bidi works in memory), a
 * Connect client for enclave calls, and fake signing nodes dialing the same transport.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Client, type Transport } from "@connectrpc/connect";
import { Registry } from "prom-client";
import {
  ExecuteCapabilityRequestSchema,
  Gateway,
  GetSecretsRequestSchema,
  type ExecuteCapabilityRequest,
  type GetSecretsRequest,
} from "../../../src/contract/index.js";
import { ManualClock, systemClock, type Clock } from "../../../src/domain/clock.js";
import {
  createGateway,
  ManualTimers,
  resolveGatewayOptions,
  systemTimers,
  type EdgeCheck,
  type GatewayHandle,
  type GatewayOptions,
  type Timers,
} from "../../../src/services/gateway/index.js";
import { startFakeDon, testSigner, type FakeDon, type FakeNodeBehavior } from "../../support/fake-nodes.js";

export const GATEWAY_ID = "gw-1";
export const DON_ID = "don-1";

export interface GatewayFixture {
  readonly gateway: GatewayHandle;
  readonly client: Client<typeof Gateway>;
  readonly transport: Transport;
  readonly registry: Registry;
  readonly clock: Clock;
  /** Present when the fixture runs on manual time. */
  readonly manual: { readonly clock: ManualClock; readonly timers: ManualTimers } | undefined;
  readonly don: FakeDon;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** One behaviour per member (N = behaviors.length unless `members` says more). */
  readonly behaviors: readonly FakeNodeBehavior[];
  /** Members configured at the gateway (default: behaviors.length); extra members never connect. */
  readonly members?: number;
  readonly f: number;
  readonly blocked?: readonly number[];
  readonly manualTime?: boolean;
  readonly edge?: EdgeCheck;
  readonly options?: Partial<GatewayOptions>;
}

export async function startGatewayFixture(o: FixtureOptions): Promise<GatewayFixture> {
  const manualClock = o.manualTime === true ? new ManualClock(1_700_000_000_000) : undefined;
  const manual = manualClock === undefined ? undefined : { clock: manualClock, timers: new ManualTimers(manualClock) };
  const clock: Clock = manual?.clock ?? systemClock;
  const timers: Timers = manual?.timers ?? systemTimers;
  const n = o.members ?? o.behaviors.length;
  const keys = Array.from({ length: n }, (_, i) => testSigner(i).publicKey);
  // On manual time, heartbeats would fire in one synchronous burst while node replies need real
  // event-loop turns; tests that exercise heartbeats set the interval themselves.
  const heartbeat = manual === undefined ? {} : { heartbeatIntervalMs: 3_600_000 };
  const config = resolveGatewayOptions({ gatewayId: GATEWAY_ID, donId: DON_ID, members: keys, f: o.f, ...heartbeat, ...o.options });
  const registry = new Registry();
  const gateway = createGateway({ config, registry, clock, timers, ...(o.edge === undefined ? {} : { edge: o.edge }) });
  const transport = createRouterTransport(({ service }) => service(Gateway, gateway.service));
  const client = createClient(Gateway, transport);
  const don = startFakeDon({
    transport,
    gatewayId: GATEWAY_ID,
    donId: DON_ID,
    behaviors: o.behaviors,
    ...(o.blocked === undefined ? {} : { blocked: o.blocked }),
  });
  await don.ready();
  await waitUntil(() => gateway.core.connectedMembers.length === o.behaviors.length);
  return {
    gateway,
    client,
    transport,
    registry,
    clock,
    manual,
    don,
    async close() {
      gateway.close();
      await don.stop();
    },
  };
}

/** Polls (on real time) until `predicate` holds; message passing in memory needs a few turns. */
export async function waitUntil(predicate: () => boolean, what = "condition"): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (predicate()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export function attestationDoc(sender = "enclave-a"): Uint8Array {
  return new TextEncoder().encode(`attestation-document:${sender}`);
}

export function secretsRequest(requestId: string, overrides: Exclude<MessageInitShape<typeof GetSecretsRequestSchema>, GetSecretsRequest> = {}): GetSecretsRequest {
  return create(GetSecretsRequestSchema, {
    requestId,
    workflowId: "ab".repeat(32),
    owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    executionId: "cd".repeat(32),
    orgId: "org-1",
    secrets: [{ key: "API_KEY" }, { key: "DB_PASSWORD", namespace: "prod" }],
    enclavePublicKey: new Uint8Array(32).fill(7),
    enclaveConfig: { signers: [], f: 1 },
    timestampMs: 1_700_000_000_000n,
    attestation: { document: attestationDoc() },
    ...overrides,
  });
}

export function capabilityRequest(requestId: string, overrides: Exclude<MessageInitShape<typeof ExecuteCapabilityRequestSchema>, ExecuteCapabilityRequest> = {}): ExecuteCapabilityRequest {
  return create(ExecuteCapabilityRequestSchema, {
    requestId,
    workflowId: "ab".repeat(32),
    owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    executionId: "cd".repeat(32),
    referenceId: "17",
    capabilityId: "echo@1.0.0",
    payload: new TextEncoder().encode("hello"),
    enclaveConfig: { signers: [], f: 1 },
    timestampMs: 1_700_000_000_000n,
    attestation: { document: attestationDoc() },
    ...overrides,
  });
}

/** An edge check that names the sender by the document text after "attestation-document:". */
export const textSenderEdge: EdgeCheck = {
  check(params) {
    const doc = new TextDecoder().decode(params.value.attestation?.document ?? new Uint8Array());
    return { kind: "ok", senderId: doc.replace("attestation-document:", "") };
  },
};

/** Reads one metric sample value from the registry. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const base = registry.getSingleMetric(name) ?? registry.getSingleMetric(name.replace(/_(count|sum|bucket)$/, ""));
  const metric = await base?.get();
  if (metric === undefined) throw new Error(`no metric ${name}`);
  let total = 0;
  for (const v of metric.values) {
    const metricName = (v as { metricName?: string }).metricName;
    if (metricName !== undefined && metricName !== name) continue;
    if (Object.entries(labels).every(([k, x]) => String((v.labels as Record<string, unknown>)[k]) === x)) total += v.value;
  }
  return total;
}
