/**
 * `npm run test:faults` (issue 9): the fault-injection suite — real processes on loopback, with
 * bounded load loops — kept apart from `npm test`.
 *
 * Files are named `*.faults.ts` (not `*.test.ts`), so vitest.config.ts's `test/**\/*.test.ts`
 * never picks them up. They run one at a time (maxWorkers 1, no file parallelism): each starts a
 * whole mesh of OS processes and measures latency against a baseline taken in the same file, which
 * a second mesh on the same 2-core box would distort; the Postgres file restarts the server, which
 * nothing else may be using at that moment. Timeouts are generous because a cold mesh on a busy
 * box takes tens of seconds to start; the tests bound their own waits.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/faults/**/*.faults.ts"],
    environment: "node",
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
    watch: false,
  },
});
