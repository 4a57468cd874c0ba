import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { ConditionOperator, RoutingDecision } from "../../gen/ts/consort/v1/routing_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import type { Clients, TestServer } from "../api/harness.js";
import { useReplicas } from "./fixture.js";

/**
 * Routing policies shared by replicas on one NATS JetStream (`src/backend/nats/routing-policies.ts`): a policy
 * put, replaced or deleted on one replica is what every replica routes with; racing creates give one `created`;
 * a replica started later has them all.
 */

const cluster = useReplicas(2);
let a: TestServer;
let b: TestServer;
beforeAll(() => void ([a, b] = cluster.replicas as [TestServer, TestServer]));
let n = 0;
const pid = () => `policy-${process.pid}-${++n}`;

const json = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];

/** A policy whose one rule gives `decision` when the state's `error_count` is above 0 (CONTINUE otherwise). */
const put = (s: TestServer, policyId: string, decision: RoutingDecision) => {
  const rule = { ruleId: "err", conditionKey: "error_count", operator: ConditionOperator.GREATER_THAN, conditionValue: { kind: { case: "numberValue" as const, value: 0 } }, decision };
  return s.grpc.routing.putRoutingPolicy({ policy: { policyId, routers: [{ kind: { case: "conditional", value: { rules: [rule] } } }] } });
};
const decide = async (c: Clients, policyId: string) => (await c.routing.route({ policySource: { case: "policyId", value: policyId }, currentTask: "generate", state: { error_count: 1 } })).result?.decision;

describe("routing policies on two replicas", () => {
  it("a policy put on A routes on B at once; replaced on B, A routes with the new one; both return one record", async () => {
    const policyId = pid();
    const created = await put(a, policyId, RoutingDecision.RETRY);
    expect(created.created).toBe(true);
    // A's put resolved once A applied it; B applies it from the same bucket right after.
    let onB: RoutingDecision | undefined;
    for (let i = 0; i < 100 && onB !== RoutingDecision.RETRY; i++) {
      onB = await decide(b.grpc, policyId).catch(() => undefined);
      if (onB !== RoutingDecision.RETRY) await new Promise((r) => setTimeout(r, 20));
    }
    expect(onB).toBe(RoutingDecision.RETRY);
    const replaced = await put(b, policyId, RoutingDecision.SKIP);
    expect(replaced.created).toBe(false);
    expect(replaced.policy?.createdAt).toEqual(created.policy?.createdAt);
    let onA: RoutingDecision | undefined;
    for (let i = 0; i < 100 && onA !== RoutingDecision.SKIP; i++) {
      onA = await decide(a.grpc, policyId);
      if (onA !== RoutingDecision.SKIP) await new Promise((r) => setTimeout(r, 20));
    }
    expect(onA).toBe(RoutingDecision.SKIP);
    const [gotA, gotB] = await Promise.all([a.grpc.routing.getRoutingPolicy({ policyId }), b.grpc.routing.getRoutingPolicy({ policyId })]);
    expect(gotA.policy).toEqual(gotB.policy);
  });

  it("two racing creates of one id: exactly one says created, and both replicas end with the same policy", async () => {
    for (let round = 0; round < 10; round++) {
      const policyId = pid();
      const [x, y] = await Promise.all([put(a, policyId, RoutingDecision.RETRY), put(b, policyId, RoutingDecision.SKIP)]);
      expect([x.created, y.created].filter(Boolean)).toHaveLength(1);
      let same = false;
      for (let i = 0; i < 100 && !same; i++) {
        const [pa, pb] = await Promise.all([a.grpc.routing.getRoutingPolicy({ policyId }), b.grpc.routing.getRoutingPolicy({ policyId })]);
        same = json(pa.policy) === json(pb.policy);
        if (!same) await new Promise((r) => setTimeout(r, 20));
      }
      expect(same).toBe(true);
    }
  });

  it("a policy deleted on B is gone on A: GetRoutingPolicy and Route answer NOT_FOUND POLICY_NOT_FOUND", async () => {
    const policyId = pid();
    await put(a, policyId, RoutingDecision.RETRY);
    for (let i = 0; i < 100; i++) {
      if (await b.grpc.routing.getRoutingPolicy({ policyId }).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await b.grpc.routing.deleteRoutingPolicy({ policyId });
    let err: ConnectError | undefined;
    for (let i = 0; i < 100 && err === undefined; i++) {
      err = await a.grpc.routing.getRoutingPolicy({ policyId }).then(
        async () => {
          await new Promise((r) => setTimeout(r, 20));
          return undefined;
        },
        (e: unknown) => ConnectError.from(e),
      );
    }
    expect(err?.code).toBe(Code.NotFound);
    expect(infoOf(err)?.reason).toBe("POLICY_NOT_FOUND");
    const routeErr = await decide(a.grpc, policyId).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(routeErr?.code).toBe(Code.NotFound);
  });

  it("a replica started later has every policy before it serves", async () => {
    const policyId = pid();
    await put(a, policyId, RoutingDecision.RETRY);
    const c = await cluster.start();
    try {
      expect(await decide(c.grpc, policyId)).toBe(RoutingDecision.RETRY);
    } finally {
      await c.close();
    }
  });
});
