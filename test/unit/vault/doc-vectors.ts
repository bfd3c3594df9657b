/**
 * Reads the ```text vector blocks of a page in docs/ (`name = value` lines; a repeated name
 * continues its value), so the tests check exactly what the page publishes.
 */
import { readFileSync } from "node:fs";

export function documentedVectors(page: string): Array<Record<string, string>> {
  const doc = readFileSync(new URL(`../../../docs/${page}`, import.meta.url), "utf8");
  return [...doc.matchAll(/```text vector\n([\s\S]*?)```/g)].map((block) => {
    const fields: Record<string, string> = {};
    for (const line of block[1]!.split("\n")) {
      const match = /^([a-z_]+)\s*=\s*(.*)$/.exec(line.trim());
      if (match) fields[match[1]!] = (fields[match[1]!] ?? "") + match[2]!.replace(/\s+/g, "");
    }
    return fields;
  });
}

export function vectorNamed(page: string, vector: string): Record<string, string> {
  const found = documentedVectors(page).find((v) => v["vector"] === vector);
  if (found === undefined) throw new Error(`docs/${page} has no vector named ${vector}`);
  return found;
}
