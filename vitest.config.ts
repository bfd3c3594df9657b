/**
 * Test runner settings for the whole repository (tests live in test/{unit,service,integration}).
 *
 * Sized for a shared 2-core box: two forked workers (forks isolate native/WASM state such as PGlite
 * better than threads, and a crashed file cannot take the others down). Timeouts are generous
 * because integration suites start real servers and databases (a PGlite clone takes ~0.5–1 s, a
 * cold PGlite 2–5 s); tests still never assert on time.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 15_000,
    // Tests run once in CI and by hand; no watch mode unless asked for.
    watch: false,
  },
});
