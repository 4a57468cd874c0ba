import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The browser test needs Chromium; test/browser/run.sh installs it and runs that folder on its own.
    exclude: ["test/browser/**", "node_modules/**"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: "forks",
  },
});
