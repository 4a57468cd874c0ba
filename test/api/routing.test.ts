import { create, fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConditionOperator,
  RoutingDecision,
  RoutingPolicySchema,
  RoutingService,
  RoutingStrategy,
  type GetRoutingStatsResponse,
  type ListRoutingHistoryResponse,
  type PutRoutingPolicyResponse,
  type RouteResponse,
  type RoutingPolicy,
} from "../../gen/ts/consort/v1/routing_pb.js";
import { grpcErrorDetails, startTestServer, unary, type TestServer } from "./harness.js";

let server: TestServer;
let a: ReturnType<TestServer["grpcClient"]>;
let b: ReturnType<TestServer["grpcClient"]>;
let n = 0;
const pid = () => `policy-${++n}`;

beforeAll(async () => {
  server = await startTestServer();
  // Two clients on separate channels: policies are server state, shared by every client.
  a = server.grpcClient(RoutingService);
  b = server.grpcClient(RoutingService, true);
});
afterAll(() => server.close());

const rule = (ruleId: string, key: string, operator: ConditionOperator, value: unknown, decision: RoutingDecision, priority?: number) => ({
  ruleId,
  name: ruleId,
  conditionKey: key,
  operator,
  conditionValue: fromJson(ValueSchema, value as never),
  decision,
  ...(priority !== undefined && { priority }),
});
const policy = (policyId: string, routers: object[]): RoutingPolicy => create(RoutingPolicySchema, { policyId, routers: routers as never });
const put = (client: typeof a, p: RoutingPolicy) => unary<PutRoutingPolicyResponse>(client, "putRoutingPolicy", { policy: p });
const route = (client: typeof a, policyId: string, req: object = {}) =>
  unary<RouteResponse>(client, "route", { policySource: { case: "policyId", value: policyId }, currentTask: "generate_model", ...req }).then((r) => r.result!);

describe("RoutingService over gRPC", () => {
  it("case 9: of two matching rules the priority-90 one wins", async () => {
    const id = pid();
    await put(a, policy(id, [{ kind: { case: "conditional", value: { rules: [rule("r50", "x", ConditionOperator.EQUAL, 1, RoutingDecision.CONTINUE, 50), rule("r90", "x", ConditionOperator.EQUAL, 1, RoutingDecision.END, 90)] } } }]));
    const r = await route(a, id, { state: { x: 1 } });
    expect(r.decision).toBe(RoutingDecision.END);
    expect(r.metadata).toMatchObject({ rule_id: "r90", rule_priority: 90 });
  });

  it("case 10, and a policy stored by one client is used by another client's Route", async () => {
    const id = pid();
    await put(a, policy(id, [{ kind: { case: "conditional", value: { rules: [rule("error_handling", "error_count", ConditionOperator.GREATER_THAN, 0, RoutingDecision.RETRY, 90)] } } }]));
    const r = await route(b, id, { state: { error_count: 1, completed_tasks: ["parse_contract"], task_priority: 80 }, executionTimeMs: 45.2 });
    expect(r.decision).toBe(RoutingDecision.RETRY);
    expect(r.confidence).toBe(1);
    expect(r.reasoning).toContain("error_count > 0");
    expect(r.strategy).toBe(RoutingStrategy.CONDITIONAL);
    expect(r.routingTimeMs).toBeGreaterThan(0);
  });

  it("case 11: a satisfied parallel hint gives the other group members", async () => {
    const id = pid();
    await put(a, policy(id, [{ kind: { case: "parallel", value: { hints: [{ taskGroup: ["gen_models", "gen_validators", "gen_tests"], dependencies: ["parse"], estimatedDurationMs: 500 }] } } }]));
    const r = await route(a, id, { currentTask: "gen_models", state: { completed_tasks: ["parse"] } });
    expect(r.decision).toBe(RoutingDecision.PARALLEL);
    expect(r.metadata?.["parallel_tasks"]).toEqual(["gen_validators", "gen_tests"]);
    expect(r.reasoning).toBe("Task 'gen_models' can be parallelized with ['gen_validators', 'gen_tests']");
  });

  it("cases 12–14: state analysis", async () => {
    const id = pid();
    await put(a, policy(id, [{ kind: { case: "stateAnalysis", value: { config: { maxComplexityScore: 0.5 } } } }]));
    const errors = await route(a, id, { state: { error_count: 3 } });
    expect(errors.decision).toBe(RoutingDecision.RETRY);
    expect(errors.confidence).toBeGreaterThanOrEqual(0.9);
    expect((await route(a, id, { state: { required_data: null } })).decision).toBe(RoutingDecision.SKIP);
    const state: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) state[`k${i}`] = { a: { b: { c: { d: i } } } };
    const complex = await route(a, id, { state });
    expect(complex.decision).toBe(RoutingDecision.BRANCH);
    expect(complex.confidence).toBe(0.85);
  });

  it("case 15: conditional end beats priority-high continue", async () => {
    const id = pid();
    await put(a, policy(id, [
      { kind: { case: "priority", value: {} } },
      { kind: { case: "conditional", value: { rules: [rule("done", "done", ConditionOperator.EQUAL, true, RoutingDecision.END)] } } },
    ]));
    const r = await route(a, id, { state: { done: true, task_priority: 95 } });
    expect([r.decision, r.strategy]).toEqual([RoutingDecision.END, RoutingStrategy.CONDITIONAL]);
  });

  it("case 16: history newest first, stats count, no routers → continue 0.5", async () => {
    const id = pid();
    await put(a, policy(id, []));
    const first = await route(a, id, { currentTask: "one" });
    expect([first.decision, first.confidence, first.reasoning, first.strategy]).toEqual([
      RoutingDecision.CONTINUE,
      0.5,
      "No routers available, using default decision",
      RoutingStrategy.PRIORITY,
    ]);
    await route(b, id, { currentTask: "two" });
    const history = await unary<ListRoutingHistoryResponse>(a, "listRoutingHistory", { policyId: id });
    expect(history.results.map((r) => r.currentTask)).toEqual(["two", "one"]);
    const stats = await unary<GetRoutingStatsResponse>(a, "getRoutingStats", { policyId: id });
    expect(stats.stats?.totalRoutings).toBe(2n);
    expect(stats.stats?.decisions).toEqual({ continue: 2n });
    expect(stats.stats?.minRoutingTimeMs).toBeGreaterThan(0);
    const cleared = await unary<{ clearedRecords: bigint }>(a, "clearRoutingHistory", { policyId: id });
    expect(cleared.clearedRecords).toBe(2n);
  });

  it("returns the stored policy with defaults filled in", async () => {
    const id = pid();
    const stored = await put(a, policy(id, [{ kind: { case: "priority", value: {} } }]));
    expect(stored.created).toBe(true);
    const cfg = stored.policy?.routers[0]?.kind;
    expect(cfg?.case === "priority" && cfg.value.config).toMatchObject({ highThreshold: 80, lowThreshold: 20, lowPriorityDecision: RoutingDecision.SKIP });
  });

  it("answers NOT_FOUND for an unknown policy and INVALID_ARGUMENT naming the field", async () => {
    const nf = await route(a, "nope").then(() => undefined, (e: grpc.ServiceError) => e);
    expect(nf?.code).toBe(grpc.status.NOT_FOUND);
    const dup = await put(a, policy(pid(), [{ kind: { case: "priority", value: {} } }, { kind: { case: "priority", value: {} } }])).then(() => undefined, (e: grpc.ServiceError) => e);
    expect(dup?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(grpcErrorDetails(dup!).badRequest?.fieldViolations[0]?.field).toBe("policy.routers[1]");
    const empty = await route(a, "x", { currentTask: "" }).then(() => undefined, (e: grpc.ServiceError) => e);
    expect(empty?.details).toMatch(/^current_task: must not be empty/);
  });

  it("routes an inline policy over Connect too", async () => {
    const client = createClient(RoutingService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }));
    const res = await client.route({
      policySource: { case: "policy", value: policy("inline-web", [{ kind: { case: "conditional", value: { rules: [rule("r", "stage", ConditionOperator.IN, ["a", "b"], RoutingDecision.SKIP)] } } }]) },
      currentTask: "t",
      state: { stage: "b" },
    });
    expect(res.result?.reasoning).toBe("Conditional rule 'r' matched: stage in ['a', 'b']");
    // The message Connect serializes is built from the same record as the gRPC bridge's bytes: every field is there.
    expect(res.result?.routingId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.result?.metadata).toEqual({ rule_id: "r", rule_name: "r", rule_priority: 50 });
    expect([res.result?.decision, res.result?.confidence, res.result?.routersEvaluated, res.result?.currentTask]).toEqual([RoutingDecision.SKIP, 1, 1, "t"]);
    expect(res.result?.routingTimeMs).toBeGreaterThan(0);
    expect(res.result?.createdAt?.seconds).toBeGreaterThan(0n);
    const err = await client.getRoutingPolicy({ policyId: "inline-web" }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.NotFound);
  });
});
