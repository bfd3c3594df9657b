#!/usr/bin/env node
// The `ccr` command. ccr runs its TypeScript sources directly through tsx (no build step), so a fresh
// `npm ci` is all a user needs before `npx ccr up`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
