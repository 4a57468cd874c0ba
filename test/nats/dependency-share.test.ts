import { Code, ConnectError } from "@connectrpc/connect";
import { connect } from "nats";
import { beforeAll, describe, expect, it } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DependencySchema, DependencyStatus, type Dependency } from "../../gen/ts/consort/v1/dependency_pb.js";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { coordinationToken } from "../../src/backend/nats/subject.js";
import { eventually, type TestServer } from "../api/harness.js";
import { kvSnapshot } from "../../src/backend/nats/kv-snapshot.js";
import { useReplicas } from "./fixture.js";

/**
 * Three Consort servers started with `--backend nats://…` on one throwaway nats-server share the dependency
 * engine's state — gate scores, resources, wait records, the wait-for graph, clears — not only signals.
 */

const cluster = useReplicas(3);
let a: TestServer;
let b: TestServer;
let c: TestServer;
beforeAll(() => void ([a, b, c] = cluster.replicas as [TestServer, TestServer, TestServer]));
let n = 0;
const cid = () => `deps-${process.pid}-${++n}`;

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];
type Target = Dependency["target"];
type DependencyInit = MessageInitShape<typeof DependencySchema>;
const dep = (dependencyId: string, target: Target, timeoutSeconds = 20n): DependencyInit => ({ dependencyId, target, timeout: { seconds: timeoutSeconds, nanos: 0 } });
const completionOf = (agentId: string): Target => ({ case: "agentCompletion", value: { $typeName: "consort.v1.AgentCompletionTarget", agentId } });
const gateOf = (gateId: string, threshold = 0.8): Target => ({ case: "qualityGate", value: { $typeName: "consort.v1.QualityGateTarget", gateId, threshold } });
const resourceOf = (resourceId: string): Target => ({ case: "resource", value: { $typeName: "consort.v1.ResourceTarget", resourceId } });
const resolve = (s: TestServer, coordinationId: string, agentId: string, dependencies: DependencyInit[], timeoutMs = 20_000) =>
  s.grpc.dependencies.resolveDependencies({ coordinationId, agentId, dependencies }, { timeoutMs });
const statusOn = async (s: TestServer, coordinationId: string, agentId: string, dependencyId: string) =>
  (await s.grpc.dependencies.getDependencyStatus({ coordinationId, agentId, dependencyId }).catch(() => undefined))?.record?.status;
/** Polls an asynchronous condition every 20 ms for at most `ms`. */
async function until(condition: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("three replicas share the dependency engine's state", () => {
  it("a wait on A is released by a completion published on B and a gate score set on C (two dependencies of one call)", async () => {
    const coordinationId = cid();
    const wait = resolve(a, coordinationId, "reviewer", [dep("gen", completionOf("generator")), dep("cov", gateOf("coverage"))]);
    await eventually(() => a.app.dependencies.openWaitCount(coordinationId) === 2, 10_000);
    await b.grpc.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED, senderAgentId: "generator", data: { success: true } });
    await eventually(() => a.app.dependencies.openWaitCount(coordinationId) === 1, 10_000);
    // C knows A's open gate wait (its mirror): the score released one wait.
    const set = await c.grpc.dependencies.setQualityGateScore({ coordinationId, gateId: "coverage", score: 0.9 });
    expect(set.releasedWaits).toBe(1);
    const r = await wait;
    expect(r.success).toBe(true);
    expect(r.results.map((x) => [x.dependencyId, x.status])).toEqual([
      ["gen", DependencyStatus.RESOLVED],
      ["cov", DependencyStatus.RESOLVED],
    ]);
  });

  it("a resource made available on B releases a wait on A", async () => {
    const coordinationId = cid();
    const wait = resolve(a, coordinationId, "builder", [dep("db", resourceOf("database"))]);
    await eventually(() => a.app.dependencies.openWaitCount(coordinationId) === 1, 10_000);
    const set = await b.grpc.dependencies.setResourceAvailability({ coordinationId, resourceId: "database", available: true });
    expect(set.releasedWaits).toBe(1);
    expect((await wait).success).toBe(true);
  });

  it("GetDependencyStatus and ListDependencies on B show A's wait in progress, then resolved", async () => {
    const coordinationId = cid();
    const wait = resolve(a, coordinationId, "tester", [dep("cov", gateOf("coverage"))]);
    await eventually(() => a.app.dependencies.openWaitCount(coordinationId) === 1, 10_000);
    await until(async () => (await statusOn(b, coordinationId, "tester", "cov")) === DependencyStatus.IN_PROGRESS);
    const listed = await b.grpc.dependencies.listDependencies({ coordinationId });
    expect(listed.records.map((r) => [r.agentId, r.dependency?.dependencyId, r.status])).toEqual([["tester", "cov", DependencyStatus.IN_PROGRESS]]);
    await a.grpc.dependencies.setQualityGateScore({ coordinationId, gateId: "coverage", score: 1 });
    expect((await wait).success).toBe(true);
    await until(async () => (await statusOn(b, coordinationId, "tester", "cov")) === DependencyStatus.RESOLVED);
    const after = await b.grpc.dependencies.listDependencies({ coordinationId, statuses: [DependencyStatus.RESOLVED] });
    expect(after.records.map((r) => r.dependency?.dependencyId)).toEqual(["cov"]);
    expect(b.app.dependencies.openWaitCount(coordinationId)).toBe(0);
  });

  it("a wait cycle made across replicas is refused: of two racing waits, never both register (20 races at once)", async () => {
    const race = async () => {
      const coordinationId = cid();
      // x waits on y on A while y waits on x on B.
      const [onA, onB] = await Promise.all([
        resolve(a, coordinationId, "x", [dep("needs-y", completionOf("y"), 2n)]),
        resolve(b, coordinationId, "y", [dep("needs-x", completionOf("x"), 2n)]),
      ]);
      return [onA.results[0], onB.results[0]].map((o) => (o?.message.includes("would close a wait cycle") ? "cycle" : o?.status === DependencyStatus.TIMEOUT ? "registered" : `other: ${o?.message}`));
    };
    const outcomes = await Promise.all(Array.from({ length: 20 }, race));
    for (const o of outcomes) expect([...o].sort()).toEqual(["cycle", "registered"]);
  });

  it("ClearDependencies on one replica clears records, gates and waits on all", async () => {
    const coordinationId = cid();
    await a.grpc.dependencies.setQualityGateScore({ coordinationId, gateId: "lint", score: 0.95 });
    const waitB = resolve(b, coordinationId, "deployer", [dep("artifact", resourceOf("artifact"))]);
    await eventually(() => b.app.dependencies.openWaitCount(coordinationId) === 1, 10_000);
    // A's gate is seen on C: a wait there resolves at once.
    expect((await resolve(c, coordinationId, "checker", [dep("lint", gateOf("lint"))])).success).toBe(true);
    await until(async () => (await a.grpc.dependencies.listDependencies({ coordinationId })).records.length === 2);
    const cleared = await c.grpc.dependencies.clearDependencies({ coordinationId });
    expect(cleared.clearedRecords).toBe(2n);
    const r = await waitB;
    expect(r.success).toBe(false);
    expect(r.results[0]?.message).toContain("cleared");
    for (const s of [a, b, c]) {
      await until(async () => (await s.grpc.dependencies.listDependencies({ coordinationId })).records.length === 0);
      expect(s.app.dependencies.openWaitCount(coordinationId)).toBe(0);
    }
    // The gate went too: a new wait on it stays open.
    const again = resolve(a, coordinationId, "checker", [dep("lint2", gateOf("lint"), 1n)]);
    expect((await again).results[0]?.status).toBe(DependencyStatus.TIMEOUT);
  });

  it("DeleteCoordination on one replica ends the waits on all (COORDINATION_DELETED) and purges the coordination's keys", async () => {
    const coordinationId = cid();
    await a.grpc.dependencies.setQualityGateScore({ coordinationId, gateId: "g", score: 0.9 });
    // Shared: B sees A's gate at once.
    expect((await resolve(b, coordinationId, "seer", [dep("g", gateOf("g"))])).success).toBe(true);
    const onA = resolve(a, coordinationId, "w1", [dep("r", resourceOf("never"))]).then(() => undefined, (e: unknown) => e);
    const onB = resolve(b, coordinationId, "w2", [dep("r", resourceOf("never"))]).then(() => undefined, (e: unknown) => e);
    await eventually(() => a.app.dependencies.openWaitCount(coordinationId) === 2 && b.app.dependencies.openWaitCount(coordinationId) === 2, 10_000);
    expect((await c.grpc.coordinations.deleteCoordination({ coordinationId })).deleted).toBe(true);
    for (const e of [await onA, await onB]) {
      expect(ConnectError.from(e).code).toBe(Code.Aborted);
      expect(infoOf(e)?.reason).toBe("COORDINATION_DELETED");
    }
    const nc = await connect({ servers: cluster.nats.url });
    try {
      const kv = await nc.jetstream().views.kv("CONSORT_DEPENDENCIES");
      // Listed with a watch: kv.keys() was seen to list one key of several (kv-snapshot.ts).
      const keys = (await kvSnapshot(kv, `${coordinationToken(coordinationId)}.>`)).map((e) => e.key);
      expect(keys).toEqual([]);
    } finally {
      await nc.close();
    }
    // The id's next use is a new coordination: the old gate is not seen.
    const fresh = await resolve(b, coordinationId, "seer", [dep("g2", gateOf("g"), 1n)]);
    expect(fresh.results[0]?.status).toBe(DependencyStatus.TIMEOUT);
  });

  it("a replica shutting down ends its waits, and their mirrors on the other replicas end with them", async () => {
    const coordinationId = cid();
    const d = await cluster.start();
    const wait = resolve(d, coordinationId, "leaver", [dep("g", gateOf("never"))]).then(() => undefined, (e: unknown) => ConnectError.from(e));
    await until(async () => (await statusOn(b, coordinationId, "leaver", "g")) === DependencyStatus.IN_PROGRESS);
    await d.close();
    expect((await wait)?.code).toBe(Code.Unavailable);
    await until(async () => (await statusOn(b, coordinationId, "leaver", "g")) === DependencyStatus.FAILED);
    const onB = await b.grpc.dependencies.getDependencyStatus({ coordinationId, agentId: "leaver", dependencyId: "g" });
    expect(onB.record?.message).toContain("shutting down");
    expect(b.app.dependencies.openWaitCount(coordinationId)).toBe(0);
  });

  it("a replica started after gates and resources were set sees them (its load)", async () => {
    const coordinationId = cid();
    await a.grpc.dependencies.setQualityGateScore({ coordinationId, gateId: "security", score: 0.99 });
    await b.grpc.dependencies.setResourceAvailability({ coordinationId, resourceId: "gpu", available: true });
    const d = await cluster.start();
    try {
      const r = await resolve(d, coordinationId, "late", [dep("sec", gateOf("security", 0.9)), dep("gpu", resourceOf("gpu"))], 5_000);
      expect(r.results.map((x) => x.status)).toEqual([DependencyStatus.RESOLVED, DependencyStatus.RESOLVED]);
      // And A's finished record of another wait is listed there too.
      expect((await resolve(a, coordinationId, "early", [dep("sec", gateOf("security"))])).success).toBe(true);
      await until(async () => (await statusOn(d, coordinationId, "early", "sec")) === DependencyStatus.RESOLVED);
    } finally {
      await d.close();
    }
  });
});
