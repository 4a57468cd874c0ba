import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** A Consort server in its own process (so measurements cross a process boundary, as users' calls do). */
export interface ServerProcess {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly child: ChildProcess;
  /** Server CPU time so far in microseconds (user + system), from /proc. */
  cpuMicros(): number;
  stop(): Promise<void>;
}

// CONSORT_BENCH_SERVER_MAIN names another build's dist/src/main.js: the same benchmark against an older server, for
// before/after comparisons in alternating runs.
const mainJs = process.env["CONSORT_BENCH_SERVER_MAIN"] ?? fileURLToPath(new URL("../src/main.js", import.meta.url));

/**
 * Starts `dist/src/main.js` on free ports and waits for its "consort listening" line. `nodeFlags` go to node
 * itself (e.g. `--cpu-prof` to profile the server under a benchmark's load).
 */
export async function startServerProcess(args: readonly string[] = [], nodeFlags: readonly string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeFlags, mainJs, "--grpc-port", "0", "--http-port", "0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start in 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
    lines.on("line", (line) => {
      if (line.includes('"consort listening"')) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { grpcPort: number; httpPort: number });
      }
    });
  });
  // Keep reading so the pipe never fills (CONSORT_BENCH_SERVER_LOG names a file to keep the lines in).
  const logFile = process.env["CONSORT_BENCH_SERVER_LOG"];
  lines.on("line", logFile === undefined ? () => {} : (line) => appendFileSync(logFile, `${line}\n`));
  const ticks = 100; // USER_HZ on Linux
  return {
    ...ready,
    child,
    cpuMicros() {
      const stat = procStat(child.pid!);
      return ((stat.utime + stat.stime) / ticks) * 1e6;
    },
    stop() {
      return new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    },
  };
}

/** utime and stime (clock ticks) of a process, from /proc/<pid>/stat. */
function procStat(pid: number): { utime: number; stime: number } {
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { utime: Number(fields[11]), stime: Number(fields[12]) };
}
