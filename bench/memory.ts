import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { goBinary } from "./latency-go.js";
import { scrapeMetrics } from "./metrics-scrape.js";
import { startServerProcess } from "./server-process.js";

/** Resident set size of a process in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) * 1024;
}

/** One reading of the server's memory. */
export interface MemoryReading {
  readonly rssBytes: number;
  /** `nodejs_heap_size_used_bytes` from /metrics. */
  readonly heapUsedBytes: number;
}

/** What {@link measureMemory} reports: readings at start, after the publishes, after reading back, with idle subscriptions. */
export interface MemoryResult {
  readonly start: MemoryReading;
  readonly filled: MemoryReading;
  readonly read: MemoryReading;
  readonly subscribed: MemoryReading;
  readonly signals: number;
  readonly subscriptions: number;
  /** Mean encoded size of one stored signal (the Signal message, as ListSignals returned it). */
  readonly signalBytes: number;
  readonly fillSeconds: number;
}

/** Options of {@link measureMemory}. */
export interface MemoryOptions {
  /** @default 1000000 */
  readonly signals?: number;
  /** @default 10000 */
  readonly subscriptions?: number;
  /** Pause before each reading. @default 1000 */
  readonly settleMs?: number;
}

/**
 * The Memory cases in one fresh server: `signals` ~200-byte signals published over 100 coordinations by the Go
 * client (bench/go/memory.go), all read back once with ListSignals (so whatever a delivery caches is counted), then
 * `subscriptions` idle subscriptions opened on top; the server's RSS and heap are read after each step, after a
 * 1-second pause.
 */
export async function measureMemory(options: MemoryOptions = {}): Promise<MemoryResult> {
  const signals = options.signals ?? 1_000_000;
  const subscriptions = options.subscriptions ?? 10_000;
  const server = await startServerProcess();
  const go = spawn(
    goBinary(),
    ["-mode", "memory", "-addr", `127.0.0.1:${server.grpcPort}`, "-count", String(signals), "-coordinations", "100", "-subscriptions", String(subscriptions)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const replies = createInterface({ input: go.stdout! })[Symbol.asyncIterator]();
  const step = async (name: string): Promise<Record<string, number>> => {
    go.stdin!.write(`${name}\n`);
    const line = await replies.next();
    if (line.done === true) throw new Error(`the Go memory client ended during "${name}"`);
    return JSON.parse(line.value) as Record<string, number>;
  };
  const reading = async (): Promise<MemoryReading> => {
    await new Promise((r) => setTimeout(r, options.settleMs ?? 1000));
    const heap = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(await scrapeMetrics(server.httpPort));
    return { rssBytes: rssBytes(server.child.pid!), heapUsedBytes: Number(heap?.[1] ?? NaN) };
  };
  try {
    const start = await reading();
    const fill = await step("fill");
    const filled = await reading();
    const readBack = await step("read");
    const read = await reading();
    await step("subscribe");
    const subscribed = await reading();
    return { start, filled, read, subscribed, signals, subscriptions, signalBytes: readBack["signal_bytes"]!, fillSeconds: fill["seconds"]! };
  } finally {
    go.stdin!.end();
    await new Promise((r) => go.once("exit", r));
    await server.stop();
  }
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/** Prints the Memory cases over `runs` fresh servers, and their medians. */
export async function runMemoryBench(runs: number, options: MemoryOptions = {}): Promise<MemoryResult[]> {
  const results: MemoryResult[] = [];
  for (let r = 0; r < runs; r++) {
    const m = await measureMemory(options);
    results.push(m);
    console.log(
      `Memory run ${r + 1}: RSS ${mib(m.start.rssBytes)} at start, ${mib(m.filled.rssBytes)} after ${m.signals} signals (${m.signalBytes.toFixed(0)} bytes each encoded, published over PublishStream in ${m.fillSeconds.toFixed(1)} s), ` +
        `${mib(m.read.rssBytes)} after reading them back, ${mib(m.subscribed.rssBytes)} with ${m.subscriptions} idle subscriptions; heap used ${mib(m.filled.heapUsedBytes)} / ${mib(m.read.heapUsedBytes)} / ${mib(m.subscribed.heapUsedBytes)}`,
    );
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const retained = median(results.map((m) => m.read.rssBytes));
  const subs = median(results.map((m) => m.subscribed.rssBytes - m.read.rssBytes));
  console.log(
    `Memory/retained-1M median of ${runs}: RSS ${mib(retained)} after publishing and reading back (goal ≤ 1024 MiB), ${(median(results.map((m) => m.read.rssBytes - m.start.rssBytes)) / results[0]!.signals).toFixed(0)} bytes per signal above the idle server`,
  );
  console.log(`Memory/idle-subscriptions median of ${runs}: +${mib(subs)} RSS for ${results[0]!.subscriptions} idle subscriptions (goal ≤ 512 MiB)`);
  return results;
}
