import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { createJetStreamDependencyBackend, type JetStreamDependencyBackend } from "../../src/backend/nats/dependency-backend.js";
import type { DependencyChange } from "../../src/core/dependencies/dependency-backend.js";
import { ConsortError } from "../../src/core/errors.js";
import { until, useNatsServer } from "./fixture.js";
import { startNatsServer } from "./nats-server.js";

/**
 * The dependency backend on JetStream KV against a real nats-server: one order of applying for every replica,
 * read-your-writes, epochs guarding stale keys, purges, and an unreachable server. Each test has a bucket of its own.
 */

const nats = useNatsServer();
let buckets = 0;

/** A backend whose engine records what it is told to apply (each gate change releases `score * 10` waits). */
async function replica(bucket: string, epoch = "e1", replicaId?: string) {
  const applied: string[] = [];
  const backend = await createJetStreamDependencyBackend({
    connection: await nats.connection(),
    bucket,
    storage: "memory",
    epochOf: () => epoch,
    ...(replicaId !== undefined && { replicaId }),
  });
  backend.connect?.({
    apply(change: DependencyChange) {
      applied.push(change.kind === "gate" ? `${change.coordinationId}:${change.gateId}=${change.score}` : `${change.coordinationId}:${change.kind}`);
      return change.kind === "gate" ? Math.round(change.score * 10) : 0;
    },
  });
  return { backend, applied };
}
const gate = (coordinationId: string, gateId: string, score: number): DependencyChange => ({ kind: "gate", coordinationId, gateId, score });

describe("the JetStream KV dependency backend", () => {
  it("applies every replica's writes in one order everywhere, and answers a write once applied here", async () => {
    const bucket = `DEPS_${++buckets}`;
    const [a, b] = await Promise.all([replica(bucket), replica(bucket)]);
    await Promise.all([a.backend.serve("c"), b.backend.serve("c")]);
    const writes = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).backend.write(gate("c", `g${i}`, (i % 10) / 10)));
    const answers = await Promise.all(writes);
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => i % 10));
    await until(() => a.applied.length === 20 && b.applied.length === 20, "both replicas applied every write");
    expect(a.applied).toEqual(b.applied);
  });

  it("loads what was written before a replica served the coordination, skipping another epoch's values and other coordinations'", async () => {
    const bucket = `DEPS_${++buckets}`;
    const old = await replica(bucket, "e0");
    await old.backend.serve("c");
    await old.backend.write(gate("c", "stale", 1));
    const a = await replica(bucket, "e1");
    await a.backend.serve("c");
    await a.backend.serve("other");
    await a.backend.write(gate("c", "g", 0.5));
    await a.backend.write({ kind: "clear", coordinationId: "c", clearId: "x:1" });
    await a.backend.write(gate("other", "x", 0.1));
    const late = await replica(bucket, "e1");
    await late.backend.serve("c");
    expect(late.applied).toEqual(["c:g=0.5", "c:clear"]);
    expect(late.backend.isServed("c")).toBe(true);
    expect(late.backend.isServed("other")).toBe(false);
  });

  it("purges every key of a coordination and no other's", async () => {
    const bucket = `DEPS_${++buckets}`;
    const a = await replica(bucket);
    await Promise.all([a.backend.serve("c"), a.backend.serve("c2")]);
    await a.backend.write(gate("c", "g", 1));
    await a.backend.write(gate("c2", "g", 1));
    await a.backend.purge("c");
    const late = await replica(bucket);
    await Promise.all([late.backend.serve("c"), late.backend.serve("c2")]);
    expect(late.applied).toEqual(["c2:g=1"]);
  });

  it("stops applying to a dropped coordination: its pending writes fail, and a serve loads it again", async () => {
    const bucket = `DEPS_${++buckets}`;
    const a = await replica(bucket);
    await a.backend.serve("c");
    a.backend.drop?.("c", "deleted");
    expect(a.backend.isServed("c")).toBe(false);
    const refused = await a.backend.write(gate("c", "g", 1)).then(() => undefined, (e: unknown) => e);
    expect((refused as ConsortError).reason).toBe("COORDINATION_NOT_SERVED");
    await a.backend.serve("c");
    expect(await a.backend.write(gate("c", "g", 1))).toBe(10);
  });

  it("answers every one of racing writes to one key, though the bucket keeps one value per key and the watch may never see the replaced ones", async () => {
    const bucket = `DEPS_${++buckets}`;
    const a = await replica(bucket);
    await a.backend.serve("c");
    const writes = Array.from({ length: 50 }, (_, i) => a.backend.write(gate("c", "g", i / 100)));
    const outcome = await Promise.race([Promise.all(writes).then(() => "answered"), new Promise((resolve) => setTimeout(() => resolve("still waiting"), 4_000))]);
    expect(outcome).toBe("answered");
    // Every write applied here once, in the bucket's order: the last value put is the one that stays.
    expect(a.applied).toHaveLength(50);
    expect(a.applied.at(-1)).toBe("c:g=0.49");
  });
});

describe("an unreachable NATS server", () => {
  it("fails a write unavailable BACKEND_UNAVAILABLE, naming the coordination", async () => {
    const server = await startNatsServer();
    const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    let backend: JetStreamDependencyBackend | undefined;
    try {
      backend = await createJetStreamDependencyBackend({ connection: nc, storage: "memory", epochOf: () => "e1", timeoutMs: 500 });
      backend.connect?.({ apply: () => 0 });
      await backend.serve("review-42");
      await server.stop();
      const refused = await backend.write(gate("review-42", "g", 1)).then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(ConsortError);
      const e = refused as ConsortError;
      expect(e.kind).toBe("unavailable");
      expect(e.reason).toBe("BACKEND_UNAVAILABLE");
      expect(e.metadata["coordination_id"]).toBe("review-42");
      expect(e.message).toContain('"review-42"');
    } finally {
      await backend?.close();
      await nc.close();
      await server.stop();
    }
  });
});
