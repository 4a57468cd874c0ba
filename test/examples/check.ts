import { expected, scenarioOrder, type Line } from "./expected.js";

/** A launcher's output, taken apart: `=== <scenario>: …` lines and `[<scenario>/<agent>] <text>` lines. */
export interface Run {
  /** Scenario headers in order: name and coordination id. */
  readonly started: { readonly scenario: string; readonly coordination: string }[];
  /** Scenario verdicts in order ("passed" or "FAILED: …"). */
  readonly verdicts: { readonly scenario: string; readonly verdict: string }[];
  /** Each agent's lines, in the order it printed them, keyed "scenario/agent". */
  readonly agents: Map<string, string[]>;
  /** Lines of neither form. */
  readonly stray: string[];
}

export function parseRun(output: string): Run {
  const run: Run = { started: [], verdicts: [], agents: new Map(), stray: [] };
  for (const line of output.split("\n")) {
    if (line === "") continue;
    const header = /^=== (\S+): .* \(coordination (\S+)\)$/.exec(line);
    const verdict = /^=== (\S+): (passed|FAILED: .*)$/.exec(line);
    const agentLine = /^\[([^/\]]+\/[^\]]+)\] (.*)$/.exec(line);
    if (header) run.started.push({ scenario: header[1]!, coordination: header[2]! });
    else if (verdict) run.verdicts.push({ scenario: verdict[1]!, verdict: verdict[2]! });
    else if (agentLine) run.agents.set(agentLine[1]!, [...(run.agents.get(agentLine[1]!) ?? []), agentLine[2]!]);
    else run.stray.push(line);
  }
  return run;
}

/** Where `actual` departs from `lines` (optional lines may be missing), or undefined when it matches. With
 * `excerpt`, `actual` may also leave out required lines (a README excerpt), but never reorder or invent any. */
export function mismatch(lines: readonly Line[], actual: readonly string[], excerpt = false): string | undefined {
  let i = 0;
  for (const [n, line] of lines.entries()) {
    const text = typeof line === "string" ? line : line.optional;
    if (actual[i] === text) i++;
    else if (typeof line === "string" && !excerpt) return `line ${i + 1}: expected ${JSON.stringify(text)}, got ${JSON.stringify(actual[i])} (expected line ${n + 1})`;
  }
  return i < actual.length ? `unexpected line ${i + 1}: ${JSON.stringify(actual[i])}` : undefined;
}

/** Every departure of a whole run from the expected lines of every scenario, empty when it matches. */
export function problems(run: Run): string[] {
  const found: string[] = run.stray.map((line) => `stray line: ${JSON.stringify(line)}`);
  const started = run.started.map((s) => s.scenario).join(" ");
  const passed = run.verdicts.map((v) => `${v.scenario} ${v.verdict}`).join(", ");
  if (started !== scenarioOrder.join(" ")) found.push(`scenarios started: ${started}; expected ${scenarioOrder.join(" ")}`);
  if (passed !== scenarioOrder.map((s) => `${s} passed`).join(", ")) found.push(`verdicts: ${passed}`);
  const agents = new Set(run.agents.keys());
  for (const scenario of scenarioOrder) {
    for (const [agent, lines] of Object.entries(expected[scenario]!)) {
      const key = `${scenario}/${agent}`;
      agents.delete(key);
      const why = mismatch(lines, run.agents.get(key) ?? []);
      if (why) found.push(`${key}: ${why}`);
    }
  }
  for (const key of agents) found.push(`${key}: an agent no scenario has`);
  return found;
}
