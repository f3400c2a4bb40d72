import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/integration/**"],
    // Pulumi's mock runtime is process-global state: one file per fork.
    pool: "forks",
    testTimeout: 30_000,
  },
});
