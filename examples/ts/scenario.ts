import type { Agent } from "./agent.js";

/** One workflow: its agents, in start order, and the function each role runs. */
export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly agents: readonly string[];
  readonly roles: Readonly<Record<string, (a: Agent) => Promise<void>>>;
}
