/**
 * The node options every ccr process starts with (bin/node-options), as JavaScript reads them; the
 * sh launcher's reading of the same file is checked end to end in test/integration/cli/launcher.test.ts.
 */
import { describe, expect, it } from "vitest";
import { nodeOptions, parseNodeOptionsFile } from "../../../bin/node-options.js";

describe("nodeOptions", () => {
  it("gives the file's options: a young generation of at most 2 MB per semi-space", () => {
    expect(nodeOptions({})).toEqual(["--max-semi-space-size=2"]);
  });

  it("is replaced, not extended, by CCR_NODE_OPTIONS; an empty one means no options", () => {
    expect(nodeOptions({ CCR_NODE_OPTIONS: " --max-semi-space-size=8\t--max-old-space-size=512 " })).toEqual(["--max-semi-space-size=8", "--max-old-space-size=512"]);
    expect(nodeOptions({ CCR_NODE_OPTIONS: "" })).toEqual([]);
  });

  it("reads options separated by spaces and newlines and skips comment lines", () => {
    expect(parseNodeOptionsFile("# why\n--a=1 --b\n\n  # indented comment\n\t--c\n")).toEqual(["--a=1", "--b", "--c"]);
  });
});
