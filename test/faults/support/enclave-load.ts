/**
 * Valid relay traffic for the fault-injection suite: this process plays the enclave.
 *
 * It reuses the enclave's own relay client (src/services/confidential-workflows/relay-client.ts)
 * with what a deployment directory holds: the dev attestation CA (keys/attestation-ca.{pem,key}),
 * this build's measurements (computeEnclaveMeasurements(), which `ccr init` wrote into
 * measurements.json), the DON (don.json) and the workflow node's key (keys/workflow-node.key),
 * which signs each execution's authorization (authorizationPayload, src/contract/relay-hash.ts).
 * So every call is a valid `Gateway.ExecuteCapability(echo@1.0.0)` in binding mode (b): a session
 * attestation document (verified once per node, then cached) plus a session signature per request,
 * the authorization checked on every node, N Capability calls, N signatures, and the quorum
 * certificate checked HERE, as the enclave does, before a call counts as "ok". The echoed payload
 * must come back byte for byte.
 *
 * Outcome labels: "ok"; the Connect code name of an RPC error the gateway (or the transport)
 * answered ("Unavailable", "ResourceExhausted", "DeadlineExceeded", …); or the relay client's own
 * failure kind ("certificate_invalid", "malformed", "relay_error", "attestation") and
 * "payload_altered" / "capability_error" for a certified answer that is not the echo.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { authorizationPayload, Gateway, WorkflowAuthorizationSchema } from "../../../src/contract/index.js";
import { systemClock, type RandomBytes } from "../../../src/domain/clock.js";
import { CONFIDENTIAL_WORKFLOWS_DEFAULTS, generateEnclaveKeys } from "../../../src/services/confidential-workflows/index.js";
import { EnclaveAttestation } from "../../../src/services/confidential-workflows/enclave-attestation.js";
import { RelayClient, type ExecutionIdentity } from "../../../src/services/confidential-workflows/relay-client.js";
import { createServiceClient, Http2SessionPool } from "../../../src/transport/index.js";
import { loadDeploymentEnclave } from "../../../bench/lib/deployment-enclave.js";
import type { Call, CallOutcome } from "./load.js";

const randomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Any checksummed owner: echo@1.0.0 reads no owner data. */
const OWNER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
/** A new execution (and authorization) every this many calls per sender, as a workflow would. */
const CALLS_PER_EXECUTION = 10;

export interface EnclaveLoadOptions {
  /** The deployment directory `ccr init` wrote. */
  readonly dir: string;
  /** The gateway's base URL. */
  readonly gatewayUrl: string;
  /**
   * Enclave identities sharing the load (default 8). The gateway rate-limits per sender (100/s,
   * burst 200) and globally (1 000/s, burst 2 000).
   */
  readonly senders?: number;
  /** The client's deadline per call (default 30 s, the gateway's own bound). */
  readonly requestTimeoutMs?: number;
}

export interface EnclaveLoad {
  /** One relay call through the gateway. Never rejects. */
  readonly call: Call;
  /** The DON members' names by hex public key (from don.json). */
  readonly memberNames: ReadonlyMap<string, string>;
  /** Closes the client's HTTP/2 connections. */
  close(): void;
}

type GatewayClient = Client<typeof Gateway>;

/** The enclave side, built from the deployment directory as the enclave process builds it. */
export async function createEnclaveLoad(options: EnclaveLoadOptions): Promise<EnclaveLoad> {
  const { dir } = options;
  const senders = options.senders ?? 8;
  const { don, producer, workflowNode } = await loadDeploymentEnclave(dir, "i-faults-enc");
  // Its own HTTP/2 connections: a killed gateway's session must not linger in a shared pool.
  const sessions = new Http2SessionPool();
  const gateway: GatewayClient = createServiceClient(Gateway, { baseUrl: options.gatewayUrl, protocol: "grpc", sessions });
  const donConfig = { signers: don.members.map((m) => new Uint8Array(Buffer.from(m.publicKey, "hex"))), f: don.f };
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;

  const identities = Array.from({ length: senders }, () => {
    const keys = generateEnclaveKeys(randomBytes);
    const attestation = new EnclaveAttestation({
      producer,
      keys,
      clock: systemClock,
      mode: "session",
      refreshIntervalMs: CONFIDENTIAL_WORKFLOWS_DEFAULTS.refreshIntervalMs,
    });
    return { keys, attestation, execution: newExecution(), used: 0 };
  });

  function newExecution(): ExecutionIdentity {
    const workflowId = hex(randomBytes(32));
    const executionId = hex(randomBytes(32));
    return {
      workflowId,
      owner: OWNER,
      executionId,
      orgId: "",
      authorization: create(WorkflowAuthorizationSchema, {
        signatures: [{ signer: workflowNode.publicKey, signature: workflowNode.sign(authorizationPayload({ owner: OWNER, workflowId, executionId })) }],
      }),
    };
  }

  let seq = 0;
  const call: Call = async (): Promise<CallOutcome> => {
    const i = seq++;
    const sender = identities[i % senders]!;
    if (sender.used >= CALLS_PER_EXECUTION) {
      sender.execution = newExecution();
      sender.used = 0;
    }
    sender.used++;
    // The gateway client as the relay client sees it, remembering the RPC error's code: the relay
    // client reports transport failures as text, and the suite asserts on codes.
    let rpcError: ConnectError | undefined;
    const observed = {
      executeCapability: async (...args: Parameters<GatewayClient["executeCapability"]>) => {
        try {
          return await gateway.executeCapability(...args);
        } catch (error) {
          rpcError = ConnectError.from(error);
          throw error;
        }
      },
    } as unknown as GatewayClient;
    const client = new RelayClient({
      gateway: observed,
      don: donConfig,
      keys: sender.keys,
      attestation: sender.attestation,
      clock: systemClock,
      randomBytes,
      requestTimeoutMs,
    });
    const payload = Buffer.from(JSON.stringify({ call: i, pad: "x".repeat(48) }));
    const out = await client.executeCapability(sender.execution, `faults-${i}`, { id: "echo@1.0.0", method: "Execute", payload }, new AbortController().signal);
    if (out.kind === "failed") {
      if (out.failure === "transport" && rpcError !== undefined) return { outcome: Code[rpcError.code] ?? `code ${rpcError.code}`, detail: rpcError.rawMessage };
      return { outcome: out.failure, detail: out.error };
    }
    const signers = (out.receipt.certificate?.signatures ?? []).map((s) => hex(s.signer));
    if (out.response.kind !== "payload") return { outcome: "capability_error", detail: out.response.error, signers };
    if (!Buffer.from(out.response.payload).equals(payload)) return { outcome: "payload_altered", signers };
    return { outcome: "ok", signers };
  };

  return {
    call,
    memberNames: new Map(don.members.map((m) => [m.publicKey.toLowerCase(), m.name])),
    close: () => sessions.closeAll(),
  };
}
