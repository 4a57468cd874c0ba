// Runs the quick start's Complete Example, its three common patterns and a high-rate publisher, each as separate
// agent processes talking to one Consort server, and prints every agent's lines prefixed with [scenario/agent].
//
//   node dist/examples/ts/main.js [--addr 127.0.0.1:50051] [complete|chain|parallel|gate|progress ...]
//   node dist/examples/ts/main.js agent --addr HOST:PORT --coord ID <scenario> <role>   (one agent: what the launcher starts)
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { Agent } from "./agent.js";
import { signalChain } from "./chain.js";
import { completeExample } from "./complete.js";
import { qualityGate } from "./gate.js";
import { parallelExecution } from "./parallel.js";
import { progressReport } from "./progress.js";
import type { Scenario } from "./scenario.js";

const SCENARIO_TIMEOUT_MS = 60_000; // past it, the scenario's agents are killed and the launcher fails
const scenarios: readonly Scenario[] = [completeExample, signalChain, parallelExecution, qualityGate, progressReport];
const self = fileURLToPath(import.meta.url);

const { values, positionals } = parseArgs({
  options: { addr: { type: "string", default: "127.0.0.1:50051" }, coord: { type: "string" } },
  allowPositionals: true,
});
const addr = values.addr ?? "127.0.0.1:50051";
process.exitCode = positionals[0] === "agent" ? await runAgent(positionals.slice(1)) : await runAll(positionals);

/** Runs one role of one scenario in this process; 1 with one line on stderr when it fails. */
async function runAgent([scenario, role, ...rest]: string[]): Promise<number> {
  const run = scenarios.find((s) => s.name === scenario)?.roles[role ?? ""];
  if (!run || !role || !values.coord || rest.length > 0) {
    console.error("usage: main.js agent --addr HOST:PORT --coord ID <scenario> <role>");
    return 2;
  }
  try {
    await run(new Agent(role, addr, values.coord));
    return 0;
  } catch (e) {
    const err = ConnectError.from(e); // which call failed how, in one line
    console.error(`${role}: ${err.code === Code.Unknown ? "" : `${Code[err.code]}: `}${err.rawMessage}`);
    return 1;
  }
}

/** Runs the selected scenarios (all by default) one after the other; 1 when any failed. */
async function runAll(names: string[]): Promise<number> {
  const unknown = names.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(", ")}; choose from ${scenarios.map((s) => s.name).join(", ")}`);
    return 2;
  }
  let code = 0;
  for (const s of scenarios.filter((s) => names.length === 0 || names.includes(s.name))) {
    if (!(await runScenario(s))) code = 1;
  }
  return code;
}

/** Starts the scenario's agents under a coordination id of their own, prefixes their output lines and waits for
 * them. After the first failure (or the timeout) it kills the others, which would only wait for their own timeouts. */
async function runScenario(s: Scenario): Promise<boolean> {
  const coord = `${s.name}-${randomUUID()}`;
  console.log(`=== ${s.name}: ${s.title} (coordination ${coord})`);
  const children: ChildProcess[] = [];
  let failure = "";
  const fail = (why: string) => {
    failure ||= why;
    for (const c of children) c.kill();
  };
  const timer = setTimeout(() => fail(`timed out after ${SCENARIO_TIMEOUT_MS / 1000}s`), SCENARIO_TIMEOUT_MS);
  await Promise.all(s.agents.map((agent) => new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [self, "agent", "--addr", addr, "--coord", coord, s.name, agent], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    for (const out of [child.stdout, child.stderr]) {
      createInterface({ input: out }).on("line", (line) => console.log(`[${s.name}/${agent}] ${line}`));
    }
    child.on("error", (e) => fail(`${agent}: ${e.message}`));
    child.on("close", (code, signal) => { // after its output ended: every line is printed before the verdict
      if (code !== 0) fail(`${agent} exited with ${code ?? signal}`);
      resolve();
    });
  })));
  clearTimeout(timer);
  console.log(`=== ${s.name}: ${failure ? `FAILED: ${failure}` : "passed"}`);
  return !failure;
}
