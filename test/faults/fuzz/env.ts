/**
 * The fuzzer's view of a running mesh (test/support/process-mesh.ts): which server serves which
 * services at which URL, the deployment's DON and keys (so requests can be well-formed up to the
 * part a case corrupts), a document factory on the deployment's dev attestation CA, and the relay
 * nodes' own attestation verifier (for direct `verify` calls), built from relay-node-0's config file
 * exactly as the process builds it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { attestationSection, loadConfig, readKeyFile } from "../../../src/config/index.js";
import { Capability, ConfidentialWorkflows, Gateway, health, reflectionV1, reflectionV1alpha, RelayNode, Vault } from "../../../src/contract/index.js";
import { createAttestationPolicy, createAttestationVerifier, loadDevAuthority, type AttestationVerifier } from "../../../src/domain/attestation/index.js";
import { systemClock } from "../../../src/domain/clock.js";
import { ed25519SignerFromSeed } from "../../../src/domain/crypto/ed25519.js";
import { attestationPolicyOptions } from "../../../src/cli/processes/attestation-policy.js";
import { computeEnclaveMeasurements } from "../../../src/services/confidential-workflows/index.js";
import type { ProcessMesh } from "../../support/process-mesh.js";
import { DocumentFactory } from "./attestation-gen.js";
import type { FuzzEnv, FuzzServer } from "./cases.js";
import { H1Client, H2Client } from "./wire.js";

const BUILT_IN: readonly DescService[] = [health.Health, reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];

/** The servers under test: name → its application service. */
export const SERVERS_UNDER_TEST: readonly (readonly [string, DescService])[] = [
  ["gateway", Gateway],
  ["relay-node-0", RelayNode],
  ["vault", Vault],
  ["capability", Capability],
  ["enclave", ConfidentialWorkflows],
];

export interface BuiltFuzzEnv {
  readonly env: FuzzEnv;
  /** The relay nodes' verifier, for direct calls. */
  readonly verifier: AttestationVerifier;
  close(): void;
}

export async function buildFuzzEnv(m: ProcessMesh, options: { readonly timeoutMs: number }): Promise<BuiltFuzzEnv> {
  const servers: FuzzServer[] = SERVERS_UNDER_TEST.map(([name, service]) => ({ name, url: m.url(name), services: [service, ...BUILT_IN] }));
  const authority = loadDevAuthority({
    certificatePem: readFileSync(join(m.dir, "keys/attestation-ca.pem"), "utf8"),
    privateKeyPem: readFileSync(join(m.dir, "keys/attestation-ca.key"), "utf8"),
  });
  const measurements = await computeEnclaveMeasurements();
  const docs = new DocumentFactory({ authority, measurements, moduleId: "i-fuzz0000000000000-enc0000000000000000" });
  const memberKeys = m.don.members.map((member) => new Uint8Array(Buffer.from(member.publicKey, "hex")));
  const configFile = join(m.dir, "config", "relay-node-0.json");
  const { attestation } = loadConfig({ attestation: attestationSection }, { file: configFile, env: {}, allowUnknownSections: true });
  const verifier = createAttestationVerifier({ policy: createAttestationPolicy(attestationPolicyOptions(attestation, configFile)), clock: systemClock });
  const h1 = new H1Client(8);
  const h2 = new H2Client();
  const env: FuzzEnv = {
    servers,
    gateway: servers[0]!,
    relayNode: servers[1]!,
    relay: {
      signers: memberKeys,
      f: m.don.f,
      workflowNode: ed25519SignerFromSeed(readKeyFile(join(m.dir, "keys/workflow-node.key"))),
      owner: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    },
    docs,
    handshake: {
      gatewayId: m.don.gatewayId,
      donId: m.don.donId,
      memberKeys,
      stranger: ed25519SignerFromSeed(new Uint8Array(32).fill(0xf0)),
    },
    h1,
    h2,
    timeoutMs: options.timeoutMs,
    oversized: new Uint8Array(4 * 1024 * 1024 + 1024).fill(0x41),
  };
  return {
    env,
    verifier,
    close() {
      h1.close();
      h2.close();
    },
  };
}
