import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { decodeContextDocument } from "../../src/backend/nats/context-codec.js";
import { createJetStreamContextBackend, type JetStreamContextBackend } from "../../src/backend/nats/context-backend.js";
import { createJetStreamContextLog, type JetStreamContextLog } from "../../src/backend/nats/context-log.js";
import { createContextEngine } from "../../src/core/context/context-engine.js";
import { ConsortError } from "../../src/core/errors.js";
import { createStore } from "../../src/core/store.js";
import { useNatsServer } from "./fixture.js";
import { startNatsServer } from "./nats-server.js";

/**
 * The JetStream context backend under one engine per replica, against a real nats-server: the documents it writes
 * (a full state often enough for the history limit), purging on delete, and its errors when NATS is unreachable.
 */

const nats = useNatsServer();
let streams = 0;

async function replica(options: { historyLimit: number; stream?: number; epoch?: string }) {
  const stream = options.stream ?? ++streams;
  const log = await createJetStreamContextLog({ connection: await nats.connection(), streamName: `CTXB_${stream}`, subjectPrefix: `b${stream}.ctx`, storage: "memory", historyLimit: options.historyLimit });
  const backend = createJetStreamContextBackend({ log, epochOf: () => options.epoch ?? "epoch-1", fullStateEvery: options.historyLimit });
  const store = createStore();
  const engine = createContextEngine({ store, backend });
  return { log, backend, store, engine, stream };
}

/** The bodies of the documents the stream still holds for a coordination, oldest first. */
async function documents(log: JetStreamContextLog, id: string) {
  const jsm = await (await nats.connection()).jetstreamManager();
  const info = await jsm.streams.info(log.streamName, { subjects_filter: log.subjectOf(id) });
  const out = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
    const m = await jsm.streams.getMessage(log.streamName, { seq }).catch(() => undefined);
    if (m === undefined || m.subject !== log.subjectOf(id)) continue;
    const body = decodeContextDocument(id, m.data);
    if (typeof body === "string") throw new Error(body);
    out.push(body);
  }
  return out;
}

const close = (...backends: JetStreamContextBackend[]) => Promise.all(backends.map((b) => b.close()));

describe("the JetStream context backend", () => {
  it("writes an update with the full state it was planned against once the history limit has passed since the last", async () => {
    const r = await replica({ historyLimit: 3 });
    await r.backend.serve("x");
    await r.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: [{ agentId: "p" }, { agentId: "q" }] });
    for (let i = 0; i < 7; i++) await r.engine.update({ coordinationId: "x", part: "naming_conventions", data: { [`k${i}`]: "v" }, targetAgentIds: ["q"] });
    const held = await documents(r.log, "x");
    // Revisions 6, 7, 8 are kept; a full state every 3 revisions: 1 (the distribution), 4 and 7.
    expect(held.map((d) => [d.change.revision, d.base?.revision])).toEqual([
      [6, undefined],
      [7, 6],
      [8, undefined],
    ]);
    expect(held[1]?.base?.records.map((x) => [x.assignment.agentId, x.version])).toEqual([
      ["p", 1],
      ["q", 6],
    ]);
    await close(r.backend);
  });

  it("purges a deleted coordination's documents, so its id starts again from revision 1", async () => {
    const a = await replica({ historyLimit: 8 });
    const b = await replica({ historyLimit: 8, stream: a.stream });
    await Promise.all([a.backend.serve("x"), b.backend.serve("x")]);
    await a.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: [{ agentId: "p" }] });
    await a.engine.update({ coordinationId: "x", part: "type_registry", data: { T: 1 } });
    a.store.delete("x", "deleted");
    b.store.delete("x", "deleted");
    await a.backend.serve("x");
    expect(await documents(a.log, "x")).toEqual([]);
    const again = await a.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: [{ agentId: "q" }] });
    expect(again.revision).toBe(1);
    await close(a.backend, b.backend);
  });

  it("only stops serving an expired coordination here: its documents stay, and serving it again loads them", async () => {
    const r = await replica({ historyLimit: 8 });
    await r.backend.serve("x");
    await r.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: [{ agentId: "p" }] });
    await r.engine.update({ coordinationId: "x", part: "type_registry", data: { T: 1 } });
    r.store.delete("x", "expired");
    expect(r.backend.isServed("x")).toBe(false);
    await r.backend.serve("x");
    expect((await documents(r.log, "x")).map((d) => d.change.revision)).toEqual([1, 2]);
    expect(r.engine.get("x", "p")).toMatchObject({ version: 2, revision: 2, shared: { type_registry: { T: 1 } } });
    await close(r.backend);
  });

  it("fails a load cut short by the coordination's drop with the drop (NOT_FOUND COORDINATION_DELETED), not as a shutdown", async () => {
    const r = await replica({ historyLimit: 8 });
    const serving = r.backend.serve("x").then(() => undefined, (e: unknown) => e);
    // The load opened the engine's state (it is in the store) and follows: a delete heard now drops it mid-load.
    for (let i = 0; i < 100 && r.store.peek("x") === undefined; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(r.store.delete("x", "deleted")).toBe(true);
    const failed = await serving;
    expect(failed).toBeInstanceOf(ConsortError);
    expect((failed as ConsortError).reason).toBe("COORDINATION_DELETED");
    expect(r.backend.isServed("x")).toBe(false);
    await close(r.backend);
  });

  it("refuses a change to a coordination it does not serve, COORDINATION_NOT_SERVED", async () => {
    const r = await replica({ historyLimit: 4 });
    r.store.acquire("x");
    const err = await Promise.resolve(r.engine.distribute({ coordinationId: "x", sessionId: "s", assignments: [{ agentId: "p" }] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConsortError);
    expect((err as ConsortError).reason).toBe("COORDINATION_NOT_SERVED");
    await close(r.backend);
  });

  it("answers unavailable BACKEND_UNAVAILABLE, naming the coordination, when NATS cannot be reached", async () => {
    const own = await startNatsServer();
    const nc = await connect({ servers: own.url, maxReconnectAttempts: 1, reconnectTimeWait: 100 });
    try {
      const log = await createJetStreamContextLog({ connection: nc, storage: "memory", historyLimit: 4, timeoutMs: 500 });
      const backend = createJetStreamContextBackend({ log, epochOf: () => "e", fullStateEvery: 4 });
      const engine = createContextEngine({ store: createStore(), backend });
      await backend.serve("x");
      await own.stop();
      const err = await engine.distribute({ coordinationId: "x", sessionId: "s", assignments: [{ agentId: "p" }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConsortError);
      expect(err).toMatchObject({ kind: "unavailable", reason: "BACKEND_UNAVAILABLE", metadata: { coordination_id: "x" } });
      // Not awaited: a follower's stop on a connection that lost its server does not settle (signal-follow.ts's
      // release), for the signal backend's followers too.
      void backend.close();
    } finally {
      await nc.close().catch(() => undefined);
      await own.stop();
    }
  });
});
