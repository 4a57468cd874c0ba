import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { eventually, startTestServer, type TestServer } from "./harness.js";

/**
 * Idle expiry over gRPC, with the shortest TTL (1 s; the sweeper then runs every second): an idle coordination
 * leaves every service as DeleteCoordination would make it leave (its routing results included), a coordination
 * with an open Subscribe stays while the stream is open, and the id's next use starts a new log. Waits poll with a
 * deadline: a coordination expires between 1 and 2 s after its last activity.
 */

const ttlMs = 1000;
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(["--idle-coordination-ttl-ms", String(ttlMs)]);
});
afterAll(() => server.close());

/** The error a promise rejects with (fails the test when it resolves). */
const rejection = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error("expected the call to fail")), (e: unknown) => ConnectError.from(e));

/** Whether GetCoordination still finds the coordination (NOT_FOUND with COORDINATION_NOT_FOUND: it does not). */
async function exists(coordinationId: string): Promise<boolean> {
  try {
    await server.grpc.coordinations.getCoordination({ coordinationId });
    return true;
  } catch (e) {
    const err = ConnectError.from(e);
    expect(err.code).toBe(Code.NotFound);
    expect(err.findDetails(ErrorInfoSchema)[0]).toMatchObject({ reason: "COORDINATION_NOT_FOUND", metadata: { coordination_id: coordinationId } });
    return false;
  }
}

/**
 * Polls every 50 ms until the coordination is gone; fails after `ms` (a sweep comes within 2 TTLs of idleness; the
 * rest is slack for a loaded machine).
 */
async function expired(coordinationId: string, ms = 6 * ttlMs): Promise<void> {
  const deadline = Date.now() + ms;
  while (await exists(coordinationId)) {
    if (Date.now() > deadline) throw new Error(`${coordinationId} did not expire within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function listedIds(): Promise<string[]> {
  const ids: string[] = [];
  for (let token = ""; ; ) {
    const page = await server.grpc.coordinations.listCoordinations({ pageToken: token });
    ids.push(...page.coordinations.map((c) => c.coordinationId));
    if ((token = page.nextPageToken) === "") return ids;
  }
}

describe("idle coordination expiry", () => {
  it("drops an idle coordination from every service, its routing results included; the next publish starts a new epoch at 1", async () => {
    const c = server.grpc;
    const coordinationId = "expiry-idle";
    const policyId = "expiry-policy";
    const first = (await c.signals.publish({ coordinationId, type: SignalType.AGENT_INITIALIZED, senderAgentId: "a" })).signal!;
    await c.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED, senderAgentId: "a" });
    const policySource = { case: "policy" as const, value: { policyId } };
    await c.routing.route({ policySource, currentTask: "scoped", coordinationId });
    await c.routing.route({ policySource, currentTask: "unscoped" });
    expect(await listedIds()).toContain(coordinationId);
    const stats = (await c.routing.getRoutingStats({ policyId })).stats;
    expect(stats?.totalRoutings).toBe(2n);

    await expired(coordinationId);
    expect(await listedIds()).not.toContain(coordinationId);
    expect((await c.routing.listRoutingHistory({ policyId })).results.map((r) => r.currentTask)).toEqual(["unscoped"]);
    expect((await c.routing.listRoutingHistory({ policyId, coordinationId })).results).toEqual([]);
    expect((await c.routing.getRoutingStats({ policyId })).stats).toEqual(stats);
    const err = await rejection(c.coordinations.deleteCoordination({ coordinationId }));
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("COORDINATION_NOT_FOUND");

    const again = (await c.signals.publish({ coordinationId, type: SignalType.AGENT_INITIALIZED, senderAgentId: "a" })).signal!;
    expect(again.sequence).toBe(1n);
    expect(again.epoch).not.toBe(first.epoch);
    expect((await c.signals.listSignals({ coordinationId })).signals.map((s) => s.sequence)).toEqual([1n]);
  });

  it("keeps a coordination with an open Subscribe while the stream is open, and expires it once the stream ends", async () => {
    const c = server.grpc;
    const [watched, control] = ["expiry-subscribed", "expiry-control"];
    await c.signals.publish({ coordinationId: watched, type: SignalType.AGENT_INITIALIZED, senderAgentId: "a" });
    const ac = new AbortController();
    const received: SubscribeResponse[] = [];
    const reading = (async () => {
      for await (const m of c.signals.subscribe({ coordinationId: watched, agentId: "reader" }, { signal: ac.signal })) received.push(m);
    })().catch(() => undefined);
    try {
      await eventually(() => received[0]?.subscribed !== undefined); // registered: the stream holds the coordination
      // The control coordination, used after the stream opened, expiring shows a sweep has passed after the
      // subscribed one's TTL too.
      await c.signals.publish({ coordinationId: control, type: SignalType.AGENT_INITIALIZED, senderAgentId: "a" });
      await expired(control);
      expect(await exists(watched)).toBe(true);
      const got = await c.coordinations.getCoordination({ coordinationId: watched });
      expect(got.coordination?.openSubscriptions).toBe(1);
    } finally {
      ac.abort();
      await reading;
    }
    await expired(watched);
  });
});
