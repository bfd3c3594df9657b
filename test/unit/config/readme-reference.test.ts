import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderConfigReference } from "../../../src/config/reference.js";

describe("README configuration reference", () => {
  it("is exactly what the config declarations say (run `npm run docs:config` after changing a key)", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    const start = readme.indexOf("\n", readme.indexOf("<!-- config-reference:start")) + 1;
    const end = readme.indexOf("<!-- config-reference:end -->");
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    expect(readme.slice(start, end).trim()).toBe(renderConfigReference().trim());
  });
});
