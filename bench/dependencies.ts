import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as hdr from "hdr-histogram-js";
import {
  DependencyService,
  DependencyStatus,
  ResolveDependenciesRequestSchema,
  ResolveDependenciesResponseSchema,
  type ListDependenciesResponse,
  type SetQualityGateScoreResponse,
} from "../gen/ts/consort/v1/dependency_pb.js";
import { PublishRequestSchema, SignalService, SignalType } from "../gen/ts/consort/v1/signal_pb.js";
import { rawUnaryClient, serviceClient, type ServiceClient } from "./clients.js";
import { checkSharedClock, startWaiterProcess } from "./dependency-waiter.js";
import { echoPath, withServerAndEcho, type EchoProcess } from "./echo-server.js";
import { gaugeValue, scrapeMetrics } from "./metrics-scrape.js";
import { measureCompletionGo, type CompletionGoResult } from "./latency-go.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";
import { median } from "./median.js";

const unary = <T>(client: ServiceClient, method: string, request: object) =>
  new Promise<T>((resolve, reject) => client[method]!.call(client, request, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))));

const ms = (n: number) => `${n.toFixed(3)} ms`;

// ---------------------------------------------------------------------------------------------------------------
// (a) Completion published by one process → the waiter in another process released
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link measureCompletion}. */
export interface CompletionOptions {
  /** Measured completions. @default 3000 */
  readonly count?: number;
  /** Untimed completions first. @default 300 */
  readonly warmup?: number;
  /**
   * A raw grpc-js echo server: after each completion, one echo call of the publish request's bytes is timed too,
   * the floor of one unary round trip on this machine at that moment.
   */
  readonly echo?: EchoProcess;
}

/** Percentiles of {@link measureCompletion}, in milliseconds. */
export interface CompletionResult {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly count: number;
  /** The publisher's own Publish RPC (request sent → response received), p50 and p99. */
  readonly publishP50: number;
  readonly publishP99: number;
  /** The echo floor (see {@link CompletionOptions.echo}), p50 / p99 / p99.9; undefined without an echo server. */
  readonly echoP50: number | undefined;
  readonly echoP99: number | undefined;
  readonly echoP999: number | undefined;
  /** The shortest IPC round trip of the clock check, in µs: the bound it puts on any offset between the clocks. */
  readonly clockCheckMicros: number;
}

/**
 * Completion → waiter released, across processes. The waiter is a forked process (bench/dependency-waiter.ts)
 * with its own gRPC connection; this process publishes on another connection; the server is a third process.
 * For each completion: the waiter calls ResolveDependencies (agent-completion dependency on a fresh agent id); this
 * process polls ListDependencies (on a third connection) until the wait is IN_PROGRESS, so the completion is
 * sure to arrive while the call waits (and is not found at registration); then it reads `process.hrtime.bigint()`
 * and publishes `agent_completed` (sender = the awaited agent, ~200-byte data with `success: true`). The waiter
 * reads the same clock (CLOCK_MONOTONIC, shared by every process; checked at start) when the response arrives.
 * One completion at a time; the latencies go into an HDR histogram.
 */
export async function measureCompletion(server: ServerProcess, options: CompletionOptions = {}): Promise<CompletionResult> {
  const count = options.count ?? 3000;
  const warmup = options.warmup ?? 300;
  const addr = `127.0.0.1:${server.grpcPort}`;
  const waiter = await startWaiterProcess(addr);
  const status = serviceClient(DependencyService, addr);
  const publisher = rawUnaryClient(addr, `/${SignalService.typeName}/Publish`);
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const publish = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const echoH = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const echo = options.echo === undefined ? undefined : rawUnaryClient(`127.0.0.1:${options.echo.port}`, echoPath);
  const coordinationId = `completion-${Date.now()}`;
  try {
    const clockCheckMicros = await checkSharedClock(waiter);
    for (let i = 1; i <= warmup + count; i++) {
      const worker = `worker-${i}`;
      const dependencyId = `done-${i}`;
      const request = Buffer.from(
        toBinary(
          PublishRequestSchema,
          create(PublishRequestSchema, {
            coordinationId,
            type: SignalType.AGENT_COMPLETED,
            senderAgentId: worker,
            data: { agent_id: worker, result_summary: "Generated 5 Pydantic models", quality_score: 0.95, execution_time_ms: 1234.5, success: true },
          }),
        ),
      );
      waiter.send({ op: "wait", coordinationId, agentId: "waiter", dependencyId, completes: worker });
      // Until the server holds the wait open. ListDependencies (this agent, IN_PROGRESS) rather than
      // GetDependencyStatus: a wait not yet recorded is an empty page, not a NOT_FOUND error the server would log.
      for (;;) {
        const page = await unary<ListDependenciesResponse>(status, "listDependencies", { coordinationId, agentId: "waiter", statuses: [DependencyStatus.IN_PROGRESS], pageSize: 1 });
        if (page.records[0]?.dependency?.dependencyId === dependencyId) break;
      }
      const t0 = process.hrtime.bigint();
      const published = new Promise<bigint>((resolve, reject) => publisher.call(request, (err) => (err ? reject(err) : resolve(process.hrtime.bigint()))));
      const report = await waiter.next();
      const t1 = await published;
      if (report.op !== "released" || report.dependencyId !== dependencyId) throw new Error(`unexpected waiter report ${JSON.stringify(report)}`);
      if (!report.success) throw new Error(`dependency ${dependencyId} did not resolve: ${report.error}`);
      // Keep the coordination's records few, so the ListDependencies polls stay cheap (untimed).
      if (i % 500 === 0) await unary(status, "clearDependencies", { coordinationId });
      if (i > warmup) {
        latency.recordValue(Number(BigInt(report.at) - t0) / 1000);
        publish.recordValue(Number(t1 - t0) / 1000);
      }
      if (echo !== undefined) {
        const e0 = process.hrtime.bigint();
        await new Promise<void>((resolve, reject) => echo.call(request, (err) => (err ? reject(err) : resolve())));
        if (i > warmup) echoH.recordValue(Number(process.hrtime.bigint() - e0) / 1000);
      }
    }
    const p = (h: hdr.Histogram, q: number) => h.getValueAtPercentile(q) / 1000;
    return {
      p50: p(latency, 50),
      p90: p(latency, 90),
      p99: p(latency, 99),
      p999: p(latency, 99.9),
      max: latency.maxValue / 1000,
      count: latency.totalCount,
      publishP50: p(publish, 50),
      publishP99: p(publish, 99),
      echoP50: echo === undefined ? undefined : p(echoH, 50),
      echoP99: echo === undefined ? undefined : p(echoH, 99),
      echoP999: echo === undefined ? undefined : p(echoH, 99.9),
      clockCheckMicros,
    };
  } finally {
    latency.destroy();
    publish.destroy();
    echoH.destroy();
    echo?.close();
    status.close();
    publisher.close();
    await waiter.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// (b) 10,000 waiters on one quality gate, released by one SetQualityGateScore
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link measureGateRelease}. */
export interface GateOptions {
  /** Waiters (one ResolveDependencies call each, one agent each). @default 10000 */
  readonly waiters?: number;
  /** Connections the waiters' calls are spread over. @default 8 */
  readonly connections?: number;
}

/** One release of {@link measureGateRelease}; times in milliseconds from just before SetQualityGateScore. */
export interface GateResult {
  readonly waiters: number;
  /**
   * From the first ResolveDependencies call issued until the server's `consort_pending_waits` gauge showed all of
   * them open (polled every 25 ms; a scrape costs the server ~1 ms), and the server's CPU over that span: what
   * opening `waiters` concurrent calls costs.
   */
  readonly registration: number;
  readonly registrationServerCpu: number;
  /** Until the last waiter's response arrived. */
  readonly lastReleased: number;
  /** Until half the waiters' responses had arrived. */
  readonly medianReleased: number;
  /** Until the first waiter's response arrived. */
  readonly firstReleased: number;
  /** SetQualityGateScore's own RPC time (request → response, in this process). */
  readonly setScoreRpc: number;
  readonly releasedWaits: number;
  /** Server-process CPU from just before SetQualityGateScore to the last response, in ms (from /proc). */
  readonly serverCpu: number;
  /** This (client) process's CPU over the same span, in ms. */
  readonly clientCpu: number;
}

let gateRound = 0;

/**
 * `waiters` agents each call ResolveDependencies with one quality-gate dependency (gate "release", threshold 0.8),
 * from this process over `connections` raw grpc-js channels (requests encoded beforehand, responses decoded only
 * after the last arrived). Once every wait is open (the pending-waits gauge, then ListDependencies: all
 * IN_PROGRESS), one SetQualityGateScore(0.9) on
 * its own connection releases them all; each response's arrival time is taken in its callback. The coordination
 * is cleared afterwards (untimed).
 */
export async function measureGateRelease(server: ServerProcess, options: GateOptions = {}): Promise<GateResult> {
  const n = options.waiters ?? 10_000;
  const addr = `127.0.0.1:${server.grpcPort}`;
  const path = `/${DependencyService.typeName}/ResolveDependencies`;
  const channels = Array.from({ length: options.connections ?? 8 }, (_, i) => rawUnaryClient(addr, path, { "grpc.channel_id": i }));
  const admin = serviceClient(DependencyService, addr);
  const coordinationId = `gate-bench-${Date.now()}-${++gateRound}`;
  const requests = Array.from({ length: n }, (_, i) =>
    Buffer.from(
      toBinary(
        ResolveDependenciesRequestSchema,
        create(ResolveDependenciesRequestSchema, {
          coordinationId,
          agentId: `waiter-${String(i).padStart(5, "0")}`,
          dependencies: [{ dependencyId: "release-gate", target: { case: "qualityGate", value: { gateId: "release", threshold: 0.8 } } }],
        }),
      ),
    ),
  );
  const arrivals = new Array<bigint>(n);
  const responses = new Array<Buffer>(n);
  let arrived = 0;
  let failure: Error | undefined;
  let allArrived!: () => void;
  const done = new Promise<void>((resolve) => (allArrived = resolve));
  try {
    const issueCpu = server.cpuMicros();
    const issued = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      channels[i % channels.length]!.call(requests[i]!, (err, res) => {
        arrivals[i] = process.hrtime.bigint();
        if (err) failure ??= err;
        else responses[i] = res!;
        if (++arrived === n) allArrived();
      });
    }
    // Until every wait is registered and open: the server's pending-waits gauge (only this benchmark's waits are
    // open), then ListDependencies to confirm.
    for (;;) {
      if (failure !== undefined) throw failure;
      if (arrived > 0) throw new Error(`${arrived} waiters answered before the gate was scored`);
      if (gaugeValue(await scrapeMetrics(server.httpPort), "consort_pending_waits") === n) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const registered = process.hrtime.bigint();
    const registrationCpu = (server.cpuMicros() - issueCpu) / 1000;
    let open = 0;
    let pageToken = "";
    do {
      const page = await unary<ListDependenciesResponse>(admin, "listDependencies", { coordinationId, statuses: [DependencyStatus.IN_PROGRESS], pageSize: 1000, pageToken });
      open += page.records.length;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    if (open !== n) throw new Error(`${open} of ${n} waits are IN_PROGRESS`);
    const cpu0 = server.cpuMicros();
    const client0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const set = await unary<SetQualityGateScoreResponse>(admin, "setQualityGateScore", { coordinationId, gateId: "release", score: 0.9 });
    const tSet = process.hrtime.bigint();
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${arrived} of ${n} waiters released in 60 s`)), 60_000).unref())]);
    const client1 = process.cpuUsage(client0);
    const serverCpu = (server.cpuMicros() - cpu0) / 1000;
    if (failure !== undefined) throw failure;
    for (const r of responses) if (!fromBinary(ResolveDependenciesResponseSchema, r).success) throw new Error("a waiter was not released with success");
    const sorted = arrivals.map((t) => Number(t - t0) / 1e6).sort((a, b) => a - b);
    await unary(admin, "clearDependencies", { coordinationId });
    return {
      waiters: n,
      registration: Number(registered - issued) / 1e6,
      registrationServerCpu: registrationCpu,
      lastReleased: sorted[n - 1]!,
      medianReleased: sorted[Math.floor(n / 2)]!,
      firstReleased: sorted[0]!,
      setScoreRpc: Number(tSet - t0) / 1e6,
      releasedWaits: set.releasedWaits,
      serverCpu,
      clientCpu: (client1.user + client1.system) / 1000,
    };
  } finally {
    channels.forEach((c) => c.close());
    admin.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// (c) The printed benchmark
// ---------------------------------------------------------------------------------------------------------------

function completionLine(r: CompletionResult): string {
  return (
    `p50 ${ms(r.p50)}, p90 ${ms(r.p90)}, p99 ${ms(r.p99)}, p99.9 ${ms(r.p999)}, max ${ms(r.max)} (${r.count} completions; ` +
    `the publisher's Publish RPC p50 ${ms(r.publishP50)}, p99 ${ms(r.publishP99)}; ` +
    (r.echoP50 === undefined ? "" : `echo floor p50 ${ms(r.echoP50)}, p99 ${ms(r.echoP99!)}, p99.9 ${ms(r.echoP999!)}; `) +
    `clocks one within ${r.clockCheckMicros.toFixed(0)} µs)`
  );
}

function gateLine(r: GateResult): string {
  return (
    `last released ${ms(r.lastReleased)}, half ${ms(r.medianReleased)}, first ${ms(r.firstReleased)}; SetQualityGateScore RPC ${ms(r.setScoreRpc)}, ` +
    `released_waits ${r.releasedWaits}; CPU server ${r.serverCpu.toFixed(0)} ms, client ${r.clientCpu.toFixed(0)} ms; ` +
    `${r.waiters} waits open in ${ms(r.registration)} (server CPU ${r.registrationServerCpu.toFixed(0)} ms)`
  );
}

/** Options of {@link runDependencyBench}: passed to each measurement (the smoke run makes them tiny). */
export interface DependencyBenchOptions {
  readonly completion?: Omit<CompletionOptions, "echo">;
  /** Completions measured by the Go client. @default 2000 */
  readonly completionGoCount?: number;
  readonly gate?: GateOptions;
  /** Gate releases per server process: the first is a warm-up, the rest are measured. @default 3 */
  readonly gateRounds?: number;
}

/**
 * Runs the dependency benchmarks `runs` times, each on a fresh server process: completion → waiter latency, then
 * the 10,000-waiter gate release (3 rounds, the first untimed). Prints one line per run and the medians over runs.
 */
export async function runDependencyBench(runs = 3, options: DependencyBenchOptions = {}): Promise<{ completion: CompletionResult[]; gate: GateResult[] }> {
  const gateRounds = options.gateRounds ?? 3;
  const completion: CompletionResult[] = [];
  const gate: GateResult[] = [];
  for (let r = 0; r < runs; r++) {
    const res = await withServerAndEcho((server, echo) => measureCompletion(server, { ...options.completion, echo }));
    completion.push(res);
    console.log(`Dependencies/completion run ${r + 1}: ${completionLine(res)}`);
  }
  const completionGo: CompletionGoResult[] = [];
  for (let r = 0; r < runs; r++) {
    const server = await startServerProcess();
    try {
      const res = await measureCompletionGo(server, { count: options.completionGoCount ?? 2000 });
      completionGo.push(res);
      console.log(
        `Dependencies/completion-go run ${r + 1}: p50 ${ms(res.p50)}, p90 ${ms(res.p90)}, p99 ${ms(res.p99)}, p99.9 ${ms(res.p999)}, max ${ms(res.max)} ` +
          `(${res.count} completions, Go client; the publisher's Publish RPC p50 ${ms(res.publishP50)}, p99 ${ms(res.publishP99)})`,
      );
    } finally {
      await server.stop();
    }
  }
  for (let r = 0; r < runs; r++) {
    const server = await startServerProcess();
    try {
      const rounds: GateResult[] = [];
      for (let k = 0; k < gateRounds; k++) {
        const res = await measureGateRelease(server, options.gate);
        if (k === 0) continue;
        rounds.push(res);
        console.log(`Dependencies/gate-10000 run ${r + 1} round ${k}: ${gateLine(res)}`);
      }
      const byLast = [...rounds].sort((a, b) => a.lastReleased - b.lastReleased);
      const mid = byLast[Math.floor(byLast.length / 2)]!;
      gate.push(mid);
    } finally {
      await server.stop();
    }
  }
  const m = (f: (x: CompletionResult) => number) => median(completion.map(f));
  console.log(
    `Dependencies/completion median of ${runs}: p50 ${ms(m((x) => x.p50))}, p99 ${ms(m((x) => x.p99))}, p99.9 ${ms(m((x) => x.p999))}; ` +
      `Publish RPC p50 ${ms(m((x) => x.publishP50))}, p99 ${ms(m((x) => x.publishP99))}; echo floor p50 ${ms(m((x) => x.echoP50 ?? NaN))}, p99 ${ms(m((x) => x.echoP99 ?? NaN))}`,
  );
  const cg = (f: (x: CompletionGoResult) => number) => median(completionGo.map(f));
  console.log(
    `Dependencies/completion-go median of ${runs}: p50 ${ms(cg((x) => x.p50))}, p99 ${ms(cg((x) => x.p99))}, p99.9 ${ms(cg((x) => x.p999))}; ` +
      `Publish RPC p50 ${ms(cg((x) => x.publishP50))}, p99 ${ms(cg((x) => x.publishP99))}`,
  );
  const g = (f: (x: GateResult) => number) => median(gate.map(f));
  console.log(
    `Dependencies/gate-10000 median of ${runs} (each run's median round): last released ${ms(g((x) => x.lastReleased))}, half ${ms(g((x) => x.medianReleased))}; ` +
      `SetQualityGateScore RPC ${ms(g((x) => x.setScoreRpc))}, released_waits ${g((x) => x.releasedWaits)}; CPU server ${g((x) => x.serverCpu).toFixed(0)} ms, client ${g((x) => x.clientCpu).toFixed(0)} ms; ` +
      `waits open in ${ms(g((x) => x.registration))} (server CPU ${g((x) => x.registrationServerCpu).toFixed(0)} ms)`,
  );
  return { completion, gate };
}
