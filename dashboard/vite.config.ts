import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The operator dashboard: built at `npm run build` into dist/dashboard, which the server serves at `/` on its HTTP
// port. Everything is bundled (no CDN): the page works on a machine without network.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
});
