/**
 * `ccr attestation verify --file DOC [--at ISO-TIME] [--pcrs HEX,HEX,HEX ...] [--dev] [--dev-root FILE]`
 * (issue 4, "Attestation").
 *
 * Prints one JSON line:
 *   {"valid":bool,"reason":string|null,"moduleId":string|null,"timestamp":ISO|null,
 *    "pcrs":{"0":hex,…},"pcrAllowlist":"checked"|"not checked","devMode":bool,"verifiedAt":ISO}
 * and exits 0 when valid, 1 when not, 2 when the input is unusable (bad arguments, unreadable file,
 * neither raw COSE bytes nor base64). Fields other than valid/reason come from the document as
 * parsed, whether or not it verified.
 *
 * - `--file` takes raw COSE_Sign1 bytes or their base64.
 * - `--at` sets the verification time (default now) for the certificate validity and age checks.
 * - Each `--pcrs` adds one allowed PCR0,PCR1,PCR2 set; without any, the allowlist is not checked.
 * - All-zero (debug) PCRs are rejected unless `--dev`.
 * - `--dev-root FILE` (PEM or DER) additionally trusts a dev root, e.g. the one `ccr init` wrote; it
 *   requires `--dev`. (An addition to the synopsis, so dev documents can be checked too.)
 */
import {
  createAttestationPolicy,
  createAttestationVerifier,
  parseNitroDocument,
  type AttestationPolicy,
  type PcrSetInput,
} from "../../domain/attestation/index.js";

export interface AttestationVerifyIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly readFile: (path: string) => Uint8Array;
  readonly nowMs: () => number;
}

export const ATTESTATION_VERIFY_USAGE =
  "usage: ccr attestation verify --file DOC [--at ISO-TIME] [--pcrs HEX,HEX,HEX ...] [--dev] [--dev-root FILE]\n" +
  "  --file DOC        attestation document: raw COSE_Sign1 bytes or base64\n" +
  "  --at ISO-TIME     verification time for certificate validity and document age (default now)\n" +
  "  --pcrs P0,P1,P2   an allowed PCR0,PCR1,PCR2 set in hex; repeat for several builds\n" +
  "                    (without --pcrs the allowlist is not checked)\n" +
  "  --dev             dev mode: accept all-zero (debug) PCRs and --dev-root\n" +
  "  --dev-root FILE   also trust this dev root certificate (PEM or DER; needs --dev)\n";

interface Args {
  file: string;
  atMs: number | null;
  pcrSets: PcrSetInput[];
  dev: boolean;
  devRoot: string | null;
}

class UsageError extends Error {}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseArgs(argv: readonly string[]): Args | "help" {
  let file: string | null = null;
  let atMs: number | null = null;
  let dev = false;
  let devRoot: string | null = null;
  const pcrSets: PcrSetInput[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new UsageError(`${flag} needs a value`);
      i++;
      return next;
    };
    switch (flag) {
      case "-h":
      case "--help":
        return "help";
      case "--file":
        if (file !== null) throw new UsageError("--file given twice");
        file = value();
        break;
      case "--at": {
        if (atMs !== null) throw new UsageError("--at given twice");
        const text = value();
        const ms = Date.parse(text);
        if (!ISO_TIME.test(text) || Number.isNaN(ms)) {
          throw new UsageError(`--at must be an ISO-8601 time such as 2024-09-09T19:49:12.400Z, got ${JSON.stringify(text)}`);
        }
        atMs = ms;
        break;
      }
      case "--pcrs": {
        const parts = value().split(",").map((p) => p.trim());
        if (parts.length !== 3 || parts.some((p) => !/^(0x)?[0-9a-fA-F]+$/.test(p))) {
          throw new UsageError("--pcrs takes three hex values: PCR0,PCR1,PCR2");
        }
        pcrSets.push({ pcr0: parts[0] as string, pcr1: parts[1] as string, pcr2: parts[2] as string });
        break;
      }
      case "--dev":
        if (eq >= 0) throw new UsageError("--dev takes no value");
        dev = true;
        break;
      case "--dev-root":
        if (devRoot !== null) throw new UsageError("--dev-root given twice");
        devRoot = value();
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (file === null) throw new UsageError("--file is required");
  if (devRoot !== null && !dev) throw new UsageError("--dev-root requires --dev");
  return { file, atMs, pcrSets, dev, devRoot };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Raw COSE starts with 0x84 (array of 4) or 0xd2 (tag 18); anything else must be base64 text. */
export function decodeDocumentFile(bytes: Uint8Array): Uint8Array | null {
  const first = bytes[0];
  if (first === undefined) return null;
  if (first === 0x84 || first === 0xd2) return bytes;
  const text = Buffer.from(bytes).toString("latin1").replace(/\s+/g, "");
  if (text.length === 0 || !BASE64.test(text)) return null;
  return new Uint8Array(Buffer.from(text, "base64"));
}

export function runAttestationVerify(args: string[], io: AttestationVerifyIo): number {
  let parsed: Args | "help";
  try {
    parsed = parseArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr(`ccr attestation verify: ${e.message}\n${ATTESTATION_VERIFY_USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    io.stdout(ATTESTATION_VERIFY_USAGE);
    return 0;
  }

  const read = (path: string, flag: string): Uint8Array | null => {
    try {
      return io.readFile(path);
    } catch (e) {
      io.stderr(`ccr attestation verify: cannot read ${flag} ${path}: ${e instanceof Error ? e.message : String(e)}\n`);
      return null;
    }
  };
  const fileBytes = read(parsed.file, "--file");
  if (fileBytes === null) return 2;
  const devRootBytes = parsed.devRoot === null ? null : read(parsed.devRoot, "--dev-root");
  if (parsed.devRoot !== null && devRootBytes === null) return 2;
  const document = decodeDocumentFile(fileBytes);
  if (document === null) {
    io.stderr("ccr attestation verify: --file is neither raw COSE_Sign1 bytes nor base64\n");
    return 2;
  }

  let policy: AttestationPolicy;
  try {
    const devRoots =
      devRootBytes === null
        ? []
        : [devRootBytes[0] === 0x30 ? devRootBytes : Buffer.from(devRootBytes).toString("utf8")];
    policy = createAttestationPolicy({
      allowedPcrSets: parsed.pcrSets.length > 0 ? parsed.pcrSets : "unchecked",
      devMode: parsed.dev,
      devRoots,
    });
  } catch (e) {
    io.stderr(`ccr attestation verify: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  if (parsed.dev) {
    io.stderr("ccr attestation verify: warning: dev mode: debug PCRs and dev roots are accepted\n");
  }

  const atMs = parsed.atMs ?? io.nowMs();
  const verifier = createAttestationVerifier({ policy, clock: { nowMs: () => atMs } });
  const verdict = verifier.verifyDocument(document);

  // Describe the document as parsed (unauthenticated when the verdict is negative).
  const claims = parseNitroDocument(document);
  const pcrs: Record<string, string> = {};
  if (claims.kind === "ok") {
    for (const [index, value] of claims.document.pcrs) pcrs[String(index)] = Buffer.from(value).toString("hex");
  }
  const line = {
    valid: verdict.kind === "ok",
    reason: verdict.kind === "ok" ? null : verdict.reason,
    moduleId: claims.kind === "ok" ? claims.document.moduleId : null,
    timestamp: claims.kind === "ok" ? new Date(claims.document.timestampMs).toISOString() : null,
    pcrs,
    pcrAllowlist: policy.pcrAllowlist === "unchecked" ? "not checked" : "checked",
    devMode: policy.devMode,
    verifiedAt: new Date(atMs).toISOString(),
  };
  io.stdout(`${JSON.stringify(line)}\n`);
  return verdict.kind === "ok" ? 0 : 1;
}
