import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The tests against a real nats-server on their own (test/nats/run.sh installs it when missing).
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/nats/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
    pool: "forks",
  },
});
