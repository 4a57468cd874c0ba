import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoordinationRemovalReason, type CoordinationChange, type WatchCoordinationsResponse } from "../../gen/ts/consort/v1/coordination_pb.js";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { onNats } from "../test-backend.js";
import { eventually, startTestServer, type Clients, type TestServer } from "./harness.js";

/**
 * WatchCoordinations over real ports, through the generated clients on native gRPC and Connect: the snapshot, live
 * changes and removals, a resume after reconnecting, the end at shutdown. A short interval keeps the tests quick;
 * nothing here depends on how long anything takes (every wait is for a message, bounded by the call's deadline).
 */

const interval = ["--coordination-watch-interval-ms", "20"];
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(interval);
});
afterAll(() => server.close());

const transports = ["grpc", "connect", "connectJson"] as const;
const publish = (c: Clients, coordinationId: string) => c.signals.publish({ coordinationId, type: SignalType.AGENT_INITIALIZED, senderAgentId: "a" });

/** A watch read response by response; every read is bounded by the call's deadline. */
function watchOf(c: Clients, req: { watchEpoch?: string; afterRevision?: bigint } = {}) {
  const ac = new AbortController();
  const it = c.coordinations.watchCoordinations(req, { signal: ac.signal, timeoutMs: 15_000 })[Symbol.asyncIterator]();
  const received: WatchCoordinationsResponse[] = [];
  const next = async () => {
    const r = await it.next();
    if (r.done === true) throw new Error("the watch ended");
    received.push(r.value);
    return r.value;
  };
  /** Reads until a response satisfies `done`; returns every change read on the way. */
  const until = async (done: (r: WatchCoordinationsResponse, changes: CoordinationChange[]) => boolean) => {
    const changes: CoordinationChange[] = [];
    for (;;) {
      const r = await next();
      changes.push(...r.changes);
      if (done(r, changes)) return changes;
    }
  };
  return { next, until, received, cancel: () => ac.abort() };
}

const idOf = (c: CoordinationChange) => (c.change.case === undefined ? "" : c.change.case === "updated" ? c.change.value.coordinationId : c.change.value.coordinationId);
const mine = (prefix: string) => (changes: CoordinationChange[]) => changes.filter((c) => idOf(c).startsWith(prefix));
const has = (changes: CoordinationChange[], kind: "updated" | "removed", id: string) => changes.some((c) => c.change.case === kind && idOf(c) === id);

describe("WatchCoordinations", () => {
  it.each(transports)("over %s: a snapshot, then coordinations created and changed, then removed (DELETED)", async (name) => {
    const c = server[name];
    const p = `watch-${name}-`;
    await publish(c, `${p}a`);
    await eventually(() => server.app.coordinationFeed.headRevision > 0 && server.app.store.peek(`${p}a`)?.slots["watchRevision"] !== undefined);
    // On NATS the publish changed `a` twice, a tick apart or not: serving it here created it, applying the signal
    // (after a round trip to JetStream) changed it; a tick between the two numbered it and left it dirty again, and
    // the next tick would send the snapshot's `a` once more. A tick now numbers what is dirty (nothing in memory).
    if (onNats) server.app.coordinationFeed.tick();
    const w = watchOf(c);
    const snapshot = await w.until((r) => r.caughtUp);
    expect(w.received[0]).toMatchObject({ reset: false, watchEpoch: server.app.coordinationFeed.watchEpoch });
    expect(mine(p)(snapshot).map((x) => [idOf(x), x.change.case])).toEqual([[`${p}a`, "updated"]]);
    // Revisions rise through the snapshot.
    const revisions = snapshot.map((x) => x.revision);
    expect([...revisions].sort((x, y) => (x < y ? -1 : 1))).toEqual(revisions);

    await publish(c, `${p}b`);
    await publish(c, `${p}a`);
    const live = await w.until((_, all) => has(all, "updated", `${p}a`) && has(all, "updated", `${p}b`));
    const a = live.filter((x) => idOf(x) === `${p}a`).at(-1);
    expect(a?.change.case === "updated" && a.change.value.headSequence).toBe(2n);
    expect(w.received.at(-1)?.caughtUp).toBe(false);

    await c.coordinations.deleteCoordination({ coordinationId: `${p}a` });
    const gone = await w.until((_, all) => has(all, "removed", `${p}a`));
    const removed = gone.find((x) => x.change.case === "removed");
    expect(removed?.change.value).toMatchObject({ coordinationId: `${p}a`, reason: CoordinationRemovalReason.DELETED });
    expect(removed?.revision).toBeGreaterThan(a?.revision ?? 0n);
    w.cancel();
  });

  it.each(transports)("over %s: a watch resumed after reconnecting gets only what changed since; the cancelled one is unregistered", async (name) => {
    const c = server[name];
    const feed = server.app.coordinationFeed;
    const p = `resume-${name}-`;
    for (const id of ["same", "changed", "gone"]) await publish(c, `${p}${id}`);
    await eventually(() => ["same", "changed", "gone"].every((id) => server.app.store.peek(`${p}${id}`)?.slots["watchRevision"] !== undefined));
    const before = feed.watcherCount;
    const first = watchOf(c);
    await first.until((r) => r.caughtUp);
    const last = first.received.at(-1) as WatchCoordinationsResponse;
    expect(feed.watcherCount).toBe(before + 1);
    first.cancel();
    await eventually(() => feed.watcherCount === before);

    await publish(c, `${p}changed`);
    await c.coordinations.deleteCoordination({ coordinationId: `${p}gone` });
    await publish(c, `${p}new`);
    await eventually(() => server.app.store.peek(`${p}new`)?.slots["watchRevision"] !== undefined && server.app.store.peek(`${p}changed`)?.slots["watchRevision"] !== undefined);
    const resumed = watchOf(c, { watchEpoch: last.watchEpoch, afterRevision: last.headRevision });
    const changes = await resumed.until((r) => r.caughtUp);
    expect(resumed.received[0]?.reset).toBe(false);
    const got = mine(p)(changes).map((x) => `${x.change.case}:${idOf(x)}`);
    const expected = [`removed:${p}gone`, `updated:${p}changed`, `updated:${p}new`];
    if (onNats) {
      // The three calls end within one 20 ms interval in memory, and a tick numbers removals first. On NATS each is
      // a round trip to JetStream, DeleteCoordination several (two purges and the meta's delete), so a tick may
      // fall between them and number `changed` before the removal: the same changes, once each, in tick order.
      expect([...got].sort()).toEqual([...expected].sort());
    } else {
      expect(got).toEqual(expected);
    }
    const revisions = mine(p)(changes).map((x) => x.revision);
    expect([...revisions].sort((x, y) => (x < y ? -1 : 1))).toEqual(revisions);
    resumed.cancel();
    await eventually(() => feed.watcherCount === before);
    expect((await server.app.metrics.activeCoordinationWatchers.get()).values[0]?.value).toBe(feed.watcherCount);
  });

  it("resuming beyond the newest revision is OUT_OF_RANGE with head_revision; another epoch is a snapshot with reset", async () => {
    const c = server.grpc;
    const feed = server.app.coordinationFeed;
    const ahead = watchOf(c, { watchEpoch: feed.watchEpoch, afterRevision: BigInt(feed.headRevision + 1000) });
    const err = ConnectError.from(await ahead.next().then(() => new Error("accepted"), (e: unknown) => e));
    expect(err.code).toBe(Code.OutOfRange);
    const info = err.findDetails(ErrorInfoSchema)[0];
    expect(info?.reason).toBe("REVISION_AHEAD");
    expect(Number(info?.metadata["head_revision"])).toBeGreaterThanOrEqual(0);
    const other = watchOf(server.connectJson, { watchEpoch: "00000000-0000-4000-8000-000000000000", afterRevision: 5n });
    await other.until((r) => r.caughtUp);
    expect(other.received.map((r) => r.reset)).toEqual(other.received.map((_, i) => i === 0));
    other.cancel();
  });
});

describe("WatchCoordinations at shutdown", () => {
  it.each(["grpc", "connect"] as const)("over %s ends UNAVAILABLE (SHUTTING_DOWN)", async (name) => {
    const own = await startTestServer(interval);
    try {
      const w = watchOf(own[name]);
      await w.until((r) => r.caughtUp);
      const ending = w.next().then(() => new Error("another response came"), (e: unknown) => e);
      await own.close();
      const err = ConnectError.from(await ending);
      expect(err.code).toBe(Code.Unavailable);
      expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SHUTTING_DOWN");
      expect(own.app.coordinationFeed.watcherCount).toBe(0);
    } finally {
      await own.close();
    }
  });
});
