// @ts-check
/**
 * The Node/V8 options every ccr process starts with, from bin/node-options — the same file and the
 * same parsing as the sh launcher bin/ccr, so a process started from JavaScript (a benchmark's
 * server) runs as `npx ccr` does: whitespace-separated options, `#` comment lines, and
 * CCR_NODE_OPTIONS, when set (even empty), replacing the file.
 */
import { readFileSync } from "node:fs";

export const NODE_OPTIONS_FILE = new URL("./node-options", import.meta.url);

/**
 * The options as node command-line arguments, e.g. ["--max-semi-space-size=2"].
 * @param {Readonly<Record<string, string | undefined>>} [env]
 * @returns {string[]}
 */
export function nodeOptions(env = process.env) {
  const override = env.CCR_NODE_OPTIONS;
  if (override !== undefined) return splitOptions(override);
  return parseNodeOptionsFile(readFileSync(NODE_OPTIONS_FILE, "utf8"));
}

/**
 * The options in the text of a node-options file.
 * @param {string} text
 * @returns {string[]}
 */
export function parseNodeOptionsFile(text) {
  return splitOptions(
    text
      .split("\n")
      .filter((line) => !/^[ \t]*#/.test(line))
      .join("\n"),
  );
}

/** @param {string} text */
function splitOptions(text) {
  return text.split(/[ \t\n]+/).filter((word) => word !== "");
}
