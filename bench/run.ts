import { runContextBench } from "./context.js";
import { runDependencyBench } from "./dependencies.js";
import { measureFanout } from "./fanout.js";
import { measureLatency } from "./latency.js";
import { measureLatencyGo } from "./latency-go.js";
import { runMemoryBench } from "./memory.js";
import { runShutdownBench } from "./shutdown.js";
import { measurePublishCost } from "./publish-cost.js";
import { runRoutingBench } from "./routing.js";
import { startServerProcess } from "./server-process.js";

/**
 * Runs the benchmarks and prints their numbers: `npm run bench [-- --runs N] [-- --only Signals|Routing|Context|Dependencies|Memory|Shutdown]`. Each
 * RPC run uses a fresh server process; the median over runs is printed last.
 */
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const runs = Number(arg("--runs") ?? 3);
const only = arg("--only");
const selected = (area: string) => only === undefined || area.startsWith(only);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

if (selected("Signals")) {
  const cost = measurePublishCost();
  console.log(
    `Signals/publish-cost: ${cost.earlyUs.toFixed(2)} µs/signal at signals 1..10, ${cost.fullUs.toFixed(2)} µs/signal at a full 10,000 history (ratio ${cost.ratio.toFixed(2)})`,
  );

  const results = [];
  for (let r = 0; r < runs; r++) {
    const server = await startServerProcess();
    try {
      const res = await measureLatency(server, { rate: 1000, count: 5000 });
      results.push(res);
      console.log(
        `Signals/latency run ${r + 1}: p50 ${res.p50.toFixed(3)} ms, p90 ${res.p90.toFixed(3)} ms, p99 ${res.p99.toFixed(3)} ms, max ${res.max.toFixed(3)} ms (${res.count} signals at 1,000/s, Node grpc-js client)`,
      );
    } finally {
      await server.stop();
    }
  }
  console.log(
    `Signals/latency median of ${runs}: p50 ${median(results.map((r) => r.p50)).toFixed(3)} ms, p99 ${median(results.map((r) => r.p99)).toFixed(3)} ms`,
  );

  const goResults = [];
  for (let r = 0; r < runs; r++) {
    const server = await startServerProcess();
    try {
      const res = measureLatencyGo(server, { rate: 1000, count: 5000 });
      goResults.push(res);
      console.log(
        `Signals/latency-go run ${r + 1}: p50 ${res.p50.toFixed(3)} ms, p90 ${res.p90.toFixed(3)} ms, p99 ${res.p99.toFixed(3)} ms, max ${res.max.toFixed(3)} ms (${res.count} signals at 1,000/s, Go client)`,
      );
    } finally {
      await server.stop();
    }
  }
  console.log(
    `Signals/latency-go median of ${runs}: p50 ${median(goResults.map((r) => r.p50)).toFixed(3)} ms, p99 ${median(goResults.map((r) => r.p99)).toFixed(3)} ms`,
  );

  // The publisher runs flat out, so subscribers are given a buffer that holds the whole run: this measures
  // throughput, not the lag cut-off.
  const fan = [];
  for (let r = 0; r < runs; r++) {
    const server = await startServerProcess(["--subscriber-buffer", "100000"]);
    try {
      const res = await measureFanout(server, { subscribers: 100, signals: 5000 });
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
}

if (selected("Routing")) await runRoutingBench(runs);

if (selected("Context")) await runContextBench(runs);

if (selected("Dependencies")) await runDependencyBench(runs);

if (selected("Memory")) await runMemoryBench(runs);

if (selected("Shutdown")) await runShutdownBench(runs);
