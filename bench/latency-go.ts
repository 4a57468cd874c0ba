import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LatencyResult } from "./latency.js";
import type { PeerKind } from "./peers.js";
import type { ServerProcess } from "./server-process.js";

const goDir = fileURLToPath(new URL("../../bench/go", import.meta.url));
let binary: string | undefined;

/** The Go benchmark client, built once per benchmark run with `go build`. */
export function goBinary(): string {
  if (binary === undefined) {
    binary = join(mkdtempSync(join(tmpdir(), "consort-bench-")), "latency");
    execFileSync("go", ["build", "-o", binary, "."], { cwd: goDir, stdio: "inherit" });
  }
  return binary;
}

/**
 * Runs the Go client with `args` and resolves with what it printed on stdout; rejects if it fails or runs past
 * `timeoutMs`. Asynchronous on purpose: while the client runs, this process keeps reading the Consort server's
 * stdout (server-process.ts), which a synchronous wait would leave unread until the pipe fills and the server's
 * logging blocks it.
 */
export function runGo(args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(goBinary(), args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`bench/go ${args.join(" ")}: ${err.message}${stderr === "" ? "" : `: ${stderr.trim()}`}`)) : resolve(stdout),
    ),
  );
}

/**
 * Publish → subscriber latency with the Go client (bench/go, built once per benchmark run with `go build`):
 * same shape as the Node measurement — 1,000 signals/s, ~200-byte payload, separate connections for publisher
 * and subscriber in one client process.
 */
export function measureLatencyGo(server: ServerProcess, options: { rate?: number; count?: number; stream?: boolean } = {}): Promise<LatencyResult> {
  return measureLatencyGoAt("consort", `127.0.0.1:${server.grpcPort}`, options);
}

/**
 * The same publish → subscriber latency against Consort or a peer at `addr` (bench/go/main.go, nats.go, redis.go):
 * same payload (as JSON bytes for the peers), pacing and counts. NATS JetStream publishes are acknowledged before
 * the next (as Consort's unary Publish is) and read by an ordered push consumer; Redis Streams: XADD, XREAD BLOCK.
 */
export async function measureLatencyGoAt(
  system: "consort" | PeerKind,
  addr: string,
  options: { rate?: number; count?: number; stream?: boolean } = {},
): Promise<LatencyResult> {
  // Consort's publisher: unary Publish, or with `stream` one PublishStream call (bench/go/stream.go).
  const mode = system === "consort" ? (options.stream === true ? "signal-stream" : "signal") : `${system}-latency`;
  const out = await runGo(["-mode", mode, "-addr", addr, "-rate", String(options.rate ?? 1000), "-count", String(options.count ?? 5000), "-timeout", "100s"], 120_000);
  return JSON.parse(out) as LatencyResult;
}

/** What {@link measureCompletionGo} prints, in milliseconds. */
export interface CompletionGoResult extends LatencyResult {
  readonly p999: number;
  /** The publisher's own Publish round trip. */
  readonly publishP50: number;
  readonly publishP99: number;
}

/**
 * Completion → waiter released with the Go client (bench/go/completion.go): waiter and publisher on their own
 * connections in one client process (one clock), the server in its own; one completion at a time.
 */
export async function measureCompletionGo(server: ServerProcess, options: { count?: number } = {}): Promise<CompletionGoResult> {
  const out = await runGo(["-mode", "completion", "-addr", `127.0.0.1:${server.grpcPort}`, "-count", String(options.count ?? 2000)], 300_000);
  return JSON.parse(out) as CompletionGoResult;
}
