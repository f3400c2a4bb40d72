import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/integration/**"],
    // Pulumi's mock runtime is process-global, so files run one at a time per
    // fork; every synth resets the mocks and config it uses. Forks are reused
    // across files (isolate: false) because loading the SDKs is most of a
    // file's cost.
    pool: "forks",
    isolate: false,
    testTimeout: 30_000,
  },
});
