/**
 * The config sections of each ccr process. A process's config file holds `server` plus its own
 * section(s); file paths are relative to the config file (`ccr init` writes them that way, so a
 * deployment directory can be moved as a whole).
 */
import { boolean, defineSection, integer, string, stringList, type SectionValues } from "./keys.js";

const url = { pattern: /^https?:\/\/\S+$/, patternDescription: "an http:// or https:// URL" } as const;

/** How relay nodes (and the gateway's edge check) judge enclave attestation. */
export const attestationSection = defineSection({
  devMode: boolean({
    default: false,
    description: "Accept documents chained to the dev attestation root and debug (all-zero) PCRs. Never in production.",
  }),
  devRootCertFile: string({ description: "PEM of the dev attestation root (dev mode only)." }).optional(),
  measurementsFile: string({
    default: "../measurements.json",
    description: "Allowlist of enclave builds: {\"pcrSets\": [{pcr0, pcr1, pcr2}]} (hex).",
  }),
  maxAttestationAgeMs: integer({ min: 1_000, max: 86_400_000, default: 300_000, unit: "ms", description: "Oldest document accepted." }),
  maxClockSkewMs: integer({ min: 0, max: 600_000, default: 30_000, unit: "ms", description: "How far in the future a document may be." }),
});

export const gatewaySection = defineSection({
  donFile: string({ default: "../don.json", description: "The shared DON config." }),
  requestTimeoutMs: integer({ min: 100, max: 600_000, default: 30_000, unit: "ms", description: "A relay request's longest life." }),
  nodeSendTimeoutMs: integer({ min: 10, max: 600_000, default: 10_000, unit: "ms", description: "Longest wait to hand a request to one node (clamped to requestTimeoutMs)." }),
  maxInFlight: integer({ min: 1, max: 1_000_000, default: 10_000, description: "Relay requests in flight before ResourceExhausted." }),
  edgeAttestation: boolean({ default: true, description: "Check attestation once at the edge before fanning out (nodes still decide)." }),
});

export const relayNodeSection = defineSection({
  keyFile: string({ description: "This node's ed25519 key (32-byte seed, hex)." }),
  donFile: string({ default: "../don.json", description: "The shared DON config." }),
  gatewayUrls: stringList({ minItems: 1, itemPattern: url.pattern, itemDescription: "gateway URLs", description: "Gateways to dial." }),
  vaultUrl: string({ ...url, description: "The Vault service." }),
  capabilityUrl: string({ ...url, description: "The Capability service." }),
});

export const vaultSection = defineSection({
  donFile: string({ default: "../don.json", description: "The shared DON config (who may read secrets)." }),
  keyringFile: string({ default: "../keys/vault-master.json", description: "The master keyring {activeKeyId, keys}." }),
  databaseUrl: string({ env: "DATABASE_URL", secret: true, description: "postgres:// URL; unset uses embedded PGlite in dataDir." }).optional(),
  dataDir: string({ default: "../data/vault", description: "PGlite data directory when databaseUrl is unset." }),
});

export const capabilitySection = defineSection({
  httpAllowedHosts: stringList({ default: [], description: "Hosts http-fetch may reach (host or host:port; *.example.com)." }),
  httpAllowInsecure: boolean({ default: false, description: "Let http-fetch use plain http:// (local testing)." }),
  httpTimeoutMs: integer({ min: 100, max: 120_000, default: 10_000, unit: "ms", description: "http-fetch timeout." }),
  httpMaxResponseBytes: integer({ min: 1024, max: 64 * 1024 * 1024, default: 1024 * 1024, unit: "bytes", description: "http-fetch response cap." }),
});

export const enclaveSection = defineSection({
  donFile: string({ default: "../don.json", description: "The DON the enclave verifies quorum certificates against." }),
  gatewayUrl: string({ ...url, description: "The gateway the enclave relays through." }),
  caCertFile: string({ default: "../keys/attestation-ca.pem", description: "Dev attestation CA certificate (PEM)." }),
  caKeyFile: string({ default: "../keys/attestation-ca.key", description: "Dev attestation CA private key (PEM)." }),
  maxConcurrentExecutions: integer({ min: 1, max: 1024, default: 4, description: "Guests running at once; more answer ResourceExhausted." }),
  executionTimeoutMs: integer({ min: 100, max: 600_000, default: 30_000, unit: "ms", description: "Wall-clock limit per execution." }),
});

export const workflowNodeSection = defineSection({
  keyFile: string({ default: "../keys/workflow-node.key", description: "The workflow node's ed25519 key (signs execution authorizations)." }),
  databaseUrl: string({ env: "DATABASE_URL", secret: true, description: "postgres:// URL; unset uses embedded PGlite in dataDir." }).optional(),
  dataDir: string({ default: "../data/workflow-node", description: "PGlite data directory when databaseUrl is unset." }),
  enclaveUrl: string({ ...url, description: "The ConfidentialWorkflows service." }),
  capabilityUrl: string({ ...url, description: "The Capability service (for non-confidential workflows)." }),
  artifactPort: integer({ min: 0, max: 65535, default: 0, description: "Port of the artifact store and admin API." }),
  artifactPublicUrl: string({ ...url, description: "Base URL the artifact store is reached at, when not http://host:artifactPort." }).optional(),
  syncIntervalMs: integer({ min: 100, max: 3_600_000, default: 12_000, unit: "ms", description: "Registry reconciliation tick." }),
  adminToken: string({ secret: true, description: "Bearer token the admin API requires (unset: none, loopback only)." }).optional(),
});

export type AttestationConfig = SectionValues<typeof attestationSection>;
export type GatewayProcessConfig = SectionValues<typeof gatewaySection>;
export type RelayNodeProcessConfig = SectionValues<typeof relayNodeSection>;
export type VaultProcessConfig = SectionValues<typeof vaultSection>;
export type CapabilityProcessConfig = SectionValues<typeof capabilitySection>;
export type EnclaveProcessConfig = SectionValues<typeof enclaveSection>;
export type WorkflowNodeProcessConfig = SectionValues<typeof workflowNodeSection>;
