import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mismatch } from "./check.js";
import { expected } from "./expected.js";
import { launchers, root } from "./launchers.js";
import { startServer, type Server } from "./server.js";

/**
 * Every fenced block of README.md is checked by a test: code excerpts must appear verbatim in the example files
 * that examples.test.ts runs; output excerpts must be lines those examples print, in their order; shell blocks are
 * the launchers examples.test.ts runs, the commands CI runs, or the buf curl tour, which runs here against a fresh
 * server. A block of any other kind fails, so a new snippet cannot go untested.
 */
interface Block {
  readonly lang: string;
  readonly body: string;
  readonly line: number; // of the opening fence
}

const readme = readFileSync(join(root, "README.md"), "utf8");

function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`README.md:${i + 1}: unclosed code block`);
    blocks.push({ lang: open[1]!, body: lines.slice(i + 1, end).join("\n"), line: i + 1 });
    i = end;
  }
  return blocks;
}

const blocks = fencedBlocks(readme);
const at = (b: Block) => `README.md:${b.line}`;
const isOutput = (b: Block) => b.lang === "text" && /^(=== |\[)/.test(b.body);
const isTour = (b: Block) => b.lang === "sh" && b.body.includes("$G ");
/** A shell block's commands: each line without its comment, blank lines dropped. */
const commands = (b: Block) => b.body.split("\n").map((l) => l.replace(/(^|\s+)#.*$/, "").trim()).filter(Boolean);

const EXCERPT_DIRS: Record<string, [string, string]> = {
  python: ["examples/python", ".py"],
  go: ["examples/go", ".go"],
  ts: ["examples/ts", ".ts"],
};
const CI_COMMANDS = ["npm ci && npm start", "npm ci && npm test"];

describe("README.md", () => {
  it("has blocks of the kinds checked here, and all of them", () => {
    expect(blocks.length).toBeGreaterThan(8);
    const unchecked = blocks.filter((b) => !(b.lang in EXCERPT_DIRS) && b.lang !== "sh" && b.lang !== "text");
    expect(unchecked.map((b) => `${at(b)}: \`\`\`${b.lang}`)).toEqual([]);
    const shell = blocks.filter((b) => b.lang === "sh" && !isTour(b));
    const unknown = shell.flatMap((b) => commands(b)
      .filter((c) => !CI_COMMANDS.includes(c) && !launchers.some((l) => l.command === c))
      .map((c) => `${at(b)}: ${c}`));
    expect(unknown, "shell commands no test runs").toEqual([]);
  });

  it("shows code that is a verbatim excerpt of an example the examples suite runs", () => {
    const excerpts = blocks.filter((b) => b.lang in EXCERPT_DIRS);
    expect(new Set(excerpts.map((b) => b.lang))).toEqual(new Set(Object.keys(EXCERPT_DIRS))); // one language or more each
    for (const b of excerpts) {
      const [dir, ext] = EXCERPT_DIRS[b.lang]!;
      const files = readdirSync(join(root, dir)).filter((f) => f.endsWith(ext));
      const holders = files.filter((f) => readFileSync(join(root, dir, f), "utf8").includes(b.body));
      expect(holders, `${at(b)}: the ${b.lang} block is not in any file of ${dir}/`).not.toEqual([]);
    }
  });

  it("shows output the examples print, each agent's lines in their order", () => {
    const outputs = blocks.filter(isOutput);
    expect(outputs).not.toEqual([]);
    for (const b of outputs) {
      const agents = new Map<string, string[]>();
      for (const line of b.body.split("\n")) {
        const m = /^\[([^/\]]+)\/([^\]]+)\] (.*)$/.exec(line);
        if (m) agents.set(`${m[1]}/${m[2]}`, [...(agents.get(`${m[1]}/${m[2]}`) ?? []), m[3]!]);
        else expect(line, `${at(b)}: a line that is neither an agent's nor a scenario's`).toMatch(/^=== \S+: (.* \(coordination \S+\)|passed)$/);
      }
      for (const [key, lines] of agents) {
        const [scenario, agent] = key.split("/") as [string, string];
        const want = expected[scenario]?.[agent];
        expect(want, `${at(b)}: no agent ${key}`).toBeDefined();
        expect(mismatch(want!, lines, true), `${at(b)}: ${key}`).toBeUndefined();
      }
    }
  });

  it("gives CI's commands: npm start serves the built server, npm test runs every suite, the examples included", () => {
    const shown = blocks.filter((b) => b.lang === "sh").flatMap(commands);
    expect(shown).toEqual(expect.arrayContaining(CI_COMMANDS));
    const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    expect(scripts["start"]).toMatch(/^npm run build .*&& node dist\/src\/main\.js$/); // what server.ts starts
    expect(scripts["test"]).toBe("bash scripts/test-all.sh");
    expect(readFileSync(join(root, "scripts/test-all.sh"), "utf8")).toContain("\nrun examples bash test/examples/run.sh\n");
    const ci = readFileSync(join(root, ".ci/run"), "utf8");
    expect(ci).toMatch(/^npm ci /m);
    expect(ci).toMatch(/^npm test$/m);
  });

  it("gives the launchers examples.test.ts runs, in the quick start", () => {
    const shown = blocks.filter((b) => b.lang === "sh").flatMap(commands);
    expect(shown).toEqual(expect.arrayContaining(launchers.map((l) => l.command)));
  });
});

describe("the README's buf curl tour, run against a fresh server", () => {
  let server: Server;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("prints what its comments say", async () => {
    const tour = blocks.filter(isTour);
    expect(tour.length).toBeGreaterThanOrEqual(2); // the tour and its routing part
    // The README's addresses are the defaults; the server here listens on free ports.
    const script = tour.map((b) => b.body).join("\n")
      .replaceAll("127.0.0.1:50051", server.grpcAddress)
      .replaceAll("127.0.0.1:8080", server.httpAddress);
    // The Subscribe stays open until Ctrl-C: BUF_TIMEOUT bounds every buf call, so it ends after printing.
    const output = await new Promise<string>((resolve) => {
      execFile("bash", ["-c", script], { cwd: root, env: { ...process.env, BUF_TIMEOUT: "5s" }, timeout: 120_000 },
        (_error, stdout, stderr) => resolve(`${stdout}\n${stderr}`)); // some calls fail on purpose
    });
    const context = `tour output:\n${output}`;
    for (const method of ["SignalService/Subscribe", "RoutingService/Route", "ContextService/WatchAgentContext", "DependencyService/ResolveDependencies", "CoordinationService/DeleteCoordination"]) {
      expect(output, context).toContain(`consort.v1.${method}`);
    }
    expect(output, context).toContain('"sequence": "1"');
    expect(output, context).toContain('"headSequence": "1"');
    expect(output, context).toContain('"totalSignalsSent": "1"');
    expect(output, context).toContain('"code": "invalid_argument"');
    expect(output, context).toMatch(/^consort_signals_published_total 1$/m);
    expect(output, context).toContain('"decision": "ROUTING_DECISION_RETRY"');
    expect(output, context).toContain('"totalRoutings": "1"');
    expect(output, context).toContain('"coordinationId": "demo"'); // a routing result tied to the tour's coordination
    expect(output, context).toContain('"deleted": true'); // DeleteCoordination of the tour's coordination
    // Every quoted result a comment promises ("…" standing for what is left out) is in the output.
    const claims = tour.flatMap((b) => [...b.body.matchAll(/#[^\n]*/g)].flatMap((c) => [...c[0].matchAll(/"([^"]+)"/g)].map((q) => q[1]!)));
    expect(claims.length).toBeGreaterThanOrEqual(3);
    for (const claim of claims) {
      for (const part of claim.split("…").map((p) => p.trim()).filter(Boolean)) expect(output, `claim ${claim}\n${context}`).toContain(part);
    }
  }, 130_000);
});
