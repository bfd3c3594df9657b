// Types of bin/compiled.js (plain JavaScript, run before any TypeScript loader), for the tests.
export declare const LAUNCHER_FORMAT: number;
export declare const PACKAGE_ROOT: string;
export declare const DEFAULT_ENTRY: string;
export declare const SOURCE_DIRS: readonly string[];

export interface CompiledOptions {
  /** Package root holding src/, gen/ and package.json (default: this package). */
  readonly root?: string;
  /** Entry point relative to root (default src/cli/main.ts). */
  readonly entry?: string;
}

/** `built`: this call ran esbuild (false: it reused a cache directory). */
export type CompiledResult = { url: string; dir: string; built: boolean } | { url: undefined; reason: string };

export declare function compiledEntry(options?: CompiledOptions): Promise<string | undefined>;
export declare function prepareCompiled(options?: CompiledOptions): Promise<CompiledResult>;
export declare function sourceFingerprint(root: string, entry: string, esbuildVersion: string): string;
