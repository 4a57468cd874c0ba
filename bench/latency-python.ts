import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LatencyResult } from "./latency.js";
import type { ServerProcess } from "./server-process.js";

const repoDir = fileURLToPath(new URL("../../", import.meta.url));
const script = fileURLToPath(new URL("../../bench/python/latency.py", import.meta.url));

/** The Python client's interpreter, or why there is none. */
export type PythonClient = { readonly python: string } | { readonly missing: string };
let client: PythonClient | undefined;

/**
 * The interpreter of the repository's `.venv` with the generated client (gen/python) installed, from
 * scripts/python-client.sh, once per benchmark run: the script `npm test` uses, so a venv that test run created
 * is reused, and a missing one is created the same way (pip installs requirements-dev.txt). If that fails (no
 * python3, no network for pip), the reason, for the caller to report the Python cases as MISSING.
 */
export function pythonClient(): PythonClient {
  if (client === undefined) {
    try {
      const out = execFileSync("bash", ["scripts/python-client.sh"], { cwd: repoDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
      client = { python: out.trim().split("\n").at(-1)! };
    } catch (e) {
      const stderr = (e as { stderr?: unknown }).stderr;
      const tail = typeof stderr === "string" ? stderr.trim().split("\n").slice(-3).join(" | ") : "";
      client = { missing: `scripts/python-client.sh failed: ${tail === "" ? (e as Error).message.split("\n")[0] : tail}` };
    }
  }
  return client;
}

/** What bench/python/latency.py prints, in milliseconds. */
export interface PythonLatencyResult extends LatencyResult {
  readonly p999: number;
  /** Signals published before the measured ones (rate/2). */
  readonly warmup: number;
}

/**
 * Publish → subscriber latency with the Python client (bench/python/latency.py: grpcio and the generated
 * consort.v1 package), the probe of `Signals/latency-go` (bench/go/probe.go): 1,000 signals/s, the same payload,
 * publisher and subscriber on separate channels in one Python process (one clock). Unary Publish, or with
 * `stream` one PublishStream call, as the Go client's modes. Asynchronous, as runGo is, so that this process keeps
 * reading the server's stdout while the client runs.
 */
export function measureLatencyPython(
  python: string,
  server: ServerProcess,
  options: { rate?: number; count?: number; stream?: boolean } = {},
): Promise<PythonLatencyResult> {
  const args = [
    script,
    "--mode",
    options.stream === true ? "signal-stream" : "signal",
    "--addr",
    `127.0.0.1:${server.grpcPort}`,
    "--rate",
    String(options.rate ?? 1000),
    "--count",
    String(options.count ?? 5000),
    "--timeout",
    "100",
  ];
  return new Promise((resolve, reject) =>
    execFile(python, args, { encoding: "utf8", timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`bench/python/latency.py ${args.slice(1).join(" ")}: ${err.message}${stderr === "" ? "" : `: ${stderr.trim()}`}`))
        : resolve(JSON.parse(stdout) as PythonLatencyResult),
    ),
  );
}
