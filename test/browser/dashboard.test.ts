// The operator dashboard in a real browser: Chromium (Debian's, driven by playwright-core) opens the page the
// server serves at `/`, while a Python agent and a Go agent — each its own process, through the generated gRPC
// clients — publish, distribute context and wait on each other. The page reaches the server through a TCP proxy
// that can cut every connection (a network drop) or be pointed at a restarted server, as can the agents'.
// Screenshots go to test-results/dashboard/. Run with test/browser/run.sh.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { cuttingProxy, type CuttingProxy } from "../api/cutting-proxy.js";
import { root } from "../examples/launchers.js";
import { startServer, type Server } from "../examples/server.js";
import { startGoAgent, startPythonAgent, type DrivenAgent } from "./driven-agents.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const COORDINATION = "codegen-run-1";
const SHOTS = join(root, "test-results", "dashboard");

let server: Server | undefined;
let httpProxy: CuttingProxy | undefined;
let grpcProxy: CuttingProxy | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let planner: DrivenAgent | undefined; // Python
let coder: DrivenAgent | undefined; // Go
const pageLog: string[] = [];

const portOf = (address: string) => Number(address.split(":")[1]);

/** The page, for a test that runs after beforeAll. */
function thePage(): Page {
  if (page === undefined) throw new Error("no page");
  return page;
}

/** The timeline as the page shows it: each row's epoch and sequence, and the reset rows, in document order. */
async function timelineRows(p: Page): Promise<string[]> {
  return p.$$eval("[data-testid=timeline] tr", (trs) =>
    trs.map((tr) => (tr.getAttribute("data-testid") === "timeline-reset" ? "reset" : `${tr.getAttribute("data-epoch")}#${tr.getAttribute("data-sequence")}`)),
  );
}

/** Waits until the page's timeline shows `n` signal rows. */
async function untilSignalRows(p: Page, n: number): Promise<void> {
  // Polled from the test, not evaluated in the page: the dashboard's CSP forbids eval, as it should.
  await expect.poll(() => p.locator("[data-testid=signal-row]").count(), { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(n);
}

/** Sequences shown, in order, of the signal rows of each log (split at reset rows). */
function sequencesByLog(rows: readonly string[]): number[][] {
  const logs: number[][] = [[]];
  for (const r of rows) {
    if (r === "reset") logs.push([]);
    else logs[logs.length - 1]!.push(Number(r.split("#")[1]));
  }
  return logs;
}

const POLL = { timeout: 20_000, interval: 100 };
const attr = (l: Locator, name: string) => l.getAttribute(name, { timeout: 500 }).catch(() => null);
const text = (l: Locator) => l.textContent({ timeout: 500 }).catch(() => null);

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash test/browser/run.sh", which installs Debian's Chromium.`);
  if (!existsSync(join(root, "dist/dashboard/index.html"))) throw new Error("dist/dashboard is missing: run `npm run build` first");
  mkdirSync(SHOTS, { recursive: true });
  const goAgent = join(tmpdir(), `consort-driven-agent-${process.pid}`);
  execFileSync("go", ["build", "-o", goAgent, "./cmd/driven-agent"], { cwd: join(root, "test/go"), stdio: "inherit" });

  server = await startServer();
  httpProxy = await cuttingProxy(portOf(server.httpAddress));
  grpcProxy = await cuttingProxy(portOf(server.grpcAddress));
  const grpcAddr = `127.0.0.1:${grpcProxy.port}`;
  [planner, coder] = await Promise.all([startPythonAgent(grpcAddr, COORDINATION, "planner"), startGoAgent(goAgent, grpcAddr, COORDINATION, "coder")]);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20_000);
  page.on("console", (m) => {
    if (m.type() === "error") pageLog.push(`console.error: ${m.text()}`);
  });
  page.on("pageerror", (e) => pageLog.push(`pageerror: ${e.message}`));
  page.on("dialog", (d) => void d.accept());
  await page.goto(`http://127.0.0.1:${httpProxy.port}/`, { waitUntil: "load" });
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await Promise.all([planner?.stop(), coder?.stop()]);
  httpProxy?.close();
  grpcProxy?.close();
  await server?.stop();
});

describe("the dashboard, driven while Python and Go agents work", () => {
  it("lists the coordination as agents start, and follows its signals in order", async () => {
    const p = thePage();
    await expect.poll(() => attr(p.locator("[data-testid=connection]"), "data-state"), POLL).toBe("live");
    await planner!.ok({ op: "publish", type: "agent_initialized", data: { role: "planner", language: "python" } });
    await coder!.ok({ op: "publish", type: "agent_initialized", data: { role: "coder", language: "go" } });
    await planner!.ok({ op: "distribute", agents: ["planner", "coder", "reviewer"] });
    for (let i = 1; i <= 5; i++) await (i % 2 === 0 ? coder! : planner!).ok({ op: "publish", type: "inter_agent_message", data: { step: i } });

    const row = p.locator(`[data-testid=coordination-row][data-id="${COORDINATION}"]`);
    await row.click();
    await untilSignalRows(p, 7);
    const rows = await timelineRows(p);
    expect(sequencesByLog(rows)).toEqual([range(1, 7)]);
    await expect.poll(() => attr(p.locator("[data-testid=timeline-state]"), "data-state"), POLL).toBe("live");
    await shot(p, "timeline-1280x800");

    await p.click("[data-testid=tab-agents]");
    await expect.poll(() => p.locator("[data-testid=agent-row]").count(), POLL).toBe(3);
    await expect.poll(() => text(p.locator('[data-testid=agent-row][data-agent="reviewer"] td').nth(2)), POLL).toBe("v1");
    await shot(p, "agents-1280x800");
    expect(pageLog).toEqual([]);
  });

  it("shows a wait in progress, a deadlock as a cycle, and the wait turning resolved", async () => {
    const p = thePage();
    await p.click("[data-testid=tab-dependencies]");
    // The Go coder waits for the Python planner's completion…
    const coderWait = coder!.send({ op: "wait", dependency: "plan", on: "planner" });
    await expect.poll(() => attr(p.locator('[data-testid=dependency-row][data-dependency="plan"]'), "data-status"), POLL).toBe("in_progress");
    // …and the planner waits for the coder's: that would close a cycle, so it fails at once, and the page names it.
    const plannerWait = await planner!.ok({ op: "wait", dependency: "code", on: "coder" });
    expect(plannerWait.status).toBe("failed");
    expect(plannerWait.message).toContain("would close a wait cycle");
    await expect.poll(() => text(p.locator("[data-testid=cycle]")), POLL).toContain("coder → planner → coder");
    await expect.poll(() => attr(p.locator('[data-testid=graph-node][data-key="agent:coder"]'), "data-on-cycle"), POLL).toBe("true");
    await expect.poll(() => p.locator('[data-testid=graph-edge][data-on-cycle="true"]').count(), POLL).toBe(2);
    await shot(p, "deadlock-1280x800");

    // The planner completes: the coder's wait resolves and the cycle is gone.
    await planner!.ok({ op: "complete" });
    const answered = await coderWait;
    expect(answered).toMatchObject({ ok: true, success: true, status: "resolved" });
    await expect.poll(() => attr(p.locator('[data-testid=dependency-row][data-dependency="plan"]'), "data-status"), POLL).toBe("resolved");
    await expect.poll(() => p.locator("[data-testid=cycle]").count(), POLL).toBe(0);
    await shot(p, "resolved-1280x800");

    await p.setViewportSize({ width: 390, height: 844 });
    await shot(p, "dependencies-390x844");
    await p.click("[data-testid=tab-timeline]");
    await shot(p, "timeline-390x844");
    await p.setViewportSize({ width: 1280, height: 800 });
    expect(pageLog).toEqual([]);
  });

  it("loses and repeats no row across a network drop", async () => {
    const p = thePage();
    await p.click("[data-testid=tab-timeline]");
    const before = (await timelineRows(p)).length;
    // Every connection of the page is cut while the agents publish; the page resubscribes after the last sequence.
    for (let i = 0; i < 3; i++) {
      // The page's streams (the coordinations watch, the timeline) are connected again before each cut.
      await expect.poll(() => httpProxy!.openSockets, POLL).toBeGreaterThanOrEqual(4);
      expect(httpProxy!.cutAll()).toBeGreaterThan(0);
      await planner!.ok({ op: "publish", type: "stage_completed", data: { stage: `s${i}` } });
      await coder!.ok({ op: "publish", type: "inter_agent_message", data: { after_cut: i } });
    }
    await untilSignalRows(p, before + 6);
    const logs = sequencesByLog(await timelineRows(p));
    expect(logs).toEqual([range(1, before + 6)]);
    await expect.poll(() => attr(p.locator("[data-testid=timeline-state]"), "data-state"), POLL).toBe("live");
  });

  it("loses and repeats no row across a server restart, and says the history was reset", async () => {
    const p = thePage();
    const shown = sequencesByLog(await timelineRows(p));
    expect(shown).toHaveLength(1);
    const firstLog = shown[0]!;
    // The in-memory server restarts: its log is gone, so the page keeps what it showed and marks the reset.
    await server!.stop();
    server = await startServer();
    httpProxy!.retarget(portOf(server.httpAddress));
    grpcProxy!.retarget(portOf(server.grpcAddress));
    httpProxy!.cutAll();
    grpcProxy!.cutAll();
    for (let i = 1; i <= 4; i++) await (i % 2 === 0 ? coder! : planner!).ok({ op: "publish", type: "inter_agent_message", data: { after_restart: i } });
    await untilSignalRows(p, firstLog.length + 4);
    await expect.poll(() => p.locator("[data-testid=timeline-reset]").count(), POLL).toBe(1);
    const logs = sequencesByLog(await timelineRows(p));
    expect(logs).toEqual([firstLog, range(1, 4)]);
    await expect.poll(() => attr(p.locator("[data-testid=connection]"), "data-state"), POLL).toBe("live");
    await expect.poll(() => p.locator(`[data-testid=coordination-row][data-id="${COORDINATION}"]`).count(), POLL).toBe(1);
    await shot(p, "after-restart-1280x800");
    expect(pageLog.filter((l) => !l.includes("Failed to load resource") && !l.includes("ERR_"))).toEqual([]);
  });

  it("shows routing decisions per policy", async () => {
    const p = thePage();
    const routing = createClient(RoutingService, createGrpcTransport({ baseUrl: `http://${server!.grpcAddress}` }));
    await routing.putRoutingPolicy({ policy: { policyId: "review-gate", routers: [{ kind: { case: "priority", value: {} } }] } });
    for (const priority of [90, 80, 50, 10, 95, 20]) await routing.route({ policySource: { case: "policyId", value: "review-gate" }, currentTask: "review", customData: { priority } });
    await p.goto(`http://127.0.0.1:${httpProxy!.port}/#/routing`);
    await expect.poll(() => p.locator('[data-testid=policy-row][data-id="review-gate"]').count(), POLL).toBe(1);
    await expect.poll(() => text(p.locator("[data-testid=total-routings]")), POLL).toBe("6");
    await expect.poll(() => p.locator("[data-testid=decision-chart] rect.bar").first().isVisible(), POLL).toBe(true);
    await shot(p, "routing-1280x800");
  });

  it("deletes the coordination: its streams end and it leaves the list", async () => {
    const p = thePage();
    await p.goto(`http://127.0.0.1:${httpProxy!.port}/#/c/${COORDINATION}`);
    await expect.poll(() => attr(p.locator("[data-testid=timeline-state]"), "data-state"), POLL).toBe("live");
    await p.click("[data-testid=delete]");
    await expect.poll(() => attr(p.locator("[data-testid=timeline-state]"), "data-state"), POLL).toBe("deleted");
    await expect.poll(() => p.locator(`[data-testid=coordination-row][data-id="${COORDINATION}"]`).count(), POLL).toBe(0);
    await expect.poll(() => text(p.locator("[data-testid=removed-banner]")), POLL).toContain("deleted");
  });
});
