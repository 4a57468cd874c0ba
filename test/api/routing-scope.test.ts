import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConditionOperator, RoutingDecision } from "../../gen/ts/consort/v1/routing_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer, type Clients, type TestServer } from "./harness.js";

/**
 * Routing results tied to a coordination over real ports: Route with a coordination id (the coordination is
 * created and marked active), ListRoutingHistory by coordination, and DeleteCoordination taking that
 * coordination's results, and no other, out of the history while the policy's stats stay.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** The error a promise rejects with (fails the test when it resolves). */
const rejection = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error("expected the call to fail")), (e: unknown) => ConnectError.from(e));

/** A policy retrying on errors: a state with `error_count` > 0 gives RETRY, any other CONTINUE. */
async function putPolicy(c: Clients, policyId: string): Promise<void> {
  const rule = { ruleId: "err", conditionKey: "error_count", operator: ConditionOperator.GREATER_THAN, conditionValue: { kind: { case: "numberValue" as const, value: 0 } }, decision: RoutingDecision.RETRY };
  await c.routing.putRoutingPolicy({ policy: { policyId, routers: [{ kind: { case: "conditional", value: { rules: [rule] } } }] } });
}

describe("Route with a coordination id", () => {
  // gRPC takes Route's hand-written codecs (the gRPC port's bridge); Connect JSON the generated messages.
  it.each(["grpc", "connectJson"] as const)("ties the result to the coordination, lists it by coordination, and DeleteCoordination takes only its results over %s", async (name) => {
    const c: Clients = server[name];
    const policyId = `scope-${name}`;
    const [mine, other] = [`scope-${name}-mine`, `scope-${name}-other`];
    await putPolicy(c, policyId);
    const route = async (coordinationId: string, currentTask: string, errors = 0) =>
      (await c.routing.route({ policySource: { case: "policyId", value: policyId }, currentTask, coordinationId, state: { error_count: errors } })).result!;

    const first = await route(mine, "generate", 1);
    expect([first.coordinationId, first.decision]).toEqual([mine, RoutingDecision.RETRY]);
    await route(other, "generate");
    await route("", "generate");
    await route(mine, "review");

    // The coordination exists for every service now, with its activity.
    const got = await c.coordinations.getCoordination({ coordinationId: mine });
    expect(got.coordination?.coordinationId).toBe(mine);
    expect(got.coordination?.lastActivityAt?.seconds).toBeGreaterThan(0n);
    const listed: string[] = [];
    for (let token = ""; ; ) {
      const page = await c.coordinations.listCoordinations({ pageToken: token });
      listed.push(...page.coordinations.map((x) => x.coordinationId));
      if ((token = page.nextPageToken) === "") break;
    }
    expect(listed).toEqual(expect.arrayContaining([mine, other]));

    const history = async (filter: { coordinationId?: string; currentTask?: string } = {}) =>
      (await c.routing.listRoutingHistory({ policyId, ...filter })).results.map((r) => `${r.coordinationId || "-"}/${r.currentTask}`);
    expect(await history()).toEqual([`${mine}/review`, "-/generate", `${other}/generate`, `${mine}/generate`]);
    expect(await history({ coordinationId: mine })).toEqual([`${mine}/review`, `${mine}/generate`]);
    expect(await history({ coordinationId: mine, currentTask: "generate" })).toEqual([`${mine}/generate`]);

    // Pages: a token goes on only with the same filters.
    const page1 = await c.routing.listRoutingHistory({ policyId, coordinationId: mine, pageSize: 1 });
    expect(page1.results.map((r) => r.currentTask)).toEqual(["review"]);
    const page2 = await c.routing.listRoutingHistory({ policyId, coordinationId: mine, pageSize: 1, pageToken: page1.nextPageToken });
    expect([page2.results.map((r) => r.currentTask), page2.nextPageToken]).toEqual([["generate"], ""]);
    const mixed = await rejection(c.routing.listRoutingHistory({ policyId, coordinationId: other, pageSize: 1, pageToken: page1.nextPageToken }));
    expect(mixed.code).toBe(Code.InvalidArgument);
    expect(mixed.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["page_token"]);

    const stats = (await c.routing.getRoutingStats({ policyId })).stats;
    expect([stats?.totalRoutings, stats?.decisions]).toEqual([4n, { retry: 1n, continue: 3n }]);

    expect((await c.coordinations.deleteCoordination({ coordinationId: mine })).deleted).toBe(true);
    expect(await history()).toEqual(["-/generate", `${other}/generate`]);
    expect(await history({ coordinationId: mine })).toEqual([]);
    expect((await c.routing.getRoutingStats({ policyId })).stats).toEqual(stats);

    // ClearRoutingHistory drops what is left and resets the stats.
    expect((await c.routing.clearRoutingHistory({ policyId })).clearedRecords).toBe(2n);
    expect((await c.routing.getRoutingStats({ policyId })).stats?.totalRoutings).toBe(0n);
    await c.coordinations.deleteCoordination({ coordinationId: other });
  });

  it.each(["grpc", "connect"] as const)("refuses a coordination id over 100 characters, INVALID_ARGUMENT naming coordination_id, over %s", async (name) => {
    const c: Clients = server[name];
    const policySource = { case: "policy" as const, value: { policyId: `long-${name}` } };
    const err = await rejection(c.routing.route({ policySource, currentTask: "t", coordinationId: "x".repeat(101) }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^coordination_id: must be at most 100 characters, got 101/);
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("FIELD_INVALID");
    expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["coordination_id"]);
    expect((await c.routing.listRoutingHistory({ policyId: `long-${name}` })).results).toEqual([]);
    const filter = await rejection(c.routing.listRoutingHistory({ policyId: `long-${name}`, coordinationId: "x".repeat(101) }));
    expect(filter.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["coordination_id"]);
  });
});
