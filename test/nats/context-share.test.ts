import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { SharedIntelligencePart, type WatchAgentContextResponse } from "../../gen/ts/consort/v1/context_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { eventually, type TestServer } from "../api/harness.js";
import { useReplicas } from "./fixture.js";

/**
 * Three Consort servers started with `--backend nats://…` on one throwaway nats-server share contexts (issue 12):
 * what one distributes, updates, clears or deletes, the others serve in the same revision order, over gRPC. The
 * history limit is small (4 documents per coordination) so that a replica started later must load past trimmed
 * history.
 */

const historyLimit = 4;
const cluster = useReplicas(3, ["--context-history", String(historyLimit)]);
let a: TestServer;
let b: TestServer;
let c: TestServer;
beforeAll(() => void ([a, b, c] = cluster.replicas as [TestServer, TestServer, TestServer]));
let n = 0;
const cid = () => `ctx-share-${process.pid}-${++n}`;

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];

/** Reads a WatchAgentContext in the background: every response, and how it ended. */
function drain(stream: AsyncIterable<WatchAgentContextResponse>) {
  const received: WatchAgentContextResponse[] = [];
  const ended = (async () => {
    try {
      for await (const r of stream) received.push(r);
      return undefined;
    } catch (e) {
      return ConnectError.from(e);
    }
  })();
  const versions = () => received.map((r) => [Number(r.revision), r.state.case === "context" ? Number(r.state.value.contextVersion) : null]);
  return { received, ended, versions };
}

const distribute = (s: TestServer, coordinationId: string, agents: string[]) =>
  s.grpc.contexts.distributeContext({ coordinationId, sessionId: "session", assignments: agents.map((agentId) => ({ agentId, objective: `work of ${agentId}` })), sharedIntelligence: { namingConventions: { model: "PascalCase" } } });

const update = (s: TestServer, coordinationId: string, data: Record<string, string>) =>
  s.grpc.contexts.updateSharedIntelligence({ coordinationId, updateType: SharedIntelligencePart.NAMING_CONVENTIONS, updateData: data });

const listOn = async (s: TestServer, coordinationId: string) => {
  const r = await s.grpc.contexts.listAgentContexts({ coordinationId, pageSize: 100 });
  return { revision: Number(r.revision), contexts: r.contexts.map((x) => ({ agent: x.agentAssignment?.agentId, version: Number(x.contextVersion), naming: x.sharedIntelligence?.namingConventions, updatedAt: x.updatedAt })) };
};

describe("contexts shared by three replicas on one NATS JetStream", () => {
  it("DistributeContext on A is read on B and C with the same revision and records", async () => {
    const coordinationId = cid();
    const d = await distribute(a, coordinationId, ["planner", "coder"]);
    expect(d.revision).toBe(1n);
    const onA = await listOn(a, coordinationId);
    for (const s of [b, c]) {
      expect(await listOn(s, coordinationId)).toEqual(onA);
      const got = await s.grpc.contexts.getAgentContext({ coordinationId, agentId: "coder" });
      expect(got.context?.agentAssignment?.objective).toBe("work of coder");
      expect(got.context?.revision).toBe(1n);
    }
  });

  it("a WatchAgentContext on A sees an UpdateSharedIntelligence made on B, and one on C resumes by revision", async () => {
    const coordinationId = cid();
    await distribute(a, coordinationId, ["planner"]);
    const controller = new AbortController();
    const watch = drain(a.grpc.contexts.watchAgentContext({ coordinationId, agentId: "planner" }, { signal: controller.signal }));
    await eventually(() => watch.received.length >= 1, 10_000);
    const u = await update(b, coordinationId, { file: "kebab-case" });
    expect(u.revision).toBe(2n);
    expect(u.results["planner"]).toBe(true);
    await eventually(() => watch.received.length >= 2, 10_000);
    expect(watch.versions()).toEqual([
      [1, 1],
      [2, 2],
    ]);
    const last = watch.received[1];
    expect(last?.state.case === "context" && last.state.value.sharedIntelligence?.namingConventions).toEqual({ model: "PascalCase", file: "kebab-case" });
    const resumed = drain(c.grpc.contexts.watchAgentContext({ coordinationId, agentId: "planner", afterRevision: 1n }, { signal: controller.signal }));
    await eventually(() => resumed.received.length >= 1, 10_000);
    expect(resumed.versions()).toEqual([[2, 2]]);
    controller.abort();
    await Promise.all([watch.ended, resumed.ended]);
  });

  it("a WatchAgentContext on C resuming after a revision just made on A waits for it instead of REVISION_AHEAD", async () => {
    const coordinationId = cid();
    await distribute(a, coordinationId, ["planner"]);
    await listOn(c, coordinationId); // served on C: it follows, a moment behind A
    const controller = new AbortController();
    const watches: { after: number; watch: ReturnType<typeof drain> }[] = [];
    for (let i = 0; i < 5; i++) {
      const u = await update(a, coordinationId, { [`k${i}`]: "v" });
      watches.push({ after: Number(u.revision), watch: drain(c.grpc.contexts.watchAgentContext({ coordinationId, agentId: "planner", afterRevision: u.revision }, { signal: controller.signal })) });
    }
    const last = await update(a, coordinationId, { last: "v" });
    // Each watch gets exactly the changes after its resume point.
    await eventually(() => watches.every((w) => w.watch.received.length === Number(last.revision) - w.after), 10_000);
    for (const w of watches) expect(w.watch.versions().map(([revision]) => revision)).toEqual(Array.from({ length: Number(last.revision) - w.after }, (_, i) => w.after + i + 1));
    controller.abort();
    // Ended by the client's cancel only, none OUT_OF_RANGE.
    for (const w of watches) expect((await w.watch.ended)?.code).toBe(Code.Canceled);
  });

  it("concurrent updates on A and B land with gap-free revisions, both changes kept everywhere", async () => {
    const coordinationId = cid();
    await distribute(a, coordinationId, ["planner", "coder"]);
    await Promise.all([listOn(b, coordinationId), listOn(c, coordinationId)]); // served on B and C before the race
    const each = 6;
    const writer = (s: TestServer, name: string) => Promise.all(Array.from({ length: each }, (_, i) => update(s, coordinationId, { [`${name}${i}`]: "x" })));
    const [fromA, fromB] = await Promise.all([writer(a, "a"), writer(b, "b")]);
    const revisions = [...fromA, ...fromB].map((r) => Number(r.revision)).sort((x, y) => x - y);
    expect(revisions).toEqual(Array.from({ length: 2 * each }, (_, i) => i + 2));
    const head = 2 * each + 1;
    await eventually(() => [a, b, c].every((s) => s.app.contexts.list({ coordinationId }).revision === head), 10_000);
    const onA = await listOn(a, coordinationId);
    expect(onA.contexts.map((x) => x.version)).toEqual([head, head]);
    expect(Object.keys(onA.contexts[0]?.naming ?? {}).sort()).toEqual(["model", ...Array.from({ length: each }, (_, i) => [`a${i}`, `b${i}`]).flat()].sort());
    for (const s of [b, c]) expect(await listOn(s, coordinationId)).toEqual(onA);
  });

  it("a replica started later loads the state, though the history before it was trimmed", async () => {
    const coordinationId = cid();
    await distribute(a, coordinationId, ["planner", "coder"]);
    // Many more changes than the stream keeps per coordination: the distribution itself is long gone.
    for (let i = 0; i < 3 * historyLimit; i++) await update(i % 2 === 0 ? a : b, coordinationId, { [`k${i}`]: String(i) });
    await b.grpc.contexts.updateSharedIntelligence({ coordinationId, updateType: SharedIntelligencePart.TYPE_REGISTRY, updateData: { T: 1 }, targetAgentIds: ["coder"] });
    const onA = await listOn(a, coordinationId);
    expect(onA.revision).toBe(3 * historyLimit + 2);
    const d = await cluster.start();
    expect(await listOn(d, coordinationId)).toEqual(onA);
    const coder = await d.grpc.contexts.getAgentContext({ coordinationId, agentId: "coder" });
    expect(coder.context?.sharedIntelligence?.typeRegistry).toEqual({ T: 1 });
    // It takes part at once: its change follows, and the others apply it.
    const u = await update(d, coordinationId, { fromD: "1" });
    expect(u.revision).toBe(BigInt(onA.revision + 1));
    await eventually(() => a.app.contexts.list({ coordinationId }).revision === onA.revision + 1, 10_000);
  });

  it("ClearContexts on C clears every replica", async () => {
    const coordinationId = cid();
    await distribute(a, coordinationId, ["planner"]);
    await listOn(b, coordinationId);
    expect((await c.grpc.contexts.clearContexts({ coordinationId })).cleared).toBe(true);
    await eventually(() => a.app.contexts.list({ coordinationId }).revision === 2 && b.app.contexts.list({ coordinationId }).revision === 2, 10_000);
    for (const s of [a, b, c]) expect(await listOn(s, coordinationId)).toEqual({ revision: 2, contexts: [] });
    const err = await a.grpc.contexts.getAgentContext({ coordinationId, agentId: "planner" }).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(err?.code).toBe(Code.NotFound);
    expect((await b.grpc.contexts.clearContexts({ coordinationId })).cleared).toBe(false);
  });

  it("DeleteCoordination on B ends the watches on every replica ABORTED COORDINATION_DELETED, and the id starts afresh", async () => {
    const coordinationId = cid();
    await distribute(a, coordinationId, ["planner"]);
    await update(a, coordinationId, { more: "1" });
    const watches = [a, c].map((s) => drain(s.grpc.contexts.watchAgentContext({ coordinationId, agentId: "planner" }, { timeoutMs: 20_000 })));
    await eventually(() => watches.every((w) => w.received.length >= 1), 10_000);
    expect((await b.grpc.coordinations.deleteCoordination({ coordinationId })).deleted).toBe(true);
    for (const w of watches) {
      const err = await w.ended;
      expect(err?.code).toBe(Code.Aborted);
      expect(infoOf(err)?.reason).toBe("COORDINATION_DELETED");
    }
    // Begun again, the coordination's contexts start from revision 1: the deleted ones were purged.
    await eventually(() => a.app.store.peek(coordinationId) === undefined && c.app.store.peek(coordinationId) === undefined, 10_000);
    const again = await distribute(c, coordinationId, ["other"]);
    expect(again.revision).toBe(1n);
    expect(await listOn(a, coordinationId)).toMatchObject({ revision: 1, contexts: [{ agent: "other" }] });
  });
});
