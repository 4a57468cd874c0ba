import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import * as hdr from "hdr-histogram-js";
import {
  AgentAssignmentSchema,
  ClearContextsRequestSchema,
  ContextService,
  DistributeContextRequestSchema,
  DistributeContextResponseSchema,
  SharedIntelligenceSchema,
} from "../gen/ts/consort/v1/context_pb.js";
import type { JsonObject } from "../src/core/json.js";
import { rawUnaryClient, type RawUnaryClient } from "./clients.js";
import { gaugeValue, histogramTotals, scrapeMetrics } from "./metrics-scrape.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";
import { median } from "./median.js";

// ---------------------------------------------------------------------------------------------------------------
// The workload: one shared intelligence of ~3 KB and one realistic assignment per agent.
// ---------------------------------------------------------------------------------------------------------------

const field = (type: string, required = true) => ({ type, required });

/** ~3 KB encoded: the registry of a code-generation workflow (types, patterns, rules, names, a module graph). */
export const benchSharedIntelligence: MessageInitShape<typeof SharedIntelligenceSchema> = {
  typeRegistry: {
    User: { kind: "model", fields: { id: field("uuid"), email: field("str"), display_name: field("str", false), created_at: field("datetime"), roles: field("list[Role]") } },
    Role: { kind: "enum", values: ["admin", "maintainer", "reviewer", "viewer"] },
    Project: { kind: "model", fields: { id: field("uuid"), name: field("str"), owner: field("User"), visibility: field("Visibility"), tags: field("list[str]", false) } },
    Visibility: { kind: "enum", values: ["public", "internal", "private"] },
    Issue: { kind: "model", fields: { id: field("int"), title: field("str"), body: field("str", false), state: field("IssueState"), labels: field("list[Label]", false), assignee: field("User", false) } },
    IssueState: { kind: "enum", values: ["open", "in_progress", "closed"] },
    Label: { kind: "model", fields: { name: field("str"), color: field("str"), description: field("str", false) } },
  },
  patternLibrary: {
    models: { values: ["pydantic.BaseModel subclass per entity", "Field(...) with description", "model_config = ConfigDict(frozen=True)", "validators as @field_validator"] },
    enums: { values: ["str-valued Enum subclass", "values in lower_snake_case"] },
    tests: { values: ["pytest parametrize per field rule", "hypothesis strategies from the type registry", "one round-trip test per model"] },
    api: { values: ["FastAPI router per resource", "response_model on every route", "pagination with page_token"] },
    errors: { values: ["HTTPException with a problem+json body", "one error class per domain failure"] },
  },
  validationRules: {
    email: { pattern: "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length: 254 },
    display_name: { min_length: 1, max_length: 64, strip_whitespace: true },
    title: { min_length: 3, max_length: 200 },
    color: { pattern: "^#[0-9a-fA-F]{6}$" },
    tags: { max_items: 20, unique_items: true, item_max_length: 32 },
    body: { max_length: 65536 },
  },
  namingConventions: {
    classes: "PascalCase",
    functions: "snake_case",
    constants: "UPPER_SNAKE_CASE",
    modules: "lower_snake_case",
    test_files: "test_<module>.py",
    enum_members: "UPPER_SNAKE_CASE",
    private: "_leading_underscore",
    type_vars: "T-prefixed PascalCase",
  },
  dependencyGraph: {
    "models.user": { values: ["models.role"] },
    "models.project": { values: ["models.user", "models.visibility"] },
    "models.issue": { values: ["models.user", "models.label", "models.issue_state"] },
    "models.comment": { values: ["models.user", "models.issue"] },
    "api.users": { values: ["models.user", "models.role"] },
    "api.projects": { values: ["models.project", "api.users"] },
    "api.issues": { values: ["models.issue", "models.comment", "api.projects"] },
    "tests.models": { values: ["models.user", "models.project", "models.issue", "models.comment"] },
    "tests.api": { values: ["api.users", "api.projects", "api.issues"] },
  },
};

const roles = ["model-generator", "validator-generator", "test-writer", "api-generator", "reviewer"] as const;

/** The id of agent `i` (fixed width, so every request of one size encodes to the same length). */
const agentId = (i: number) => `agent-${String(i).padStart(4, "0")}`;

/**
 * Agent `i`'s assignment: a role, an objective, 3 tasks, a small input (6 keys), small output requirements and
 * success criteria, and one dependency on agent `i - 1` (a chain, so the cycle check walks all of it); every tenth
 * agent overrides two resource limits, the rest take the defaults.
 */
export function benchAssignment(i: number): MessageInitShape<typeof AgentAssignmentSchema> {
  const role = roles[i % roles.length]!;
  const input: JsonObject = {
    module: `service_${i}`,
    schema_path: `schemas/service_${i}.json`,
    target_python: "3.12",
    strict: true,
    max_models: 5,
    entities: ["User", "Project", "Issue"],
  };
  return {
    agentId: agentId(i),
    agentRole: role,
    objective: `Generate the ${role.replace("-generator", "")} layer of service_${i} from its JSON schema, following the shared patterns and naming conventions`,
    tasks: [`analyze_schema_${i}`, `generate_${role.replace("-", "_")}_${i}`, `self_review_${i}`],
    inputData: input,
    dependencies: i === 0 ? [] : [agentId(i - 1)],
    outputRequirements: { format: "python", files: [`service_${i}/models.py`], docstrings: true },
    successCriteria: { tests_pass: true, min_quality: 0.85 },
    ...(i % 10 === 0 && { resourceAllocation: { maxExecutionTimeMs: 600_000, maxRetryAttempts: 5 } }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The measurement
// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link measureDistribute}. */
export interface DistributeOptions {
  /** Agents per distribution. */
  readonly agents: number;
  /** Measured calls. */
  readonly calls: number;
  /** Untimed calls first. */
  readonly warmup: number;
  /**
   * `replace`: every call re-distributes one coordination (the contract's replace), so the server's memory stays
   * bounded. `fresh`: every call goes to a new coordination, cleared after it (untimed); a cleared coordination
   * keeps its recent changes (for resumed watches) until it expires, so the server's heap grows with every call.
   * @default "replace"
   */
  readonly mode?: "replace" | "fresh";
}

/** Percentiles over the measured calls, in milliseconds. */
export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** {@link measureDistribute}'s result. */
export interface DistributeResult {
  readonly agents: number;
  readonly calls: number;
  /** Client-observed: request bytes handed to grpc-js → response bytes received (no client protobuf work). */
  readonly rpc: Percentiles;
  /**
   * Server-side, per call, from `/metrics` (the difference of a histogram's `_sum` across the call): the
   * distribution itself (`context_distribution_time_ms`), and the unary call as the transport observes it
   * (`consort_rpc_duration_seconds`: handler, response encoding and hand-off to grpc-js; request decoding comes
   * before it). Undefined when the server exports no such histogram.
   */
  readonly serverCore: Percentiles | undefined;
  readonly serverCall: Percentiles | undefined;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** Contexts in the response; fewer than `agents` when it was cut to fit one message (then paged). */
  readonly contextsInResponse: number;
  /** The server's used heap after the last call (`nodejs_heap_size_used_bytes`), in MB. */
  readonly heapUsedMb: number | undefined;
}

const coordinationPrefix = "ctx-bench-";
const coordinationOf = (n: number) => `${coordinationPrefix}${String(n).padStart(8, "0")}`;

/**
 * A DistributeContext request, encoded once; {@link setCoordination} rewrites its coordination id in place (same
 * length), so a call can go to a fresh coordination without re-encoding 1,000 assignments.
 */
function encodeRequest(agents: number): Buffer {
  return Buffer.from(
    toBinary(
      DistributeContextRequestSchema,
      create(DistributeContextRequestSchema, {
        coordinationId: coordinationOf(0),
        sessionId: "session-bench",
        parentWorkflowId: "wf-bench",
        sharedIntelligence: benchSharedIntelligence,
        assignments: Array.from({ length: agents }, (_, i) => benchAssignment(i)),
      }),
    ),
  );
}

/** Field 1 (coordination_id) is written first: tag 0x0a, a one-byte length, the id. */
function setCoordination(request: Buffer, n: number): void {
  const id = coordinationOf(n);
  if (request[0] !== 0x0a || request[1] !== id.length || request.toString("latin1", 2, 2 + coordinationPrefix.length) !== coordinationPrefix) {
    throw new Error("coordination_id is not where the request encoder put it");
  }
  request.write(id, 2, "latin1");
}

const call = (client: RawUnaryClient, payload: Buffer) =>
  new Promise<Buffer>((resolve, reject) => client.call(payload, (err, res) => (err ? reject(err) : resolve(res!))));

const contextPath = (method: string) => `/${ContextService.typeName}/${method}`;

let coordinationCounter = 0;

/**
 * DistributeContext to `agents` agents, `calls` times after `warmup` untimed calls, re-distributing one
 * coordination or each to a fresh one (see {@link DistributeOptions.mode}). The client is raw grpc-js in this
 * process (request encoded once, response bytes not decoded while timing), the server in its own process. Around
 * each call `/metrics` is scraped (untimed) for the server's own time.
 */
export async function measureDistribute(server: ServerProcess, options: DistributeOptions): Promise<DistributeResult> {
  const addr = `127.0.0.1:${server.grpcPort}`;
  const max = 64 * 1024 * 1024;
  const channelOptions = { "grpc.max_receive_message_length": max, "grpc.max_send_message_length": max };
  const distribute = rawUnaryClient(addr, contextPath("DistributeContext"), channelOptions);
  const clear = rawUnaryClient(addr, contextPath("ClearContexts"));
  const request = encodeRequest(options.agents);
  const fresh = options.mode === "fresh";
  const base = ++coordinationCounter;
  const histograms = Array.from({ length: 3 }, () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 }));
  const [rpcH, coreH, callH] = histograms as [hdr.Histogram, hdr.Histogram, hdr.Histogram];
  const method = `${ContextService.typeName}/DistributeContext`;
  const totals = (text: string) => ({
    core: histogramTotals(text, "context_distribution_time_ms"),
    call: histogramTotals(text, "consort_rpc_duration_seconds", { method, code: "OK" }),
  });
  let responseBytes = 0;
  let contextsInResponse = 0;
  let haveCore = true;
  let haveCall = true;
  let heapUsed: number | undefined;
  try {
    for (let i = 0; i < options.warmup + options.calls; i++) {
      const n = fresh ? ++coordinationCounter : base;
      setCoordination(request, n);
      const before = totals(await scrapeMetrics(server.httpPort));
      const t0 = process.hrtime.bigint();
      const response = await call(distribute, request);
      const t1 = process.hrtime.bigint();
      let after = totals(await scrapeMetrics(server.httpPort));
      // The server observes a call after handing its response to grpc-js; wait for it if the scrape was quicker.
      for (let tries = 0; (after.call?.count ?? 1) === (before.call?.count ?? 0) && tries < 100; tries++) {
        await new Promise((r) => setTimeout(r, 1));
        after = totals(await scrapeMetrics(server.httpPort));
      }
      if (i === 0) {
        const decoded = fromBinary(DistributeContextResponseSchema, response);
        responseBytes = response.length;
        contextsInResponse = decoded.contexts.length;
        if (decoded.contexts[0]?.coordinationMetadata?.coordinationId !== coordinationOf(n)) throw new Error("unexpected DistributeContext response");
        if (contextsInResponse < options.agents && decoded.nextPageToken === "") throw new Error(`${contextsInResponse} contexts and no next_page_token`);
      }
      if (i >= options.warmup) {
        rpcH.recordValue(Number(t1 - t0) / 1000);
        if (before.core !== undefined && after.core !== undefined && after.core.count === before.core.count + 1) coreH.recordValue((after.core.sum - before.core.sum) * 1000);
        else haveCore = false;
        if (before.call !== undefined && after.call !== undefined && after.call.count === before.call.count + 1) callH.recordValue((after.call.sum - before.call.sum) * 1e6);
        else haveCall = false;
      }
      if (fresh) await call(clear, Buffer.from(toBinary(ClearContextsRequestSchema, create(ClearContextsRequestSchema, { coordinationId: coordinationOf(n) }))));
    }
    heapUsed = gaugeValue(await scrapeMetrics(server.httpPort), "nodejs_heap_size_used_bytes");
  } finally {
    distribute.close();
    clear.close();
  }
  const pct = (h: hdr.Histogram): Percentiles => ({ p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000, max: h.maxValue / 1000 });
  const result: DistributeResult = {
    agents: options.agents,
    calls: options.calls,
    rpc: pct(rpcH),
    serverCore: haveCore ? pct(coreH) : undefined,
    serverCall: haveCall ? pct(callH) : undefined,
    requestBytes: request.length,
    responseBytes,
    contextsInResponse,
    heapUsedMb: heapUsed === undefined ? undefined : heapUsed / 1e6,
  };
  histograms.forEach((h) => h.destroy());
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// The printed benchmark
// ---------------------------------------------------------------------------------------------------------------

/** Sizes measured, with their measured and warm-up call counts. */
export const distributeSizes: readonly DistributeOptions[] = [
  { agents: 10, calls: 500, warmup: 200 },
  { agents: 100, calls: 300, warmup: 100 },
  { agents: 1000, calls: 150, warmup: 30 },
];

const fmt = (p: Percentiles | undefined) => (p === undefined ? "n/a" : `p50 ${p.p50.toFixed(3)} ms, p99 ${p.p99.toFixed(3)} ms`);

function line(r: DistributeResult): string {
  const paged = r.contextsInResponse < r.agents ? ` (${r.contextsInResponse} in the response, the rest paged)` : "";
  return (
    `RPC ${fmt(r.rpc)}, max ${r.rpc.max.toFixed(3)} ms; server distribution ${fmt(r.serverCore)}; server call ${fmt(r.serverCall)}` +
    ` (${r.calls} calls, ${r.requestBytes.toLocaleString("en-US")}-byte request, ${r.responseBytes.toLocaleString("en-US")}-byte response${paged}` +
    `${r.heapUsedMb === undefined ? "" : `; server heap ${r.heapUsedMb.toFixed(0)} MB after`})`
  );
}

/**
 * Runs the context benchmark `runs` times (a fresh server process per run, the sizes in turn on it) and prints
 * one line per size and run, then the medians over runs of each percentile.
 */
export async function runContextBench(runs = 3, sizes: readonly DistributeOptions[] = distributeSizes): Promise<DistributeResult[][]> {
  const all: DistributeResult[][] = sizes.map(() => []);
  for (let r = 0; r < runs; r++) {
    const server = await startServerProcess();
    try {
      for (const [k, size] of sizes.entries()) {
        const res = await measureDistribute(server, size);
        all[k]!.push(res);
        console.log(`Context/distribute-${size.agents} run ${r + 1}: ${line(res)}`);
      }
    } finally {
      await server.stop();
    }
  }
  for (const [k, size] of sizes.entries()) {
    const list = all[k]!;
    const med = (f: (x: DistributeResult) => Percentiles | undefined): Percentiles | undefined =>
      list.some((x) => f(x) === undefined) ? undefined : { p50: median(list.map((x) => f(x)!.p50)), p99: median(list.map((x) => f(x)!.p99)), max: median(list.map((x) => f(x)!.max)) };
    console.log(`Context/distribute-${size.agents} median of ${runs}: RPC ${fmt(med((x) => x.rpc))}; server distribution ${fmt(med((x) => x.serverCore))}; server call ${fmt(med((x) => x.serverCall))}`);
  }
  return all;
}
