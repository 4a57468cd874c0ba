import { Code, ConnectError } from "@connectrpc/connect";
import { connect, type NatsConnection } from "nats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { createCoordinationMetaStore } from "../../src/backend/nats/coordination-meta.js";
import { startIdleSweeper, type IdleSweeper } from "../../src/backend/nats/idle-sweeper.js";
import { kvSnapshot } from "../../src/backend/nats/kv-snapshot.js";
import { createStore } from "../../src/core/store.js";
import { startTestServer, type TestServer } from "../api/harness.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";

/**
 * Idle expiry across replicas: one sweeper at a time holds the lease; a coordination idle on every replica for the
 * TTL leaves them all, and one still in use on any replica (an open Subscribe) stays.
 */

let nats: NatsServer;
const connections: NatsConnection[] = [];
const sweepers: IdleSweeper[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
});
afterEach(async () => {
  await Promise.all(sweepers.splice(0).map((s) => s.close()));
  await Promise.all(connections.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await nats?.stop();
});

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];

describe("kvSnapshot", () => {
  it("lists every live key under a filter while the bucket is being written to", async () => {
    const connection = await connect({ servers: nats.url });
    connections.push(connection);
    const kv = await connection.jetstream().views.kv("SNAPSHOT_TEST", { history: 1 });
    for (let i = 0; i < 50; i++) await kv.put(`a.k${i}`, new TextEncoder().encode(String(i)));
    await kv.put("other.x", new TextEncoder().encode("x"));
    await kv.delete("a.k0");
    // Another writer keeps putting one key while the snapshot is read.
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing && n < 1000; n++) await kv.put("a.k1", new TextEncoder().encode(`w${n}`));
    })();
    const keys = (await kvSnapshot(kv, "a.>")).map((e) => e.key).sort();
    writing = false;
    await writer;
    expect(keys).toEqual(Array.from({ length: 49 }, (_, i) => `a.k${i + 1}`).sort());
  });
});

describe("the idle sweeper's lease", () => {
  it("is held by one replica at a time, and taken over once its holder gives it up", async () => {
    const start = async (replicaId: string) => {
      const connection = await connect({ servers: nats.url });
      connections.push(connection);
      const s = await startIdleSweeper({ connection, expire: async () => false, store: createStore(), servedEpoch: () => undefined, idleTtlMs: 3_600_000, bucket: "LEASE_ACTIVITY", replicaId });
      sweepers.push(s);
      return s;
    };
    const [one, two, three] = [await start("one"), await start("two"), await start("three")];
    await Promise.all([one.tick(), two.tick(), three.tick()]);
    await Promise.all([one.tick(), two.tick(), three.tick()]);
    expect([one, two, three].filter((s) => s.holdsLease)).toHaveLength(1);
    const holder = [one, two, three].find((s) => s.holdsLease) as IdleSweeper;
    const others = [one, two, three].filter((s) => s !== holder);
    await holder.close();
    await Promise.all(others.map((s) => s.tick()));
    expect(others.filter((s) => s.holdsLease)).toHaveLength(1);
  });
});

describe("idle expiry on two replicas", () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    const args = ["--backend", nats.url, "--idle-coordination-ttl-ms", "1000"];
    a = await startTestServer(args);
    b = await startTestServer(args);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it("a coordination with an open Subscribe on B stays; once unused everywhere it leaves both, and begins again at 1", async () => {
    const coordinationId = `idle-${process.pid}`;
    const first = await a.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "writer" });
    expect(first.signal?.sequence).toBe(1n);
    const controller = new AbortController();
    const sub = b.grpc.signals.subscribe({ coordinationId, agentId: "watcher", afterSequence: 0n }, { signal: controller.signal });
    const it = sub[Symbol.asyncIterator]();
    await it.next(); // subscribed
    // Three TTLs with the stream open: A's store alone would have let it go long ago.
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await a.grpc.coordinations.getCoordination({ coordinationId })).coordination?.headSequence).toBe(1n);
    controller.abort();
    await it.next().catch(() => undefined);

    const gone = async (s: TestServer) =>
      s.grpc.coordinations.getCoordination({ coordinationId }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    let errA: ConnectError | undefined;
    let errB: ConnectError | undefined;
    for (let i = 0; i < 100 && (errA === undefined || errB === undefined); i++) {
      [errA, errB] = await Promise.all([gone(a), gone(b)]);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const err of [errA, errB]) {
      expect(err?.code).toBe(Code.NotFound);
      expect(infoOf(err)?.reason).toBe("COORDINATION_NOT_FOUND");
    }
    const again = await b.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "writer" });
    expect(again.signal?.sequence).toBe(1n);
    expect(again.signal?.epoch).not.toBe(first.signal?.epoch);
  }, 30_000);

  it("a coordination with contexts, once expired everywhere, begins again: its contexts from revision 1, its signals at 1", async () => {
    const coordinationId = `idle-ctx-${process.pid}`;
    const distributed = await a.grpc.contexts.distributeContext({ coordinationId, sessionId: "s", assignments: [{ agentId: "p" }] });
    expect(distributed.revision).toBe(1n);
    let left = false;
    for (let i = 0; i < 100 && !left; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const notFound = (e: unknown) => ConnectError.from(e).code === Code.NotFound && infoOf(e)?.reason === "COORDINATION_NOT_FOUND";
      left = await Promise.all([a, b].map((s) => s.grpc.coordinations.getCoordination({ coordinationId }).then(() => false, notFound))).then((x) => x.every(Boolean));
    }
    expect(left).toBe(true);
    const again = await b.grpc.contexts.distributeContext({ coordinationId, sessionId: "s2", assignments: [{ agentId: "q" }] });
    expect(again.revision).toBe(1n);
    const published = await a.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "writer" });
    expect(published.signal?.sequence).toBe(1n);
    expect((await a.grpc.contexts.getAgentContext({ coordinationId, agentId: "q" })).context).toBeDefined();
  }, 30_000);

  it("a coordination begun by a replica that died before reporting it is expired once older than the TTL", async () => {
    // A replica that acquired the meta and died at once: the meta exists, no activity was ever reported.
    const connection = await connect({ servers: nats.url });
    connections.push(connection);
    const meta = await createCoordinationMetaStore({ connection });
    const coordinationId = `orphan-${process.pid}`;
    const acquired = await meta.acquire(coordinationId);
    expect(acquired.ok && acquired.created).toBe(true);
    let left = false;
    for (let i = 0; i < 100 && !left; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await meta.get(coordinationId);
      left = r.ok && r.meta === undefined;
    }
    expect(left).toBe(true);
  }, 30_000);
});
