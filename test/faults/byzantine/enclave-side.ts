/**
 * The enclave side of the Byzantine suite, built from a deployment directory exactly as the enclave
 * process builds it (src/cli/processes/enclave.ts, bench/e2e-relay.ts): the dev attestation CA
 * `ccr init` wrote, this build's measurements, session-mode attestation (one document per sender,
 * verified once per node and cached, plus a session signature per request), and the workflow node's
 * key for the execution authorization. Every answer goes through the real `RelayClient`, so the
 * quorum certificate is checked by `verifyQuorumCertificate` against a result hash recomputed from
 * the request's own binding hash — the check this suite is about.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { authorizationPayload, WorkflowAuthorizationSchema, type Gateway } from "../../../src/contract/index.js";
import { systemClock, type RandomBytes } from "../../../src/domain/clock.js";
import { CONFIDENTIAL_WORKFLOWS_DEFAULTS, generateEnclaveKeys } from "../../../src/services/confidential-workflows/index.js";
import { EnclaveAttestation } from "../../../src/services/confidential-workflows/enclave-attestation.js";
import { RelayClient, type ExecutionIdentity } from "../../../src/services/confidential-workflows/relay-client.js";
import { loadDeploymentEnclave } from "../../../bench/lib/deployment-enclave.js";

const randomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** One enclave identity (its own keys and session document) and the gateway client it talks through. */
export interface EnclaveSender {
  readonly client: RelayClient;
  /** A fresh execution identity, authorized by the deployment's workflow node key. */
  newIdentity(): ExecutionIdentity;
}

export interface EnclaveSideOptions {
  /** The deployment directory (`ccr init`). */
  readonly dir: string;
  /** One gateway client per sender (the honest gateway, or a tampering wrapper around it). */
  readonly gateways: readonly Client<typeof Gateway>[];
  /** The owner the identities act for (the secrets' owner). */
  readonly owner: string;
  readonly workflowId: string;
  readonly requestTimeoutMs: number;
}

/** Builds one RelayClient per gateway client, each a separate enclave identity. */
export async function enclaveSenders(o: EnclaveSideOptions): Promise<EnclaveSender[]> {
  const { don, producer, workflowNode } = await loadDeploymentEnclave(o.dir, "i-faults-enc");
  const signers = don.members.map((m) => new Uint8Array(Buffer.from(m.publicKey, "hex")));
  const newIdentity = (): ExecutionIdentity => {
    const executionId = hex(randomBytes(32));
    return {
      workflowId: o.workflowId,
      owner: o.owner,
      executionId,
      orgId: "",
      authorization: create(WorkflowAuthorizationSchema, {
        signatures: [
          {
            signer: workflowNode.publicKey,
            signature: workflowNode.sign(authorizationPayload({ owner: o.owner, workflowId: o.workflowId, executionId })),
          },
        ],
      }),
    };
  };
  return o.gateways.map((gateway) => {
    const keys = generateEnclaveKeys(randomBytes);
    const attestation = new EnclaveAttestation({
      producer,
      keys,
      clock: systemClock,
      mode: "session",
      refreshIntervalMs: CONFIDENTIAL_WORKFLOWS_DEFAULTS.refreshIntervalMs,
    });
    const client = new RelayClient({
      gateway,
      don: { signers, f: don.f },
      keys,
      attestation,
      clock: systemClock,
      randomBytes,
      requestTimeoutMs: o.requestTimeoutMs,
    });
    return { client, newIdentity };
  });
}
