// The agents the dashboard test drives: a Python process (agents/driven_agent.py) and a Go one
// (test/go/cmd/driven-agent), each one agent, taking JSON-line commands on stdin and answering on stdout.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { root } from "../examples/launchers.js";

/** An answer of a driven agent. */
export interface AgentAnswer {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly sequence?: string;
  readonly success?: boolean;
  readonly status?: string;
  readonly message?: string;
}

/** A running driven agent. */
export interface DrivenAgent {
  readonly agentId: string;
  /** Sends a command; resolves with its answer (a `wait` answers when ResolveDependencies ends). */
  send(command: Record<string, unknown>): Promise<AgentAnswer>;
  /** Sends a command and fails unless its answer is ok. */
  ok(command: Record<string, unknown>): Promise<AgentAnswer>;
  /** The process's recent output, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const ANSWER_TIMEOUT_MS = 45_000;

function drive(child: ChildProcess, agentId: string): Promise<DrivenAgent> {
  const lines: string[] = [];
  const waiting = new Map<number, (a: AgentAnswer) => void>();
  let nextId = 1;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent ${agentId} not ready within 30 s:\n${lines.join("\n")}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`agent ${agentId} exited with ${code}:\n${lines.join("\n")}`)));
    child.stderr?.on("data", (b: Buffer) => lines.push(b.toString()));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      const msg = JSON.parse(line) as { ready?: boolean } & AgentAnswer;
      if (msg.ready === true) {
        clearTimeout(timer);
        const agent: DrivenAgent = {
          agentId,
          send(command) {
            const id = nextId++;
            return new Promise<AgentAnswer>((res, rej) => {
              const t = setTimeout(() => rej(new Error(`agent ${agentId}: no answer to ${JSON.stringify(command)} within ${ANSWER_TIMEOUT_MS} ms:\n${lines.join("\n")}`)), ANSWER_TIMEOUT_MS);
              waiting.set(id, (a) => {
                clearTimeout(t);
                res(a);
              });
              child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`);
            });
          },
          async ok(command) {
            const a = await agent.send(command);
            if (!a.ok) throw new Error(`agent ${agentId}: ${JSON.stringify(command)} failed: ${a.error}`);
            return a;
          },
          log: () => lines.join("\n"),
          async stop() {
            if (child.exitCode !== null || child.signalCode !== null) return;
            const exited = new Promise<void>((r) => child.once("exit", () => r()));
            child.stdin!.end();
            const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
            await exited;
            clearTimeout(kill);
          },
        };
        resolve(agent);
        return;
      }
      waiting.get(msg.id)?.(msg);
      waiting.delete(msg.id);
    });
  });
}

/** Starts the Python agent `agentId` (the repository's .venv, with the generated client installed). */
export function startPythonAgent(addr: string, coordinationId: string, agentId: string): Promise<DrivenAgent> {
  const child = spawn(join(root, ".venv/bin/python"), [join(root, "test/browser/agents/driven_agent.py"), "--addr", addr, "--coord", coordinationId, "--agent", agentId], {
    cwd: root,
    stdio: ["pipe", "pipe", "pipe"],
  });
  return drive(child, agentId);
}

/** Starts the Go agent `agentId` from a binary built by `go build ./cmd/driven-agent` in test/go. */
export function startGoAgent(binary: string, addr: string, coordinationId: string, agentId: string): Promise<DrivenAgent> {
  const child = spawn(binary, ["--addr", addr, "--coord", coordinationId, "--agent", agentId], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  return drive(child, agentId);
}
