import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { loadConfig } from "../../src/config.js";
import { startApp } from "../../src/app.js";
import { eventually, type TestServer } from "../api/harness.js";
import { useReplicas } from "./fixture.js";

/**
 * Two Consort servers started with `--backend nats://…` on one throwaway nats-server share signals: what one
 * publishes, clears or deletes, the other serves, over gRPC (connect-node's gRPC transport).
 */

const cluster = useReplicas(2);
let a: TestServer;
let b: TestServer;
beforeAll(() => void ([a, b] = cluster.replicas as [TestServer, TestServer]));
let n = 0;
const cid = () => `replicas-${process.pid}-${++n}`;

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];

/** Reads a Subscribe in the background: every response, and how it ended. */
function drain(stream: AsyncIterable<SubscribeResponse>) {
  const received: SubscribeResponse[] = [];
  const ended = (async () => {
    try {
      for await (const r of stream) received.push(r);
      return undefined;
    } catch (e) {
      return ConnectError.from(e);
    }
  })();
  const sequences = () => received.flatMap((r) => r.signals.map((s) => Number(s.sequence)));
  return { received, ended, sequences };
}

const oneTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

describe("two replicas on one NATS JetStream", () => {
  it("a Subscribe on B receives in order what is published on A", async () => {
    const coordinationId = cid();
    const controller = new AbortController();
    const sub = drain(b.grpc.signals.subscribe({ coordinationId, agentId: "watcher", afterSequence: 0n }, { signal: controller.signal }));
    await eventually(() => sub.received.length >= 1, 10_000);
    for (let i = 0; i < 20; i++) {
      const r = await a.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "writer", data: { i } });
      expect(r.signal?.sequence).toBe(BigInt(i + 1));
    }
    await eventually(() => sub.sequences().length >= 20, 10_000);
    expect(sub.sequences()).toEqual(oneTo(20));
    expect(sub.received.flatMap((r) => r.signals.map((s) => s.data?.["i"]))).toEqual(oneTo(20).map((i) => i - 1));
    controller.abort();
    await sub.ended;
  });

  it("both publishing concurrently give 1..N without gap, listed alike on either", async () => {
    const coordinationId = cid();
    const each = 40;
    const writer = (s: TestServer, name: string) =>
      Promise.all(Array.from({ length: each }, (_, i) => s.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: name, data: { i } })));
    const [fromA, fromB] = await Promise.all([writer(a, "a"), writer(b, "b")]);
    const acked = [...fromA, ...fromB].map((r) => Number(r.signal?.sequence)).sort((x, y) => x - y);
    expect(acked).toEqual(oneTo(2 * each));
    const listOf = async (s: TestServer) => (await s.grpc.signals.listSignals({ coordinationId, pageSize: 1000 })).signals.map((x) => `${x.sequence}:${x.signalId}`);
    await eventually(() => a.app.signals.headSequence(coordinationId) === 2 * each && b.app.signals.headSequence(coordinationId) === 2 * each, 10_000);
    const [onA, onB] = await Promise.all([listOf(a), listOf(b)]);
    expect(onA).toHaveLength(2 * each);
    // ListSignals pages newest first.
    expect(onA.map((x) => Number(x.split(":")[0])).reverse()).toEqual(oneTo(2 * each));
    expect(onB).toEqual(onA);
  });

  it("ClearSignals on A is seen on B, and numbering goes on", async () => {
    const coordinationId = cid();
    for (let i = 0; i < 5; i++) await a.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a" });
    expect((await b.grpc.signals.getSignalMetrics({ coordinationId })).headSequence).toBe(5n);
    const cleared = await a.grpc.signals.clearSignals({ coordinationId });
    expect(cleared).toMatchObject({ clearedSignals: 5n, headSequence: 5n });
    await eventually(() => b.app.signals.metrics(coordinationId).oldestSequence === 0, 10_000);
    expect((await b.grpc.signals.listSignals({ coordinationId })).signals).toEqual([]);
    const next = await b.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "b" });
    expect(next.signal?.sequence).toBe(6n);
  });

  it("PublishStream to a coordination not yet served on A acknowledges every request in order, B lists them", async () => {
    const coordinationId = cid();
    async function* requests() {
      for (let i = 0; i < 30; i++) yield { publish: { coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "streamer", data: { i } } };
    }
    const acked: number[] = [];
    for await (const res of a.grpc.signals.publishStream(requests())) {
      for (const o of res.outcomes) {
        expect(o.outcome.case).toBe("ack");
        if (o.outcome.case === "ack") acked.push(Number(o.outcome.value.sequence));
      }
    }
    expect(acked).toEqual(oneTo(30));
    // B's first call serves the coordination there: its load reads every record up to the head.
    expect((await b.grpc.signals.listSignals({ coordinationId })).signals.map((x) => x.data?.["i"])).toEqual(oneTo(30).map((i) => 30 - i));
  });

  it("the dependency engine's dependency_resolved reaches B, though A's first use of the coordination was a wait", async () => {
    const coordinationId = cid();
    const wait = a.grpc.dependencies.resolveDependencies(
      { coordinationId, agentId: "tester", dependencies: [{ dependencyId: "cov", target: { case: "qualityGate", value: { gateId: "coverage" } } }] },
      { timeoutMs: 10_000 },
    );
    await eventually(() => a.app.dependencies.openWaitCount(coordinationId) === 1, 10_000);
    await a.grpc.dependencies.setQualityGateScore({ coordinationId, gateId: "coverage", score: 0.95 });
    expect((await wait).success).toBe(true);
    const types = async () => (await b.grpc.signals.listSignals({ coordinationId })).signals.map((x) => x.type);
    let seen: SignalType[] = [];
    for (let i = 0; i < 100 && seen.length === 0; i++) {
      seen = await types();
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toEqual([SignalType.DEPENDENCY_RESOLVED]);
  });

  it("a wait on A, the coordination's first use there, is released by a completion published on B", async () => {
    const coordinationId = cid();
    const wait = a.grpc.dependencies.resolveDependencies(
      { coordinationId, agentId: "reviewer", dependencies: [{ dependencyId: "gen", target: { case: "agentCompletion", value: { agentId: "generator" } } }] },
      { timeoutMs: 10_000 },
    );
    await eventually(() => a.app.dependencies.openWaitCount(coordinationId) === 1, 10_000);
    await b.grpc.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED, senderAgentId: "generator", data: { success: true } });
    const r = await wait;
    expect(r.success).toBe(true);
    expect(r.results.map((x) => x.dependencyId)).toEqual(["gen"]);
  });

  it("GetSignalMetrics: the log's figures agree on both replicas; deliveries and open streams are each replica's own", async () => {
    const coordinationId = cid();
    const controller = new AbortController();
    const sub = drain(b.grpc.signals.subscribe({ coordinationId, agentId: "watcher", observer: true, afterSequence: 0n }, { signal: controller.signal }));
    await eventually(() => sub.received.length >= 1, 10_000);
    for (let i = 0; i < 5; i++) await a.grpc.signals.publish({ coordinationId, type: i < 3 ? SignalType.INTER_AGENT_MESSAGE : SignalType.AGENT_COMPLETED, senderAgentId: "writer" });
    await eventually(() => sub.sequences().length === 5, 10_000);
    const [onA, onB] = await Promise.all([a.grpc.signals.getSignalMetrics({ coordinationId }), b.grpc.signals.getSignalMetrics({ coordinationId })]);
    for (const m of [onA, onB]) {
      expect(m.headSequence).toBe(5n);
      expect(m.oldestSequence).toBe(1n);
      expect(m.totalSignalsSent).toBe(5n);
      expect(m.signalsByType).toEqual(onA.signalsByType);
    }
    expect([onA.activeSubscriptions, onB.activeSubscriptions]).toEqual([0, 1]);
    expect([onA.totalSignalsReceived, onB.totalSignalsReceived]).toEqual([0n, 5n]);
    controller.abort();
    await sub.ended;
  });

  it("DeleteCoordination on A ends B's Subscribe ABORTED COORDINATION_DELETED", async () => {
    const coordinationId = cid();
    for (let i = 0; i < 3; i++) await a.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a" });
    const sub = drain(b.grpc.signals.subscribe({ coordinationId, agentId: "watcher", afterSequence: 0n }, { timeoutMs: 20_000 }));
    await eventually(() => sub.sequences().length === 3, 10_000);
    const res = await a.grpc.coordinations.deleteCoordination({ coordinationId });
    expect(res.deleted).toBe(true);
    const err = await sub.ended;
    expect(err?.code).toBe(Code.Aborted);
    expect(infoOf(err)?.reason).toBe("COORDINATION_DELETED");
    expect(infoOf(err)?.metadata["coordination_id"]).toBe(coordinationId);
  });
});

describe("coordinations across replicas", () => {
  it("GetCoordination, DeleteCoordination and the signal reads serve a coordination another replica holds, and leave an unknown one unknown", async () => {
    const coordinationId = cid();
    for (let i = 0; i < 2; i++) await a.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a" });
    const sub = drain(a.grpc.signals.subscribe({ coordinationId, agentId: "watcher", afterSequence: 0n }, { timeoutMs: 20_000 }));
    await eventually(() => sub.sequences().length === 2, 10_000);
    expect((await b.grpc.coordinations.getCoordination({ coordinationId })).coordination?.headSequence).toBe(2n);
    const other = cid();
    await a.grpc.signals.publish({ coordinationId: other, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a" });
    expect((await b.grpc.coordinations.deleteCoordination({ coordinationId: other })).deleted).toBe(true);
    expect((await b.grpc.coordinations.deleteCoordination({ coordinationId })).deleted).toBe(true);
    const err = await sub.ended;
    expect(err?.code).toBe(Code.Aborted);
    expect(infoOf(err)?.reason).toBe("COORDINATION_DELETED");

    const unknown = cid();
    const notFound = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => ConnectError.from(e).code);
    expect(await notFound(b.grpc.coordinations.getCoordination({ coordinationId: unknown }))).toBe(Code.NotFound);
    expect(await notFound(b.grpc.coordinations.deleteCoordination({ coordinationId: unknown }))).toBe(Code.NotFound);
    expect((await b.grpc.coordinations.deleteCoordination({ coordinationId: unknown, allowMissing: true })).deleted).toBe(false);
    // Reads and clears of an unknown coordination leave it unknown, as in memory.
    expect((await b.grpc.signals.listSignals({ coordinationId: unknown })).signals).toEqual([]);
    expect((await b.grpc.signals.getSignalMetrics({ coordinationId: unknown })).headSequence).toBe(0n);
    expect(await b.grpc.signals.clearSignals({ coordinationId: unknown })).toMatchObject({ clearedSignals: 0n, headSequence: 0n });
    expect(b.app.store.peek(unknown)).toBeUndefined();
    expect(a.app.store.peek(unknown)).toBeUndefined();
  });
});

describe("--backend nats:// at startup", () => {
  it("refuses a replica whose --max-history differs from the one the stream was made with, naming both", async () => {
    const config = loadConfig(["--grpc-port", "0", "--http-port", "off", "--backend", cluster.nats.url, "--max-history", "77"], {});
    await expect(startApp(config, { processMetrics: false })).rejects.toThrow(/max_msgs_per_subject \d+, not 77/);
  });

  it("fails clearly when the NATS server cannot be reached", async () => {
    const config = loadConfig(["--grpc-port", "0", "--http-port", "off", "--backend", "nats://127.0.0.1:1"], {});
    await expect(startApp(config, { processMetrics: false })).rejects.toThrow(/cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/);
  });
});
