import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { startTestBackend } from "../test-backend.js";
import { root } from "./launchers.js";

/** A fresh Consort server: the built dist/src/main.js on free ports of 127.0.0.1, as users start it. */
export interface Server {
  readonly grpcAddress: string; // host:port
  readonly httpAddress: string; // host:port
  /** The server's recent log lines, for failure messages. */
  log(): string;
  stop(): Promise<void>;
  /** Whether {@link kill} was called. */
  readonly killed: boolean;
  /** SIGKILL: the process dies at once, as on a crash (no drain, no flush); resolves when it has exited. */
  kill(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * Starts one; `args` are appended to the command line. Under CONSORT_TEST_BACKEND=nats (test/test-backend.ts) it
 * keeps its signals on a throwaway nats-server of its own, stopped after it by `stop()`.
 */
export async function startServer(args: readonly string[] = []): Promise<Server> {
  const main = join(root, "dist/src/main.js");
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  // A test that names its own --backend (test/nats) stays on it.
  const backend = args.some((a) => a === "--backend" || a.startsWith("--backend=")) ? { args: [], stop: async () => {} } : await startTestBackend();
  const child = spawn(process.execPath, [main, "--host", "127.0.0.1", "--grpc-port", "0", "--http-port", "0", ...backend.args, ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const ports = await new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "consort listening" within ${START_TIMEOUT_MS} ms:\n${lines.join("\n")}`)), START_TIMEOUT_MS);
    child.on("exit", (code) => reject(new Error(`the server exited with ${code}:\n${lines.join("\n")}`)));
    // Read every line until the end (the pipe must never fill); the first "consort listening" names the ports.
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (lines.length > 500) lines.shift();
      try {
        const entry = JSON.parse(line) as { msg?: string; grpcPort?: number; httpPort?: number };
        if (entry.msg === "consort listening") {
          clearTimeout(timer);
          resolve({ grpcPort: entry.grpcPort!, httpPort: entry.httpPort! });
        }
      } catch {
        // not a log line
      }
    });
  }).catch(async (e: unknown) => {
    await stop(child);
    await backend.stop();
    throw e;
  });
  let killed = false;
  return {
    grpcAddress: `127.0.0.1:${ports.grpcPort}`,
    httpAddress: `127.0.0.1:${ports.httpPort}`,
    log: () => lines.join("\n"),
    stop: async () => {
      await stop(child);
      await backend.stop();
    },
    get killed() {
      return killed;
    },
    async kill() {
      killed = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGKILL");
        await exited;
      }
      await backend.stop();
    },
  };
}

/** SIGTERM, then SIGKILL if the server has not exited within STOP_TIMEOUT_MS. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}
