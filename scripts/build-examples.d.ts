/** Types of scripts/build-examples.js (plain Node ESM), for TypeScript importers. */
export interface GuestTarget {
  readonly entry: string;
  readonly outFile: string;
}
export interface BuildResult {
  readonly outFile: string;
  /** False when the recorded source hash matched and nothing was compiled. */
  readonly built: boolean;
}
export declare const EXAMPLE_NAMES: readonly string[];
export declare const CONFORMANCE_GUEST: GuestTarget;
export declare function buildGuest(target: GuestTarget): Promise<BuildResult>;
export declare function exampleTarget(name: string): GuestTarget;
export declare function buildExample(name: string): Promise<BuildResult>;
export declare function cleanExamples(): Promise<void>;
