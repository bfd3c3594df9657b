// Rewrites the README's configuration reference from the config section declarations
// (src/config/reference.ts). test/unit/config/readme-reference.test.ts fails when they differ.
import { readFileSync, writeFileSync } from "node:fs";
import { renderConfigReference } from "../src/config/reference.js";

const readme = new URL("../README.md", import.meta.url);
const text = readFileSync(readme, "utf8");
const start = text.indexOf("<!-- config-reference:start");
const end = text.indexOf("<!-- config-reference:end -->");
if (start < 0 || end < 0) throw new Error("README.md lacks the config-reference markers");
const startLineEnd = text.indexOf("\n", start) + 1;
writeFileSync(readme, `${text.slice(0, startLineEnd)}\n${renderConfigReference()}\n${text.slice(end)}`);
console.log("README.md configuration reference updated");
