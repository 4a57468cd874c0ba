import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DependencyStatus } from "../../gen/ts/consort/v1/dependency_pb.js";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { eventually, startTestServer, type Clients, type TestServer } from "./harness.js";

/** CoordinationService over real ports: pagination, one coordination in detail, delete ending what is open in it. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(["--max-page-size", "50"]);
});
afterAll(() => server.close());

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];
/** The error a promise rejects with (fails the test when it resolves). */
const rejection = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error("expected the call to fail")), (e: unknown) => ConnectError.from(e));
const gateWait = (dependencyId: string, gateId: string) => ({ dependencyId, target: { case: "qualityGate" as const, value: { gateId } } });

/** Reads a server stream in the background; `ended` resolves with the error it ends with (undefined: ended OK). */
function drain<T>(stream: AsyncIterable<T>) {
  const received: T[] = [];
  const ended = (async () => {
    for await (const m of stream) received.push(m);
  })().then(() => undefined, (e: unknown) => ConnectError.from(e));
  return { received, ended };
}

describe("ListCoordinations", () => {
  it.each(["grpc", "connectJson"] as const)("pages through every coordination in creation order over %s; a token survives deletes", async (name) => {
    const c: Clients = server[name];
    const prefix = `list-${name}-`;
    for (let i = 0; i < 5; i++) await c.signals.publish({ coordinationId: `${prefix}${i}`, type: SignalType.AGENT_INITIALIZED, senderAgentId: "a" });
    const mine = async (pageToken: string) => {
      const page = await c.coordinations.listCoordinations({ pageSize: 2, pageToken });
      return { ids: page.coordinations.map((x) => x.coordinationId).filter((id) => id.startsWith(prefix)), page };
    };
    // Other tests' coordinations may come before this one's: walk to the first page that holds ours.
    let token = "";
    let first = await mine(token);
    while (first.ids.length === 0) first = await mine((token = first.page.nextPageToken));
    const seen = [...first.ids];
    expect(first.page.coordinations[0]).toMatchObject({ headSequence: 1n, signalCount: 1n, openWaits: 0, openSubscriptions: 0 });
    expect(first.page.coordinations[0]?.epoch).not.toBe("");
    await c.coordinations.deleteCoordination({ coordinationId: `${prefix}${seen.length}` }); // the next one to come
    for (let next = first.page.nextPageToken; next !== ""; ) {
      const p = await mine(next);
      seen.push(...p.ids);
      next = p.page.nextPageToken;
    }
    expect(seen).toEqual([0, 1, 2, 3, 4].filter((i) => i !== first.ids.length).map((i) => `${prefix}${i}`));
    expect(ConnectError.from(await rejection(c.coordinations.listCoordinations({ pageSize: 51 }))).code).toBe(Code.InvalidArgument);
    expect(infoOf(await rejection(c.coordinations.listCoordinations({ pageToken: "garbage" })))?.reason).toBe("FIELD_INVALID");
  });
});

describe("GetCoordination", () => {
  it("shows the coordination's figures and each agent's context version, last signal and open waits", async () => {
    const c = server.grpc;
    const coordinationId = "get-1";
    await c.contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "a" }, { agentId: "b" }] });
    await c.signals.publish({ coordinationId, type: SignalType.AGENT_INITIALIZED, senderAgentId: "a" });
    await c.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "b" });
    const ac = new AbortController();
    const sub = drain(c.signals.subscribe({ coordinationId, agentId: "b" }, { signal: ac.signal }));
    const wait = c.dependencies.resolveDependencies({ coordinationId, agentId: "w", dependencies: [gateWait("d1", "g")] }, { signal: ac.signal }).catch(() => undefined);
    await eventually(() => server.app.dependencies.openWaitCount(coordinationId) === 1 && sub.received.length === 1);

    const got = await server.connectJson.coordinations.getCoordination({ coordinationId });
    expect(got.coordination).toMatchObject({ coordinationId, headSequence: 2n, signalCount: 2n, agentsWithContext: 2, openWaits: 1, openSubscriptions: 1 });
    expect(got.agentCount).toBe(3);
    expect(got.agents.map((a) => [a.agentId, a.hasContext, a.contextVersion, a.lastSentSequence, a.openSubscriptions, a.openWaitCount])).toEqual([
      ["a", true, 1n, 1n, 0, 0],
      ["b", true, 1n, 2n, 1, 0],
      ["w", false, 0n, 0n, 0, 1],
    ]);
    expect(got.agents[2]?.openWaits[0]).toMatchObject({ agentId: "w", status: DependencyStatus.IN_PROGRESS, dependency: { dependencyId: "d1" } });
    ac.abort();
    await Promise.all([sub.ended, wait]);
  });

  it("is NOT_FOUND naming the id for an unknown coordination, INVALID_ARGUMENT for an empty id", async () => {
    const err = await rejection(server.grpc.coordinations.getCoordination({ coordinationId: "nobody-here" }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain("nobody-here");
    expect(infoOf(err)).toMatchObject({ reason: "COORDINATION_NOT_FOUND", metadata: { coordination_id: "nobody-here" } });
    expect((await rejection(server.grpcWeb.coordinations.getCoordination({ coordinationId: "" }))).code).toBe(Code.InvalidArgument);
  });
});

describe("DeleteCoordination", () => {
  it.each(["grpc", "connect"] as const)("ends an open Subscribe, WatchAgentContext and ResolveDependencies ABORTED COORDINATION_DELETED over %s; a resume in the old epoch is refused", async (name) => {
    const c: Clients = server[name];
    const coordinationId = `delete-${name}`;
    for (let i = 0; i < 3; i++) await c.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a" });
    await c.contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "a" }] });
    const sub = drain(c.signals.subscribe({ coordinationId, agentId: "b", afterSequence: 0n }, { timeoutMs: 10_000 }));
    const watch = drain(c.contexts.watchAgentContext({ coordinationId, agentId: "a" }, { timeoutMs: 10_000 }));
    const wait = rejection(c.dependencies.resolveDependencies({ coordinationId, agentId: "a", dependencies: [gateWait("d", "g")] }, { timeoutMs: 10_000 }));
    await eventually(() => server.app.dependencies.openWaitCount(coordinationId) === 1 && sub.received.length >= 2 && watch.received.length === 1);
    const epoch = sub.received[0]?.subscribed?.epoch ?? "";
    expect(epoch).not.toBe("");

    const res = await server.grpc.coordinations.deleteCoordination({ coordinationId });
    expect(res.deleted).toBe(true);
    expect(res.coordination).toMatchObject({ coordinationId, epoch, headSequence: 3n, openSubscriptions: 1, openContextWatches: 1, openWaits: 1 });

    for (const [what, ended] of [["Subscribe", sub.ended], ["WatchAgentContext", watch.ended], ["ResolveDependencies", wait]] as const) {
      const err = await ended;
      expect(err?.code, what).toBe(Code.Aborted);
      expect(infoOf(err)?.reason, what).toBe("COORDINATION_DELETED");
      expect(infoOf(err)?.metadata["coordination_id"], what).toBe(coordinationId);
    }
    expect(infoOf(await sub.ended)?.metadata).toMatchObject({ epoch, last_delivered_sequence: "3" });
    await eventually(() => server.app.signals.subscriptionCount === 0 && server.app.contexts.watcherCount === 0 && server.app.dependencies.pendingCount === 0);

    expect(infoOf(await rejection(c.coordinations.getCoordination({ coordinationId })))?.reason).toBe("COORDINATION_NOT_FOUND");
    expect((await rejection(c.coordinations.deleteCoordination({ coordinationId }))).code).toBe(Code.NotFound);
    const missing = await c.coordinations.deleteCoordination({ coordinationId, allowMissing: true });
    expect([missing.deleted, missing.coordination]).toEqual([false, undefined]);
    expect((await c.contexts.listAgentContexts({ coordinationId })).contexts).toEqual([]);

    // The id starts over in a new epoch: a resume by sequence in the old one is refused, not continued.
    const again = await c.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a" });
    expect(again.signal?.sequence).toBe(1n);
    expect(again.signal?.epoch).not.toBe(epoch);
    const resumed = drain(c.signals.subscribe({ coordinationId, agentId: "b", afterSequence: 0n, epoch }, { timeoutMs: 5000 }));
    const err = await resumed.ended;
    expect(err?.code).toBe(Code.FailedPrecondition);
    expect(infoOf(err)).toMatchObject({ reason: "EPOCH_CHANGED", metadata: { epoch: again.signal?.epoch } });
    await c.coordinations.deleteCoordination({ coordinationId });
  });
});
