// Consort called from a real browser: Chromium loads a page from one origin and calls Consort's HTTP port (another
// origin, so CORS is exercised) with gRPC-Web (Subscribe) and Connect (Publish, ListSignals). Run it with
// test/browser/run.sh, which installs Debian's Chromium when it is missing.
import { existsSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Code } from "@connectrpc/connect";
import * as esbuild from "esbuild";
import { pino } from "pino";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { startTestBackend, type TestBackend } from "../test-backend.js";
import type { ConsortRun, GoogleRun } from "./page.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const COORDINATION = "browser-e2e";

/** Rejects after `ms` with a message naming `what`. */
function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Bundles page.ts for the browser, in memory. */
async function bundlePage(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL("./page.ts", import.meta.url))],
    bundle: true,
    write: false,
    platform: "browser",
    format: "esm",
    target: "es2022",
    logLevel: "silent",
  });
  const out = result.outputFiles[0];
  if (out === undefined) throw new Error("esbuild produced no output");
  return out.text;
}

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Consort browser test</title>
<script type="module" src="/page.js"></script></head>
<body>Consort browser test</body></html>
`;

/** Serves index.html and the bundle on 127.0.0.1 with a free port. */
async function startStaticServer(bundle: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && (req.url === "/" || req.url === "/index.html")) {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
      res.end(INDEX_HTML);
    } else if (req.method === "GET" && req.url === "/page.js") {
      res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-store" });
      res.end(bundle);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

let app: App | undefined;
let staticServer: http.Server | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let consortUrl = "";
let backend: TestBackend | undefined;
/** Browser console errors and uncaught page errors, shown when an assertion fails. */
const pageLog: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the browser test needs Debian's Chromium. Run "bash test/browser/run.sh", ` +
        "which installs it (apt-get install chromium, as root) and then runs this test.",
    );
  }
  const bundle = await within("esbuild bundle of page.ts", 20_000, bundlePage());
  staticServer = await startStaticServer(bundle);
  const pageOrigin = `http://127.0.0.1:${(staticServer.address() as AddressInfo).port}`;

  backend = await startTestBackend(); // per CONSORT_TEST_BACKEND (test/test-backend.ts)
  const config = loadConfig(
    ["--grpc-port", "0", "--http-port", "0", "--shutdown-grace-ms", "2000", "--cors-origins", pageOrigin, ...backend.args],
    {},
  );
  app = await within("Consort start", 10_000, startApp(config, { logger: pino({ level: "silent" }), processMetrics: false }));
  consortUrl = `http://127.0.0.1:${app.httpPort}`;
  expect(new URL(consortUrl).origin).not.toBe(pageOrigin); // cross-origin for real

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") pageLog.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
  await page.goto(`${pageOrigin}/`, { waitUntil: "load", timeout: 15_000 });
  await page.waitForFunction(() => typeof (globalThis as { runConsort?: unknown }).runConsort === "function", undefined, {
    timeout: 10_000,
  });
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  if (staticServer) await closeServer(staticServer);
  await app?.close();
  await backend?.stop();
});

describe("Consort from Chromium (cross-origin: gRPC-Web Subscribe, Connect Publish/ListSignals)", () => {
  it("streams the published signals in order, lists them newest first and reports INVALID_ARGUMENT", async () => {
    const p = page;
    if (p === undefined) throw new Error("the page did not open");
    const run = await within(
      "runConsort in the page",
      30_000,
      p.evaluate(
        ([url, c]) =>
          (globalThis as unknown as { runConsort(u: string, c: string): Promise<ConsortRun> }).runConsort(url, c),
        [consortUrl, COORDINATION] as const,
      ),
    ).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\npage log:\n${pageLog.join("\n")}`);
    });

    expect(run.subscribed).toEqual({ headSequence: "0" });
    expect(run.received).toEqual([
      {
        sequence: "1",
        type: "SIGNAL_TYPE_AGENT_INITIALIZED",
        sender: "model-generator",
        recipients: [],
        data: { agent_id: "model-generator" },
      },
      {
        sequence: "2",
        type: "SIGNAL_TYPE_INTER_AGENT_MESSAGE",
        sender: "model-generator",
        recipients: ["browser-agent"],
        data: { text: "hello from the model generator" },
      },
      {
        sequence: "3",
        type: "SIGNAL_TYPE_AGENT_COMPLETED",
        sender: "model-generator",
        recipients: [],
        data: { agent_id: "model-generator", success: true },
      },
    ]);
    expect(run.listed).toEqual(["3", "2", "1"]);
    expect(run.error?.code).toBe(Code.InvalidArgument);
    expect(run.error?.codeName).toBe("InvalidArgument");
    expect(run.error?.rawMessage).toMatch(/^coordination_id:/);

    // The browser's cancellation of the stream reaches the server.
    const end = Date.now() + 5_000;
    while (app !== undefined && app.signals.subscriptionCount !== 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(app?.signals.subscriptionCount).toBe(0);
    expect(pageLog.filter((l) => l.startsWith("pageerror"))).toEqual([]);
  });

  it("serves Google's grpc-web client in text mode (application/grpc-web-text): unary and a live stream", async () => {
    const p = page;
    if (p === undefined) throw new Error("the page did not open");
    const run = await within(
      "runGoogleGrpcWebText in the page",
      30_000,
      p.evaluate(
        ([url, c]) =>
          (globalThis as unknown as { runGoogleGrpcWebText(u: string, c: string): Promise<GoogleRun> }).runGoogleGrpcWebText(url, c),
        [consortUrl, `${COORDINATION}-google`] as const,
      ),
    ).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\npage log:\n${pageLog.join("\n")}`);
    });
    expect(run.publishedSequence).toBe("1");
    expect(run.received.map((s) => s.sequence)).toEqual(["1", "2", "3"]);
    expect(run.received.map((s) => s.type).sort()).toEqual(["SIGNAL_TYPE_AGENT_COMPLETED", "SIGNAL_TYPE_AGENT_INITIALIZED", "SIGNAL_TYPE_STAGE_COMPLETED"]);
  });
});
