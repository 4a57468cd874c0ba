import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The browser test on its own: it needs Chromium at /usr/bin/chromium (test/browser/run.sh installs it).
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/browser/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
    pool: "forks",
    // Stops any throwaway nats-server of CONSORT_TEST_BACKEND=nats a file left running (test/test-backend.ts).
    setupFiles: ["test/test-backend-setup.ts"],
  },
});
