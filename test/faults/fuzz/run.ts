/**
 * The fuzz loop: cases [from, to) with a fixed number in flight, each generated from its own
 * Prng(seed, index) so any one case can be replayed alone (CCR_FAULTS_SEED + CCR_FAULTS_FUZZ_CASE).
 * Tallies outcomes per category, server and label, and keeps every finding (server-fault, hang,
 * down) grouped by what it was, with the inputs of its first few occurrences.
 */
import { CATEGORY_WEIGHTS, runCase, type CaseResult, type Category, type FuzzEnv } from "./cases.js";
import type { OutcomeClass } from "./classify.js";
import { Prng } from "./prng.js";

export const FINDING_CLASSES: ReadonlySet<OutcomeClass> = new Set(["server-fault", "hang", "down"]);

/** One kind of bad answer: the same class, label and message family, wherever it came from. */
export interface Finding {
  readonly cls: OutcomeClass;
  readonly label: string;
  /** The message of the first occurrence. */
  readonly message: string;
  count: number;
  /** "category → server" → occurrences. */
  readonly where: Record<string, number>;
  /** Case indices and inputs of the first occurrences (one per category → server, up to 6). */
  readonly examples: { readonly caseIndex: number; readonly category: Category; readonly server: string; readonly variant: string; readonly input: string }[];
}

export interface FuzzStats {
  cases: number;
  readonly byClass: Record<string, number>;
  readonly byCategory: Record<string, Record<string, number>>;
  readonly byServer: Record<string, number>;
  /** category → label → count (what the servers answered). */
  readonly labels: Record<string, Record<string, number>>;
  readonly findings: Map<string, Finding>;
  durationMs: number;
}

export function emptyStats(): FuzzStats {
  return { cases: 0, byClass: {}, byCategory: {}, byServer: {}, labels: {}, findings: new Map(), durationMs: 0 };
}

/** The Prng of case `index`: independent of every other case and of concurrency. */
export function caseRng(seed: number, index: number): Prng {
  return new Prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

export async function runOneCase(env: FuzzEnv, seed: number, index: number): Promise<CaseResult> {
  const rng = caseRng(seed, index);
  const category = rng.weighted(CATEGORY_WEIGHTS);
  return runCase(env, rng, category);
}

function inc(rec: Record<string, number>, key: string): void {
  rec[key] = (rec[key] ?? 0) + 1;
}

/** The family of a message: its prefix up to the first colon ("parse binary"), else its shape. */
function family(message: string): string {
  const colon = message.indexOf(":");
  if (colon > 0 && colon < 60) return message.slice(0, colon);
  return message.replace(/0x[0-9a-f]+/gi, "0x…").replace(/[0-9a-f]{16,}/gi, "…").replace(/\d+/g, "N").slice(0, 100);
}

export function record(stats: FuzzStats, index: number, r: CaseResult): void {
  stats.cases++;
  inc(stats.byClass, r.outcome.cls);
  inc((stats.byCategory[r.category] ??= {}), r.outcome.cls);
  inc(stats.byServer, r.server);
  inc((stats.labels[r.category] ??= {}), r.outcome.label);
  if (!FINDING_CLASSES.has(r.outcome.cls)) return;
  const message = r.outcome.message ?? "";
  const key = `${r.outcome.cls}|${r.outcome.label}|${family(message)}`;
  let f = stats.findings.get(key);
  if (f === undefined) {
    f = { cls: r.outcome.cls, label: r.outcome.label, message: message.slice(0, 300), count: 0, where: {}, examples: [] };
    stats.findings.set(key, f);
  }
  f.count++;
  const where = `${r.category} → ${r.server}`;
  if (f.where[where] === undefined && f.examples.length < 6) {
    f.examples.push({ caseIndex: index, category: r.category, server: r.server, variant: r.variant, input: r.input.slice(0, 1500) });
  }
  inc(f.where, where);
}

export async function runFuzz(
  env: FuzzEnv,
  o: { readonly seed: number; readonly from: number; readonly to: number; readonly concurrency: number; readonly stats?: FuzzStats; readonly onProgress?: (done: number) => void },
): Promise<FuzzStats> {
  const stats = o.stats ?? emptyStats();
  const started = performance.now();
  let next = o.from;
  let done = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      for (let i = next++; i < o.to; i = next++) {
        let r: CaseResult;
        try {
          r = await runOneCase(env, o.seed, i);
        } catch (error) {
          // A generator or client bug, not a server finding: surface it as such.
          throw new Error(`fuzz case ${i} (seed ${o.seed}) failed to run: ${error instanceof Error ? error.stack : String(error)}`);
        }
        record(stats, i, r);
        done++;
        if (done % 10_000 === 0) o.onProgress?.(done);
      }
    }),
  );
  stats.durationMs += performance.now() - started;
  return stats;
}
