import { defineConfig } from "vitest/config";

// Integration tests talk to the OpenStack lab that test/integration/run.sh
// starts (SKE_LAB_DIR); the unit configuration excludes this directory.
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/integration/**/*.test.ts"],
    pool: "forks",
    // One file at a time: they share one lab and one project.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
  },
});
