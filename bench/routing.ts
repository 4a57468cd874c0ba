import { create, fromBinary, fromJson, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as hdr from "hdr-histogram-js";
import {
  RouteRequestSchema,
  RouteResponseSchema,
  RouterSchema,
  RoutingPolicySchema,
  RoutingService,
  type ConditionOperator,
  type RoutingDecision,
} from "../gen/ts/consort/v1/routing_pb.js";
import { Violations } from "../src/core/errors.js";
import type { JsonObject } from "../src/core/json.js";
import { defaultLimits } from "../src/core/limits.js";
import { aggregate } from "../src/core/routing/aggregate.js";
import { validateRouters, type RouterInput } from "../src/core/routing/policy.js";
import { compileRouter } from "../src/core/routing/routers.js";
import { createRoutingEngine } from "../src/core/routing/routing-engine.js";
import { conditionOperators, routingDecisions, type RoutingContext } from "../src/core/routing/types.js";
import { rawUnaryClient, serviceClient, type RawUnaryClient } from "./clients.js";
import { echoPath, withServerAndEcho, type EchoProcess } from "./echo-server.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";
import { median } from "./median.js";

// ---------------------------------------------------------------------------------------------------------------
// The workload: one policy of four routers and one realistic routing context, shared by the core and RPC runs.
// ---------------------------------------------------------------------------------------------------------------

/**
 * Conditional (10 rules of varied operators; only the lowest-priority rule matches the state below), parallel
 * (2 hints; the first applies), state analysis and priority (defaults). The conditional rule wins (1.0 × 100).
 */
export const benchRouters: readonly RouterInput[] = [
  {
    strategy: "conditional",
    rules: [
      { ruleId: "errors", conditionKey: "error_count", operator: ">", conditionValue: 0, decision: "retry", nextTask: "fix_errors", priority: 95 },
      { ruleId: "failed", conditionKey: "status", operator: "==", conditionValue: "failed", decision: "error", priority: 90 },
      { ruleId: "urgent", conditionKey: "task_priority", operator: ">=", conditionValue: 95, decision: "branch", nextTask: "escalate", priority: 85 },
      { ruleId: "low-quality", conditionKey: "quality_score", operator: "<", conditionValue: 0.5, decision: "retry", priority: 80 },
      { ruleId: "shipping", conditionKey: "current_phase", operator: "in", conditionValue: ["deploy", "release", "rollback"], decision: "end", priority: 70 },
      { ruleId: "deployed", conditionKey: "completed_tasks", operator: "contains", conditionValue: "deploy", decision: "end", priority: 65 },
      { ruleId: "unknown-agent", conditionKey: "agent_id", operator: "not_in", conditionValue: ["model-generator", "test-writer", "reviewer"], decision: "skip", priority: 60 },
      { ruleId: "too-many-retries", conditionKey: "retries", operator: "<=", conditionValue: -1, decision: "error", priority: 50 },
      { ruleId: "no-design", conditionKey: "completed_tasks", operator: "not_contains", conditionValue: "design_schema", decision: "conditional", nextTask: "design_schema", priority: 40 },
      { ruleId: "staging", name: "Staging run", conditionKey: "environment", operator: "!=", conditionValue: "production", decision: "continue", nextTask: "review", priority: 5 },
    ],
  },
  {
    strategy: "parallel",
    hints: [
      { taskGroup: ["generate_models", "generate_tests", "generate_docs"], dependencies: ["design_schema"], estimatedDurationMs: 45_000 },
      { taskGroup: ["lint", "typecheck"], dependencies: ["generate_models"], estimatedDurationMs: 5_000 },
    ],
  },
  { strategy: "state_analysis" },
  { strategy: "priority" },
];

/** ~10 keys: completed tasks, no errors, priority 60 (medium), a small nested object. */
export const benchState: JsonObject = {
  workflow_id: "wf-2024-0042",
  status: "running",
  current_phase: "build",
  completed_tasks: ["init", "design_schema", "setup_env"],
  error_count: 0,
  task_priority: 60,
  quality_score: 0.87,
  agent_id: "model-generator",
  environment: "staging",
  retries: 0,
  artifacts: { models: 5, schema_version: "1.2.0" },
};

const benchTask = "generate_models";
const benchCustomData: JsonObject = { source: "bench", team: "platform" };

const enumValue = (names: readonly string[], name: string | undefined) => (name === undefined ? 0 : names.indexOf(name) + 1);

/** {@link benchRouters} as a RoutingPolicy message init. */
function policyInit(policyId: string): MessageInitShape<typeof RoutingPolicySchema> {
  return {
    policyId,
    routers: benchRouters.map((r): MessageInitShape<typeof RouterSchema> => {
      switch (r.strategy) {
        case "conditional":
          return {
            kind: {
              case: "conditional" as const,
              value: {
                rules: r.rules.map((rule) => ({
                  ruleId: rule.ruleId,
                  name: rule.name ?? "",
                  conditionKey: rule.conditionKey,
                  operator: enumValue(conditionOperators, rule.operator) as ConditionOperator,
                  conditionValue: fromJson(ValueSchema, rule.conditionValue ?? null),
                  decision: enumValue(routingDecisions, rule.decision) as RoutingDecision,
                  nextTask: rule.nextTask ?? "",
                  ...(rule.priority !== undefined && { priority: rule.priority }),
                })),
              },
            },
          };
        case "parallel":
          return { kind: { case: "parallel" as const, value: { hints: r.hints.map((h) => ({ ...h, taskGroup: [...h.taskGroup], dependencies: [...h.dependencies] })) } } };
        case "state_analysis":
          return { kind: { case: "stateAnalysis" as const, value: {} } };
        case "priority":
          return { kind: { case: "priority" as const, value: {} } };
        default:
          throw new Error(`unexpected router ${r.strategy}`);
      }
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// (a) In-core cost
// ---------------------------------------------------------------------------------------------------------------

/** A rate: decisions per second and µs per decision. */
export interface RouteRate {
  readonly routesPerSecond: number;
  readonly microsPerDecision: number;
}

/** {@link measureRoutingCore}'s result: through `engine.route`, with a coordination id, and the aggregation alone. */
export interface RoutingCoreResult extends RouteRate {
  /** `engine.route` with a coordination id: the coordination acquired in the store and the result tied to it. */
  readonly withCoordination: RouteRate;
  /** `aggregate(compiledRouters, ctx)` only: no validation, history append, id generation or clock reads. */
  readonly aggregateOnly: RouteRate;
  readonly routes: number;
}

/** Options of {@link measureRoutingCore}. */
export interface RoutingCoreOptions {
  /** Timed routes per measurement. @default 300000 */
  readonly routes?: number;
  /** Untimed routes first (JIT, and the history reaching its bound). @default 50000 */
  readonly warmup?: number;
}

/**
 * In-core routing cost, in this process: the bench policy stored in a fresh engine, then `routes` calls of
 * `engine.route({policyId, …})` in a tight loop (includes validation, history append and `randomUUID`), the same
 * with a coordination id (one coordination, acquired by every call), and separately the same number of
 * `aggregate()` calls over the compiled routers. Timed with `process.hrtime.bigint`.
 */
export function measureRoutingCore(options: RoutingCoreOptions = {}): RoutingCoreResult {
  const routes = options.routes ?? 300_000;
  const warmup = options.warmup ?? 50_000;
  const engine = createRoutingEngine();
  const policyId = "bench-core";
  engine.putPolicy(policyId, benchRouters);
  // Both inputs have every field, as the decoder's requests do: one shape for engine.route.
  const input = { policyId, currentTask: benchTask, state: benchState, executionTimeMs: 1234.5, retryCount: 0, customData: benchCustomData, correlationId: "wf-42", coordinationId: "" };
  let sink = 0;
  const timeEngine = (n: number, routeInput: typeof input = input) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += engine.route(routeInput).confidence;
    return Number(process.hrtime.bigint() - t0);
  };
  const scoped = { ...input, coordinationId: "bench-coordination" };

  const compiled = validateRouters(new Violations(), "policy.routers", benchRouters, defaultLimits).map(compileRouter);
  const ctx: RoutingContext = { currentTask: benchTask, state: benchState, executionTimeMs: 1234.5, retryCount: 0, customData: benchCustomData, correlationId: "wf-42" };
  const timeAggregate = (n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += aggregate(compiled, ctx).confidence;
    return Number(process.hrtime.bigint() - t0);
  };

  const first = engine.route(input);
  if (first.strategy !== "conditional" || first.nextTask !== "review") throw new Error(`unexpected bench decision: ${JSON.stringify(first)}`);
  timeEngine(warmup);
  timeEngine(warmup, scoped);
  timeAggregate(warmup);
  const engineNs = timeEngine(routes);
  const scopedNs = timeEngine(routes, scoped);
  const aggregateNs = timeAggregate(routes);
  if (sink === 0) throw new Error("unreachable");
  const rate = (ns: number): RouteRate => ({ routesPerSecond: routes / (ns / 1e9), microsPerDecision: ns / 1000 / routes });
  return { ...rate(engineNs), withCoordination: rate(scopedNs), aggregateOnly: rate(aggregateNs), routes };
}

// ---------------------------------------------------------------------------------------------------------------
// (c) Route RPC against the raw grpc-js echo floor
// ---------------------------------------------------------------------------------------------------------------

/** One target's numbers under one load shape. */
export interface RpcResult {
  readonly requestsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly count: number;
  /** Server-process CPU (user + system, from /proc) per request, in µs. */
  readonly serverCpuMicrosPerRequest: number;
  /** Client-process (this process) CPU per request, in µs. */
  readonly clientCpuMicrosPerRequest: number;
}

/** {@link measureRouteRpc}'s result. */
export interface RouteRpcResult {
  readonly inFlight: number;
  readonly consort: RpcResult;
  readonly echo: RpcResult;
  /** consort / echo throughput. */
  readonly ratio: number;
  /** Encoded RouteRequest size, also the echo payload size. */
  readonly requestBytes: number;
  /** Encoded RouteResponse size (the echo answers with the request's size). */
  readonly responseBytes: number;
}

/** Options of {@link measureRouteRpc}. */
export interface RouteRpcOptions {
  /** Requests in flight (closed loop). */
  readonly inFlight: number;
  /** Measured seconds per target, split into `rounds` alternating slices. @default 2 */
  readonly seconds?: number;
  /** Alternations consort → echo. @default 3 */
  readonly rounds?: number;
  /**
   * Untimed seconds per target first. The Consort server's JIT compiler is still busy for ~4 s of load at 1 in
   * flight (seen with --trace-opt), so a shorter warm-up measures compilation, not the steady state. @default 4
   */
  readonly warmupSeconds?: number;
  /** A coordination id every Route carries (the result tied to it). @default none */
  readonly coordinationId?: string;
}

/** One closed-loop slice: `inFlight` callers, each issuing its next call when the previous one returns. */
function runSlice(client: RawUnaryClient, payload: Buffer, inFlight: number, ms: number, histogram?: hdr.Histogram): Promise<{ count: number; ns: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(Math.round(ms * 1e6));
    let count = 0;
    let active = inFlight;
    let failed = false;
    const issue = () => {
      const t = process.hrtime.bigint();
      client.call(payload, (err) => {
        const now = process.hrtime.bigint();
        if (err) {
          if (!failed) reject(err);
          failed = true;
          return;
        }
        count++;
        histogram?.recordValue(Number(now - t) / 1000);
        if (now < deadline) issue();
        else if (--active === 0) resolve({ count, ns: Number(process.hrtime.bigint() - start) });
      });
    };
    for (let i = 0; i < inFlight; i++) issue();
  });
}

/**
 * Route RPC throughput and latency with grpc-js clients in this process, against the Consort server and a raw
 * grpc-js echo server (each in its own process), under the same closed-loop load of `inFlight` requests.
 * The policy is stored once with PutRoutingPolicy; every Route names it by id and carries {@link benchState}.
 * Both targets are called through the same raw client (request bytes encoded once, responses not decoded), so the
 * difference is the servers' own cost; the echo payload is the encoded RouteRequest itself. Measured slices
 * alternate consort/echo `rounds` times after a warm-up of each.
 */
export async function measureRouteRpc(server: ServerProcess, echo: EchoProcess, options: RouteRpcOptions): Promise<RouteRpcResult> {
  const inFlight = options.inFlight;
  const seconds = options.seconds ?? 2;
  const rounds = options.rounds ?? 3;
  const warmupMs = (options.warmupSeconds ?? 4) * 1000;
  const consortAddr = `127.0.0.1:${server.grpcPort}`;

  // Store the policy through the ordinary generated-descriptor client.
  const admin = serviceClient(RoutingService, consortAddr);
  const policyId = "bench-rpc";
  await new Promise<void>((resolve, reject) =>
    admin["putRoutingPolicy"]!.call(admin, { policy: create(RoutingPolicySchema, policyInit(policyId)) }, (err: Error | null) => (err ? reject(err) : resolve())),
  );
  admin.close();

  const request = Buffer.from(
    toBinary(
      RouteRequestSchema,
      create(RouteRequestSchema, {
        policySource: { case: "policyId", value: policyId },
        currentTask: benchTask,
        state: benchState,
        executionTimeMs: 1234.5,
        retryCount: 0,
        customData: benchCustomData,
        correlationId: "wf-42",
        coordinationId: options.coordinationId ?? "",
      }),
    ),
  );
  const consort = rawUnaryClient(consortAddr, `/${RoutingService.typeName}/${RoutingService.method.route.name}`);
  const echoClient = rawUnaryClient(`127.0.0.1:${echo.port}`, echoPath);
  try {
    // Check both answer as expected before timing anything.
    const first = await new Promise<Buffer>((resolve, reject) => consort.call(request, (err, res) => (err ? reject(err) : resolve(res!))));
    const decoded = fromBinary(RouteResponseSchema, first);
    if (decoded.result?.nextTask !== "review") throw new Error(`unexpected Route result: ${JSON.stringify(decoded.result)}`);
    const echoed = await new Promise<Buffer>((resolve, reject) => echoClient.call(request, (err, res) => (err ? reject(err) : resolve(res!))));
    if (!echoed.equals(request)) throw new Error("echo server answered different bytes");

    await runSlice(consort, request, inFlight, warmupMs);
    await runSlice(echoClient, request, inFlight, warmupMs);

    const targets = [
      { client: consort, cpu: () => server.cpuMicros() },
      { client: echoClient, cpu: () => echo.cpuMicros() },
    ].map((t) => ({
      ...t,
      histogram: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 }),
      count: 0,
      ns: 0,
      serverCpu: 0,
      clientCpu: 0,
    }));
    const sliceMs = (seconds * 1000) / rounds;
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const cpu0 = t.cpu();
        const client0 = process.cpuUsage();
        const res = await runSlice(t.client, request, inFlight, sliceMs, t.histogram);
        const client1 = process.cpuUsage(client0);
        t.serverCpu += t.cpu() - cpu0;
        t.clientCpu += client1.user + client1.system;
        t.count += res.count;
        t.ns += res.ns;
      }
    }
    const [c, e] = targets.map(
      (t): RpcResult => ({
        requestsPerSecond: t.count / (t.ns / 1e9),
        p50: t.histogram.getValueAtPercentile(50) / 1000,
        p99: t.histogram.getValueAtPercentile(99) / 1000,
        count: t.count,
        serverCpuMicrosPerRequest: t.serverCpu / t.count,
        clientCpuMicrosPerRequest: t.clientCpu / t.count,
      }),
    ) as [RpcResult, RpcResult];
    targets.forEach((t) => t.histogram.destroy());
    return { inFlight, consort: c, echo: e, ratio: c.requestsPerSecond / e.requestsPerSecond, requestBytes: request.length, responseBytes: first.length };
  } finally {
    consort.close();
    echoClient.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// (d) The printed benchmark
// ---------------------------------------------------------------------------------------------------------------

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => `${n.toFixed(3)} ms`;

function coreLine(r: RouteRate & { withCoordination: RouteRate; aggregateOnly: RouteRate }): string {
  const rate = (x: RouteRate) => `${x.microsPerDecision.toFixed(2)} µs per decision (${int(x.routesPerSecond)}/s)`;
  return `${rate(r)} via engine.route; ${rate(r.withCoordination)} with a coordination id; ${r.aggregateOnly.microsPerDecision.toFixed(2)} µs aggregate only (${int(r.aggregateOnly.routesPerSecond)}/s)`;
}

function rpcLine(r: Pick<RouteRpcResult, "consort" | "echo" | "ratio">): string {
  const side = (x: RpcResult) => `${int(x.requestsPerSecond)} req/s p50 ${ms(x.p50)} p99 ${ms(x.p99)}, ${x.serverCpuMicrosPerRequest.toFixed(1)} µs server CPU/req`;
  return `consort ${side(r.consort)}; echo ${side(r.echo)}; ratio ${r.ratio.toFixed(2)}`;
}

/** Everything {@link runRoutingBench} measured. */
export interface RoutingBenchResult {
  readonly core: RoutingCoreResult[];
  readonly rpc1: RouteRpcResult[];
  readonly rpc64: RouteRpcResult[];
}

/** Options of {@link runRoutingBench}: passed to each measurement (the smoke run makes them tiny). */
export interface RoutingBenchOptions {
  readonly core?: RoutingCoreOptions;
  readonly rpc?: Omit<RouteRpcOptions, "inFlight">;
}

/**
 * Runs the routing benchmarks `runs` times and prints one line per run and the medians: in-core cost (this
 * process), then Route RPC vs the echo floor at 1 and 64 requests in flight (a fresh Consort server and echo
 * server per run).
 */
export async function runRoutingBench(runs = 3, options: RoutingBenchOptions = {}): Promise<RoutingBenchResult> {
  const core: RoutingCoreResult[] = [];
  for (let r = 0; r < runs; r++) {
    const res = measureRoutingCore(options.core);
    core.push(res);
    console.log(`Routing/core run ${r + 1}: ${coreLine(res)}`);
  }
  const coreMedian = (f: (x: RoutingCoreResult) => RouteRate) => ({ routesPerSecond: median(core.map((x) => f(x).routesPerSecond)), microsPerDecision: median(core.map((x) => f(x).microsPerDecision)) });
  console.log(
    `Routing/core median of ${runs}: ${coreLine({ ...coreMedian((x) => x), withCoordination: coreMedian((x) => x.withCoordination), aggregateOnly: coreMedian((x) => x.aggregateOnly) })}`,
  );

  const rpc1: RouteRpcResult[] = [];
  const rpc64: RouteRpcResult[] = [];
  for (let r = 0; r < runs; r++) {
    await withServerAndEcho(async (server, echo) => {
      for (const [inFlight, into] of [
        [1, rpc1],
        [64, rpc64],
      ] as const) {
        // rpc-64 runs on the servers rpc-1 has just warmed up: a second of warm-up is enough for it.
        const res = await measureRouteRpc(server, echo, { ...(inFlight === 64 && { warmupSeconds: 1 }), ...options.rpc, inFlight });
        into.push(res);
        console.log(`Routing/rpc-${inFlight} run ${r + 1}: ${rpcLine(res)} (${res.requestBytes}-byte request, ${res.responseBytes}-byte response)`);
      }
    });
  }
  for (const [inFlight, list] of [
    [1, rpc1],
    [64, rpc64],
  ] as const) {
    const side = (f: (x: RouteRpcResult) => RpcResult): RpcResult => ({
      requestsPerSecond: median(list.map((x) => f(x).requestsPerSecond)),
      p50: median(list.map((x) => f(x).p50)),
      p99: median(list.map((x) => f(x).p99)),
      count: median(list.map((x) => f(x).count)),
      serverCpuMicrosPerRequest: median(list.map((x) => f(x).serverCpuMicrosPerRequest)),
      clientCpuMicrosPerRequest: median(list.map((x) => f(x).clientCpuMicrosPerRequest)),
    });
    console.log(`Routing/rpc-${inFlight} median of ${runs}: ${rpcLine({ consort: side((x) => x.consort), echo: side((x) => x.echo), ratio: median(list.map((x) => x.ratio)) })}`);
  }
  return { core, rpc1, rpc64 };
}
