import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The examples suite on its own: it needs the .venv with the generated Python client and Go (test/examples/run.sh
// prepares both), and runs every example program against a fresh built server.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/examples/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Stops any throwaway nats-server of CONSORT_TEST_BACKEND=nats a file left running (test/test-backend.ts).
    setupFiles: ["test/test-backend-setup.ts"],
  },
});
