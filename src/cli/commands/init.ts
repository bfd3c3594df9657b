/**
 * `ccr init [--dir .ccr] [--nodes 4] [--f 1] [--base-port 7400] [--force]`: creates a deployment
 * directory — the DON keys, the workflow-node key, the vault master keyring, the dev attestation CA,
 * the enclave measurement allowlist, a demo owner key, one config file per process and the shared DON
 * config. Key files are written readable by their owner only (0600, in a 0700 directory).
 */
import { randomBytes as nodeRandomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import type { DonFile, MeasurementsFile } from "../../config/index.js";
import { createDevRootAuthority, type EnclaveMeasurements } from "../../domain/attestation/index.js";
import type { RandomBytes } from "../../domain/clock.js";
import { generateEd25519 } from "../../domain/crypto/ed25519.js";
import { addressOfPrivateKey } from "../../domain/ethereum/eip191.js";
import type { CommandIo } from "../io.js";
import { meshPorts, type MeshPorts } from "../mesh-ports.js";

export interface InitOptions {
  readonly dir: string;
  readonly nodes: number;
  readonly f: number;
  readonly basePort: number;
  readonly host: string;
  readonly force: boolean;
  readonly measurements: EnclaveMeasurements;
  readonly nowMs: number;
  readonly randomBytes: RandomBytes;
}

export interface InitResult {
  readonly dir: string;
  readonly ports: MeshPorts;
  readonly demoOwner: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The files `ccr init` writes, relative to the deployment directory. */
export const DeploymentPaths = Object.freeze({
  don: "don.json",
  measurements: "measurements.json",
  keys: "keys",
  relayNodeKey: (i: number) => `keys/relay-node-${i}.key`,
  workflowNodeKey: "keys/workflow-node.key",
  vaultKeyring: "keys/vault-master.json",
  attestationCaCert: "keys/attestation-ca.pem",
  attestationCaKey: "keys/attestation-ca.key",
  demoOwnerKey: "keys/demo-owner.key",
  config: (name: string) => `config/${name}.json`,
  data: "data",
});

export function pcrSetOf(m: EnclaveMeasurements): MeasurementsFile["pcrSets"][number] {
  return { pcr0: hex(m.pcr0), pcr1: hex(m.pcr1), pcr2: hex(m.pcr2) };
}

/** Creates the deployment directory; refuses to overwrite an existing one unless `force`. */
export function initDeployment(o: InitOptions): InitResult {
  const dir = resolve(o.dir);
  if (existsSync(join(dir, DeploymentPaths.don)) && !o.force) {
    throw new Error(`${dir} already holds a deployment (don.json exists); pass --force to overwrite its keys and configs`);
  }
  if (o.nodes < 3 * o.f + 1) throw new Error(`--nodes ${o.nodes} is too small for --f ${o.f}: need N ≥ 3F+1 = ${3 * o.f + 1}`);
  for (const sub of ["", DeploymentPaths.keys, "config", DeploymentPaths.data]) {
    mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  }
  chmodSync(join(dir, DeploymentPaths.keys), 0o700);
  const writeSecret = (path: string, content: string) => {
    writeFileSync(join(dir, path), content, { mode: 0o600 });
    chmodSync(join(dir, path), 0o600); // a pre-existing file keeps its mode on write
  };
  const writePublic = (path: string, value: unknown) =>
    writeFileSync(join(dir, path), typeof value === "string" ? value : `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 });

  const nodeKeys = Array.from({ length: o.nodes }, () => generateEd25519());
  nodeKeys.forEach((k, i) => writeSecret(DeploymentPaths.relayNodeKey(i), `${hex(k.seed)}\n`));
  const workflowNode = generateEd25519();
  writeSecret(DeploymentPaths.workflowNodeKey, `${hex(workflowNode.seed)}\n`);
  writeSecret(
    DeploymentPaths.vaultKeyring,
    `${JSON.stringify({ activeKeyId: "k1", keys: { k1: hex(o.randomBytes(32)) } }, null, 2)}\n`,
  );
  const ca = createDevRootAuthority({ nowMs: o.nowMs, randomBytes: o.randomBytes });
  writePublic(DeploymentPaths.attestationCaCert, ca.certificatePem);
  writeSecret(DeploymentPaths.attestationCaKey, ca.privateKeyPem);
  const ownerKey = secp256k1.utils.randomSecretKey(o.randomBytes(48));
  writeSecret(DeploymentPaths.demoOwnerKey, `${hex(ownerKey)}\n`);

  const don: DonFile = {
    donId: "ccr-dev-don",
    gatewayId: "gateway-0",
    f: o.f,
    members: nodeKeys.map((k, i) => ({ name: `relay-node-${i}`, publicKey: hex(k.signer.publicKey) })),
    workflowNodeKeys: [hex(workflowNode.signer.publicKey)],
    authorizationThreshold: 1,
  };
  writePublic(DeploymentPaths.don, don);
  const measurements: MeasurementsFile = { pcrSets: [pcrSetOf(o.measurements)] };
  writePublic(DeploymentPaths.measurements, measurements);

  const ports = meshPorts(o.basePort, o.nodes);
  const url = (port: number) => `http://${o.host}:${port}`;
  const server = (port: number) => ({ host: o.host, port });
  // A dev deployment: nodes accept the dev attestation root and the dev build's measurements.
  const attestation = { devMode: true, devRootCertFile: `../${DeploymentPaths.attestationCaCert}` };
  writePublic(DeploymentPaths.config("gateway"), { server: server(ports.gateway), gateway: {}, attestation });
  nodeKeys.forEach((_, i) =>
    writePublic(DeploymentPaths.config(`relay-node-${i}`), {
      server: server(ports.relayNodes[i]!),
      relayNode: {
        keyFile: `../${DeploymentPaths.relayNodeKey(i)}`,
        gatewayUrls: [url(ports.gateway)],
        vaultUrl: url(ports.vault),
        capabilityUrl: url(ports.capability),
      },
      attestation,
    }),
  );
  writePublic(DeploymentPaths.config("vault"), { server: server(ports.vault), vault: {} });
  writePublic(DeploymentPaths.config("capability"), {
    server: server(ports.capability),
    capability: { httpAllowedHosts: ["127.0.0.1", "localhost"], httpAllowInsecure: true },
  });
  writePublic(DeploymentPaths.config("enclave"), { server: server(ports.enclave), enclave: { gatewayUrl: url(ports.gateway) } });
  writePublic(DeploymentPaths.config("workflow-node"), {
    server: server(0),
    workflowNode: { enclaveUrl: url(ports.enclave), capabilityUrl: url(ports.capability), artifactPort: ports.artifacts },
  });
  return { dir, ports, demoOwner: addressOfPrivateKey(ownerKey) };
}

const USAGE = `Usage: ccr init [--dir DIR] [--nodes N] [--f F] [--base-port N] [--host HOST] [--force]

Creates a deployment directory (default .ccr): relay DON keys (N=4, F=1), the workflow-node key, the
vault master keyring, the dev attestation CA, the enclave measurement allowlist, a demo owner key, one
config file per process and the shared DON config (don.json). Refuses to overwrite without --force.
`;

export async function runInit(argv: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: "string", default: ".ccr" },
        nodes: { type: "string", default: "4" },
        f: { type: "string", default: "1" },
        "base-port": { type: "string", default: "7400" },
        host: { type: "string", default: "127.0.0.1" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    io.stderr(`ccr init: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const int = (name: string, raw: string, min: number, max: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer ${min}–${max}, got "${raw}"`);
    return n;
  };
  try {
    const { computeEnclaveMeasurements } = await import("../../services/confidential-workflows/measurements.js");
    const result = initDeployment({
      dir: values.dir,
      nodes: int("nodes", values.nodes, 1, 64),
      f: int("f", values.f, 0, 21),
      basePort: int("base-port", values["base-port"], 1, 65000),
      host: values.host,
      force: values.force,
      measurements: await computeEnclaveMeasurements(),
      nowMs: Date.now(),
      randomBytes: (n) => new Uint8Array(nodeRandomBytes(n)),
    });
    io.stdout(`created deployment in ${result.dir}\n  demo owner ${result.demoOwner}\n  start it with: ccr up --dir ${values.dir}\n`);
    return 0;
  } catch (error) {
    io.stderr(`ccr init: ${(error as Error).message}\n`);
    return 2;
  }
}
