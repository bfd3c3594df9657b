#!/usr/bin/env node
// The JavaScript entry of the `ccr` command. Users run bin/ccr, a sh launcher that starts node with
// the V8 options of bin/node-options and then this file; `node bin/ccr.js …` works too, without them.
//
// ccr runs a bundle compiled from its TypeScript sources on first use and cached under
// node_modules/.cache/ccr/ (bin/compiled.js): no build step, a fresh `npm ci` is all a user needs
// before `npx ccr up`, and no loader hooks (tsx's cost every process a worker thread and ~30 MB).
// When the bundle cannot be built or stored, ccr runs the sources through tsx's register() instead.
//
// CCR_LOADER: unset = the bundle, else tsx; "tsx" = always tsx (stack traces point at the .ts
// sources without --enable-source-maps); "bundle" = the bundle or exit 1 saying why not.
import { basename } from "node:path";
import { prepareCompiled } from "./compiled.js";

// A bin link made before bin/ccr existed (an old `npm install`, or npx's cache of this package, which
// npx does not refresh) runs this file as "…/.bin/ccr": it works, but without the V8 options.
if (process.argv[1] !== undefined && basename(process.argv[1]) !== "ccr.js") {
  process.stderr.write(
    "ccr: started through an old bin link to bin/ccr.js, so without the node options of bin/node-options; " +
      "reinstall (npm ci), or for npx remove its cache of ccr (the ccr links under ~/.npm/_npx)\n",
  );
}

const loader = process.env.CCR_LOADER ?? "";
if (!["", "tsx", "bundle"].includes(loader)) {
  process.stderr.write(`ccr: CCR_LOADER must be "tsx", "bundle" or unset, not "${loader}"\n`);
  process.exit(2);
}

/** @type {(argv: string[]) => Promise<number>} */
let main;
const compiled = loader === "tsx" ? undefined : await prepareCompiled();
if (compiled?.url !== undefined) {
  ({ main } = await import(compiled.url));
} else {
  if (loader === "bundle") {
    process.stderr.write(`ccr: CCR_LOADER=bundle but the compiled bundle is unavailable: ${compiled?.reason}\n`);
    process.exit(1);
  }
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli/main.ts"));
}
process.exitCode = await main(process.argv.slice(2));
