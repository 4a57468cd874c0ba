import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The browser test needs Chromium, the examples need the .venv and Go: test/browser/run.sh and
    // test/examples/run.sh prepare them and run those folders on their own.
    exclude: ["test/browser/**", "test/examples/**", "node_modules/**"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: "forks",
  },
});
