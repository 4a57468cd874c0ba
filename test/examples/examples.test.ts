import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mismatch, parseRun, problems } from "./check.js";
import { expected, scenarioOrder } from "./expected.js";
import { launcherEnv, launchers, root } from "./launchers.js";
import { startServer, type Server } from "./server.js";

/**
 * The quick start end to end: each language's launcher runs the Complete Example, the three common patterns and the
 * high-rate publisher, every agent a separate process, against one fresh server; every agent must print its
 * expected lines in order and every scenario must pass. The three languages run at the same time, so each run's
 * coordination ids must keep them apart.
 */
const LAUNCHER_TIMEOUT_MS = 150_000; // the launchers bound each scenario at 60 s; go run may compile first

let server: Server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function launch(command: string, addr: string): Promise<Result> {
  const [file, ...args] = command.split(" ");
  return new Promise((resolve) => {
    execFile(file!, [...args, "--addr", addr], { cwd: root, env: launcherEnv(), timeout: LAUNCHER_TIMEOUT_MS, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }));
  });
}

const coordinations: string[][] = [];

describe.concurrent("the quick start's examples, every agent a separate process, against one server", () => {
  for (const { language, command } of launchers) {
    it(`${language}: ${command}`, async () => {
      const result = await launch(command, server.grpcAddress);
      const run = parseRun(result.stdout);
      const context = `${command} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}\n--- server log (tail)\n${server.log().split("\n").slice(-40).join("\n")}`;
      expect(problems(run), context).toEqual([]);
      expect(result.code, context).toBe(0);
      coordinations.push(run.started.map((s) => s.coordination));
    }, LAUNCHER_TIMEOUT_MS + 10_000);
  }
});

describe("the runs", () => {
  it("used a coordination id of their own for every scenario of every language", () => {
    const ids = coordinations.flat();
    expect(coordinations).toHaveLength(launchers.length);
    expect(ids).toHaveLength(launchers.length * scenarioOrder.length);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("the output check", () => {
  const agentLines = (scenario: string, agent: string) =>
    expected[scenario]![agent]!.map((l) => (typeof l === "string" ? l : l.optional));
  const good = scenarioOrder.flatMap((scenario) => [
    `=== ${scenario}: title (coordination ${scenario}-1)`,
    ...Object.keys(expected[scenario]!).flatMap((agent) => agentLines(scenario, agent).map((l) => `[${scenario}/${agent}] ${l}`)),
    `=== ${scenario}: passed`,
  ]).join("\n");

  it("accepts the expected lines, with or without the optional ones", () => {
    expect(problems(parseRun(good))).toEqual([]);
    expect(problems(parseRun(good.replaceAll(/^.*No context yet.*\n/gm, "")))).toEqual([]);
  });

  it("rejects a missing, a reordered or an extra line, a failed scenario and stray output", () => {
    expect(problems(parseRun(good.replace("[complete/model_gen] model_gen completed\n", "")))).toHaveLength(1);
    expect(mismatch(expected["complete"]!["validator_gen"]!, [...agentLines("complete", "validator_gen")].reverse())).toBeDefined();
    expect(problems(parseRun(`${good}\n[gate/coverage] again`))).toEqual(['gate/coverage: unexpected line 3: "again"']);
    expect(problems(parseRun(good.replace("=== gate: passed", "=== gate: FAILED: coverage exited with 1")))).toHaveLength(1);
    expect(problems(parseRun(`${good}\nTraceback (most recent call last):`))).toHaveLength(1);
  });
});
