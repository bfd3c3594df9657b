/**
 * The attestation policy options from a process's `attestation` section: the measurement allowlist
 * file, the dev root (dev mode only) and the age bounds. Shared by the relay nodes and the gateway's
 * edge check, so both judge a document the same way.
 */
import {
  readConfigText,
  readMeasurementsFile,
  resolveRelativeTo,
  type AttestationConfig,
} from "../../config/index.js";
import type { AttestationPolicyOptions } from "../../domain/attestation/index.js";

export function attestationPolicyOptions(c: AttestationConfig, configFile: string | undefined): AttestationPolicyOptions {
  const path = (p: string) => resolveRelativeTo(configFile, p);
  const measurements = readMeasurementsFile(path(c.measurementsFile));
  return {
    allowedPcrSets: measurements.pcrSets,
    devMode: c.devMode,
    // The dev producer reports this build's real measurements, so even in dev mode debug (all-zero)
    // PCRs are refused: the allowlist is what decides.
    acceptDebugPcrs: false,
    ...(c.devMode && c.devRootCertFile !== undefined ? { devRoots: [readConfigText(path(c.devRootCertFile))] } : {}),
    maxAttestationAgeMs: c.maxAttestationAgeMs,
    maxClockSkewMs: c.maxClockSkewMs,
  };
}
