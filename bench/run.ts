import { runPeersBench } from "./compare.js";
import { runContextBench } from "./context.js";
import { runDependencyBench } from "./dependencies.js";
import { measureFanout } from "./fanout.js";
import { measureLatency, type LatencyResult } from "./latency.js";
import { measureLatencyGo } from "./latency-go.js";
import { measureLatencyPython, pythonClient, type PythonLatencyResult } from "./latency-python.js";
import { machineLoad } from "./machine.js";
import { runMemoryBench, type MemoryResult } from "./memory.js";
import { runShutdownBench } from "./shutdown.js";
import { measurePublishCost } from "./publish-cost.js";
import { writeResults } from "./results.js";
import { runRoutingBench } from "./routing.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";
import { runCoordinationsBench } from "./coordinations.js";

/**
 * Runs the benchmarks and prints their numbers:
 * `npm run bench [-- --runs N] [-- --only Signals|Routing|Context|Dependencies|Memory|Shutdown|Peers] [-- --smoke]
 * [-- --memory-runs N]`.
 * Each RPC run uses a fresh server process; the median over runs is printed last. `--only Compare` is `--only Peers`.
 * `--smoke` (or CONSORT_BENCH_SMOKE=1) runs every case once with tiny counts, to check the cases work: its numbers
 * say nothing about speed. The machine's load is printed at the start and end; every area's results go to
 * bench/results/latest.json (smoke.json for a smoke run).
 */
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const smoke = process.argv.includes("--smoke") || process.env["CONSORT_BENCH_SMOKE"] === "1";
const runs = smoke ? 1 : Number(arg("--runs") ?? 3);
const only = arg("--only");
// One 1M-signal Memory run takes ~75 s, and its RSS varied by under 1 % between runs: a whole `npm run bench` runs
// it once (to stay under 10 minutes), `--only Memory` takes `--runs`, and `--memory-runs N` says it outright.
const memoryRuns = smoke ? 1 : Number(arg("--memory-runs") ?? (only !== undefined && "Memory".startsWith(only) ? runs : 1));
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function signals(): Promise<unknown> {
  const cost = measurePublishCost(smoke ? { warmup: 2000, coordinations: 20, full: 2000 } : {});
  console.log(
    `Signals/publish-cost: ${cost.earlyUs.toFixed(2)} µs/signal at signals 1..10, ${cost.fullUs.toFixed(2)} µs/signal at a full 10,000 history (ratio ${cost.ratio.toFixed(2)})`,
  );
  // 3,000 measured after 500 (30 samples above the p99), as in the Peers area. Consort's latency over PublishStream
  // with the Go client is Peers/latency's "Consort".
  const count = smoke ? 200 : 3000;
  /** Runs `measure` against a fresh server `runs` times, printing each run and the medians. */
  const latencyCase = async <T extends LatencyResult>(name: string, what: string, measure: (server: ServerProcess) => Promise<T>): Promise<T[]> => {
    const list: T[] = [];
    for (let r = 0; r < runs; r++) {
      const server = await startServerProcess();
      try {
        const res = await measure(server);
        list.push(res);
        const p999 = "p999" in res && typeof res.p999 === "number" ? `, p99.9 ${res.p999.toFixed(3)} ms` : "";
        console.log(
          `${name} run ${r + 1}: p50 ${res.p50.toFixed(3)} ms, p90 ${res.p90.toFixed(3)} ms, p99 ${res.p99.toFixed(3)} ms${p999}, max ${res.max.toFixed(3)} ms (${res.count} signals at 1,000/s, ${what})`,
        );
      } finally {
        await server.stop();
      }
    }
    console.log(`${name} median of ${runs}: p50 ${median(list.map((r) => r.p50)).toFixed(3)} ms, p99 ${median(list.map((r) => r.p99)).toFixed(3)} ms`);
    return list;
  };
  const results = await latencyCase("Signals/latency", "Node grpc-js client", (server) => measureLatency(server, { rate: 1000, count }));
  const streamResults = await latencyCase("Signals/latency-stream", "over one PublishStream, Node grpc-js client", (server) =>
    measureLatency(server, { rate: 1000, count, stream: true }),
  );
  const goResults = await latencyCase("Signals/latency-go", "Go client", (server) => measureLatencyGo(server, { rate: 1000, count }));
  const python = pythonClient();
  const latencyPython = async (stream: boolean): Promise<PythonLatencyResult[]> => {
    const name = `Signals/latency-python${stream ? "-stream" : ""}`;
    if ("missing" in python) {
      console.log(`${name} MISSING (${python.missing}): not measured in this run`);
      return [];
    }
    const what = `${stream ? "over one PublishStream, " : ""}Python grpcio client`;
    return latencyCase(name, what, (server) => measureLatencyPython(python.python, server, { rate: 1000, count, stream }));
  };
  const pythonResults = await latencyPython(false);
  const pythonStreamResults = await latencyPython(true);

  // The publisher runs flat out, so subscribers are given a buffer that holds the whole run: this measures
  // throughput, not the lag cut-off.
  const fan = [];
  for (let r = 0; r < runs; r++) {
    const server = await startServerProcess(["--subscriber-buffer", "100000"]);
    try {
      const res = await measureFanout(server, { subscribers: 100, signals: smoke ? 200 : 5000 });
      fan.push(res);
      console.log(
        `Signals/fanout-100 run ${r + 1}: ${Math.round(res.deliveriesPerSecond)} deliveries/s, ${res.serverCpuMicrosPerDelivery.toFixed(2)} µs server CPU per delivery, ${res.messagesPerDelivery.toFixed(3)} stream messages per delivery (${res.seconds.toFixed(2)} s)`,
      );
    } finally {
      await server.stop();
    }
  }
  console.log(
    `Signals/fanout-100 median of ${runs}: ${Math.round(median(fan.map((r) => r.deliveriesPerSecond)))} deliveries/s, ${median(fan.map((r) => r.serverCpuMicrosPerDelivery)).toFixed(2)} µs server CPU per delivery`,
  );
  return {
    publishCost: cost,
    latency: results,
    latencyStream: streamResults,
    latencyGo: goResults,
    latencyPython: pythonResults,
    latencyPythonStream: pythonStreamResults,
    ...("missing" in python ? { missing: { python: python.missing } } : {}),
    fanout100: fan,
  };
}

/** Consort's Memory case, when the Memory area ran before Peers in this run: Peers/memory reuses its fill. */
let memoryOfThisRun: MemoryResult | undefined;

/** The areas in the order they run; `--only X` runs those whose name (or alias) starts with X. */
const areas: readonly { name: string; aliases?: readonly string[]; run: () => Promise<unknown> }[] = [
  { name: "Signals", run: signals },
  {
    name: "Routing",
    run: () => runRoutingBench(runs, smoke ? { core: { routes: 20_000, warmup: 5000 }, rpc: { seconds: 0.3, rounds: 1, warmupSeconds: 0.2 } } : {}),
  },
  {
    name: "Coordinations",
    run: () => runCoordinationsBench(runs, smoke ? { publishes: 20_000, ticks: 5, snapshotSizes: [1000] } : {}),
  },
  {
    name: "Context",
    run: () =>
      smoke
        ? runContextBench(runs, [
            { agents: 10, calls: 5, warmup: 2 },
            { agents: 100, calls: 5, warmup: 2 },
            { agents: 1000, calls: 3, warmup: 1 },
          ])
        : runContextBench(runs),
  },
  {
    name: "Dependencies",
    run: () => runDependencyBench(runs, smoke ? { completion: { count: 50, warmup: 10 }, completionGoCount: 50, gate: { waiters: 200 }, gateRounds: 2 } : {}),
  },
  {
    name: "Memory",
    run: async () => {
      const results = await runMemoryBench(memoryRuns, smoke ? { signals: 5000, subscriptions: 100, settleMs: 100 } : {});
      memoryOfThisRun = results[0];
      return results;
    },
  },
  { name: "Shutdown", run: () => runShutdownBench(runs, smoke ? { subscribers: 10, loadMs: 300 } : {}) },
  { name: "Peers", aliases: ["Compare"], run: () => runPeersBench({ runs, smoke, ...(memoryOfThisRun !== undefined && { consortMemory: memoryOfThisRun }) }) },
];

const selected = areas.filter((a) => only === undefined || [a.name, ...(a.aliases ?? [])].some((n) => n.startsWith(only)));
if (selected.length === 0) throw new Error(`--only ${only}: no such area (${areas.map((a) => a.name).join(", ")})`);

const startedAt = new Date();
const loadStart = machineLoad();
console.log(`Machine load at start: ${loadStart.raw} (/proc/loadavg: 1, 5, 15 min; ${smoke ? "SMOKE run: tiny counts, numbers say nothing about speed" : `${runs} runs`})`);
const results: Record<string, unknown> = {};
let failure: unknown;
try {
  for (const area of selected) {
    const t0 = performance.now();
    try {
      results[area.name] = await area.run();
    } catch (e) {
      failure = e;
      results[area.name] = { error: String(e) };
      break;
    } finally {
      console.log(`${area.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
} finally {
  const loadEnd = machineLoad();
  console.log(`Machine load at end: ${loadEnd.raw}`);
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const path = writeResults({
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seconds,
    argv: process.argv.slice(2),
    runs,
    smoke,
    load: { start: loadStart, end: loadEnd },
    areas: results,
  });
  console.log(`Results of this run (${seconds.toFixed(0)} s) written to ${path}`);
}
if (failure !== undefined) throw failure;
