/**
 * The enclave side of a `ccr init` deployment, for the benchmarks and the fault suite that play the
 * enclave: the DON, a dev attestation producer signed by the deployment's CA for this build's
 * enclave measurements, and the workflow node's signer — read from the files `ccr init` writes
 * (DeploymentPaths), as the enclave process builds them.
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DeploymentPaths } from "../../src/cli/commands/init.js";
import { readDonFile, readKeyFile, readMeasurementsFile, type DonFile } from "../../src/config/index.js";
import { DevAttestationProducer, loadDevAuthority, type EnclaveMeasurements } from "../../src/domain/attestation/index.js";
import { systemClock, type RandomBytes } from "../../src/domain/clock.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "../../src/domain/crypto/ed25519.js";
import { computeEnclaveMeasurements } from "../../src/services/confidential-workflows/index.js";

export interface DeploymentEnclave {
  readonly don: DonFile;
  readonly measurements: EnclaveMeasurements;
  readonly producer: DevAttestationProducer;
  readonly workflowNode: Ed25519Signer;
}

const randomBytes: RandomBytes = (n) => new Uint8Array(nodeRandomBytes(n));

/**
 * @param moduleIdPrefix names the attesting instance, e.g. "i-bench-enc" (a random suffix follows).
 * Fails when the deployment's measurements.json does not allow this build's enclave.
 */
export async function loadDeploymentEnclave(dir: string, moduleIdPrefix: string): Promise<DeploymentEnclave> {
  const don = readDonFile(join(dir, DeploymentPaths.don));
  const measurements = await computeEnclaveMeasurements();
  const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
  const allowed = readMeasurementsFile(join(dir, DeploymentPaths.measurements)).pcrSets;
  if (!allowed.some((s) => s.pcr0 === hex(measurements.pcr0) && s.pcr1 === hex(measurements.pcr1) && s.pcr2 === hex(measurements.pcr2))) {
    throw new Error(`${dir}/measurements.json does not allow this build's enclave measurements (ccr init writes them); was the checkout changed since?`);
  }
  const authority = loadDevAuthority({
    certificatePem: readFileSync(join(dir, DeploymentPaths.attestationCaCert), "utf8"),
    privateKeyPem: readFileSync(join(dir, DeploymentPaths.attestationCaKey), "utf8"),
  });
  const producer = DevAttestationProducer.fromAuthority({
    authority,
    moduleId: `${moduleIdPrefix}${hex(randomBytes(6))}`,
    measurements,
    clock: systemClock,
    randomBytes,
  });
  const workflowNode = ed25519SignerFromSeed(readKeyFile(join(dir, DeploymentPaths.workflowNodeKey)));
  return { don, measurements, producer, workflowNode };
}
