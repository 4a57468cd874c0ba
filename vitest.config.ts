import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The browser test needs Chromium, the examples need the .venv and Go, the NATS tests a nats-server:
    // test/browser/run.sh, test/examples/run.sh and test/nats/run.sh prepare them and run those folders on their own.
    exclude: ["test/browser/**", "test/examples/**", "test/nats/**", "node_modules/**"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: "forks",
    // Stops any throwaway nats-server of CONSORT_TEST_BACKEND=nats a file left running (test/test-backend.ts).
    setupFiles: ["test/test-backend-setup.ts"],
  },
});
