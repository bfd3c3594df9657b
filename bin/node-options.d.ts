// Types of bin/node-options.js (plain JavaScript), for TypeScript callers.
export declare const NODE_OPTIONS_FILE: URL;
export declare function nodeOptions(env?: Readonly<Record<string, string | undefined>>): string[];
export declare function parseNodeOptionsFile(text: string): string[];
