// The HTTP port serves the built operator dashboard at `/`: index.html revalidated on each load, hashed assets
// cached for good, a Content-Security-Policy that lets the page reach only its own origin, and a clear 404 when the
// dashboard was not built.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { startTestBackend, type TestBackend } from "../test-backend.js";

// `backend` per CONSORT_TEST_BACKEND (test/test-backend.ts): nothing in memory, a throwaway nats-server on NATS.
const config = (backend: TestBackend) => loadConfig(["--grpc-port", "0", "--http-port", "0", "--shutdown-grace-ms", "500", ...backend.args], {});
let dir = "";
let backend: TestBackend | undefined;
let app: App | undefined;
let base = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "consort-dashboard-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>Consort</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "export {};");
  backend = await startTestBackend();
  app = await startApp(config(backend), { logger: pino({ level: "silent" }), processMetrics: false, dashboardDir: dir });
  base = `http://127.0.0.1:${app.httpPort}`;
});

afterAll(async () => {
  await app?.close();
  await backend?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the dashboard on the HTTP port", () => {
  it("serves index.html at / with a policy that keeps the page on its own origin", async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(res.headers.get("content-security-policy")).toContain("connect-src 'self'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await res.text()).toContain("<title>Consort</title>");
  });

  it("caches hashed assets for good and answers HEAD", async () => {
    const res = await fetch(`${base}/assets/index-abc123.js`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/javascript/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  });

  it("answers 404 for anything else, and never serves outside its folder", async () => {
    expect((await fetch(`${base}/nothing-here.js`)).status).toBe(404);
    expect((await fetch(`${base}/assets/../../package.json`)).status).toBe(404);
    expect((await fetch(`${base}/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
    // The API and the operators' endpoints are still what they were.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it("says how to build it when it is missing", async () => {
    const bareBackend = await startTestBackend();
    const bare = await startApp(config(bareBackend), { logger: pino({ level: "silent" }), processMetrics: false, dashboardDir: join(dir, "missing") }).catch(async (e: unknown) => {
      await bareBackend.stop();
      throw e;
    });
    try {
      const res = await fetch(`http://127.0.0.1:${bare.httpPort}/`);
      expect(res.status).toBe(404);
      expect(await res.text()).toContain("npm run build");
    } finally {
      await bare.close();
      await bareBackend.stop();
    }
  });
});
