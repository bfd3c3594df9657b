/**
 * PCR0/1/2 of this enclave build, computed from its source files (docs/enclave.md, "Measurements").
 *
 * A Nitro enclave's PCRs are SHA-384 measurements the hypervisor takes of the enclave image file:
 * PCR0 the whole image, PCR1 the kernel and bootstrap, PCR2 the application. A process here has no
 * image, so the dev build measures what plays those parts:
 *
 *   PCR1 = SHA-384(layout("ccr.enclave.pcr1", files of src/wasm))                        the runtime
 *   PCR2 = SHA-384(layout("ccr.enclave.pcr2", files of src/services/confidential-workflows))  the app
 *   PCR0 = SHA-384(layout("ccr.enclave.pcr0", PCR1, PCR2))                                the image
 *
 * where layout(domain, files) is the canonical writer (src/contract/canonical.ts): the domain tag,
 * the file count, then for each regular file in bytewise order of its repository-relative POSIX
 * path: str(path) ‖ bytes(content). Any edit to those files gives new PCRs, so relay nodes pinning
 * the values accept only this exact build. `ccr up` computes the same values to configure the
 * nodes' allowlist. A deployment may instead configure measurements explicitly (e.g. those of a
 * released build).
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { CanonicalWriter } from "../../domain/canonical.js";
import type { EnclaveMeasurements } from "../../domain/attestation/index.js";
import { packageRoot } from "../../package-root.js";

/** The directories each PCR measures, relative to the repository root. */
export const MEASURED_SOURCES = Object.freeze({
  pcr1: Object.freeze(["src/wasm"]),
  pcr2: Object.freeze(["src/services/confidential-workflows"]),
});

/** The repository root of this checkout (ccr's package root). */
export function defaultSourceRoot(): string {
  return packageRoot();
}

async function listFiles(rootDir: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(rootDir, dir), { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(rootDir, path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

async function measureFiles(rootDir: string, domain: string, dirs: readonly string[]): Promise<Uint8Array> {
  const paths = (await Promise.all(dirs.map((d) => listFiles(rootDir, d))))
    .flat()
    .map((p) => p.split(sep).join("/"))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const w = new CanonicalWriter(domain).u64(paths.length);
  for (const path of paths) w.str(path).bytes(await readFile(join(rootDir, path)));
  return new Uint8Array(createHash("sha384").update(w.finish()).digest());
}

/** The build's measurements from the sources under `rootDir` (default: this checkout). */
export async function computeEnclaveMeasurements(rootDir: string = defaultSourceRoot()): Promise<EnclaveMeasurements> {
  const pcr1 = await measureFiles(rootDir, "ccr.enclave.pcr1", MEASURED_SOURCES.pcr1);
  const pcr2 = await measureFiles(rootDir, "ccr.enclave.pcr2", MEASURED_SOURCES.pcr2);
  const pcr0 = new Uint8Array(createHash("sha384").update(new CanonicalWriter("ccr.enclave.pcr0").bytes(pcr1).bytes(pcr2).finish()).digest());
  return Object.freeze({ pcr0, pcr1, pcr2 });
}
