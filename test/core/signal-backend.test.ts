import { create } from "@bufbuild/protobuf";
import { createHandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PublishRequestSchema, PublishStreamRequestSchema, type PublishStreamResponse, SignalService, SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { createDependencyEngine } from "../../src/core/dependencies/dependency-engine.js";
import { ConsortError } from "../../src/core/errors.js";
import { defaultLimits } from "../../src/core/limits.js";
import { inMemorySignalBackend } from "../../src/core/signals/signal-backend.js";
import { createSignalEngine, type PublishReturn, type SignalEngine } from "../../src/core/signals/signal-engine.js";
import type { Subscription } from "../../src/core/signals/subscription.js";
import type { PublishResult, SignalRecord } from "../../src/core/signals/types.js";
import { createStore } from "../../src/core/store.js";
import { createSignalService } from "../../src/service/signal-service.js";
import { statusDetailsBin, toWireError } from "../../src/transport/errors.js";
import { createFakeSharedLog, type FakeSharedLog } from "./fake-shared-backend.js";

/** `n` engines ("replicas"), each with its own store, over one fake shared log. */
function replicas(n: number, log: FakeSharedLog = createFakeSharedLog()) {
  return Array.from({ length: n }, () => {
    const store = createStore();
    const engine = createSignalEngine({ store, limits: defaultLimits, backend: log.replica() });
    return { store, engine };
  });
}

/** Everything a subscription holds now, taken. */
const drain = (sub: Subscription, into: SignalRecord[]) => {
  for (let batch = sub.take(1000, Infinity, () => 1); batch.length > 0; batch = sub.take(1000, Infinity, () => 1)) into.push(...batch);
};

const sequences = (signals: readonly SignalRecord[]) => signals.map((s) => s.sequence);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("the in-memory backend", () => {
  it("is the default, and publish returns the result itself, not a promise", () => {
    const engine = createSignalEngine({ store: createStore(), limits: defaultLimits });
    const r = engine.publish({ coordinationId: "c", type: "agent_completed" });
    expect(r).not.toBeInstanceOf(Promise);
    expect(r.signal.sequence).toBe(1);
    const explicit = createSignalEngine({ store: createStore(), limits: defaultLimits, backend: inMemorySignalBackend });
    expect(explicit.publish({ coordinationId: "c", type: "agent_completed" })).not.toBeInstanceOf(Promise);
  });
});

describe("an asynchronous backend (a fake shared log)", () => {
  it("acknowledges one replica's publishes in the order made, with sequences 1..N", async () => {
    const engine: SignalEngine<PublishReturn> = replicas(1)[0]!.engine;
    const acked: number[] = [];
    const all = Array.from({ length: 200 }, (_, i) => {
      const r = engine.publish({ coordinationId: "c", type: "inter_agent_message", data: { i } });
      expect(r).toBeInstanceOf(Promise);
      return Promise.resolve(r).then((x) => {
        acked.push(x.signal.sequence);
        return x;
      });
    });
    const results = await Promise.all(all);
    expect(acked).toEqual(oneTo(200));
    expect(results.map((r) => r.signal.data["i"])).toEqual(oneTo(200).map((i) => i - 1));
    // Acknowledged means applied here: read-your-writes.
    expect(engine.headSequence("c")).toBe(200);
  });

  it("settles, once stopped accepting, only after every publish it accepted was applied or failed (what a shutdown awaits)", async () => {
    const log = createFakeSharedLog({ refuse: (s) => (s.data["fail"] === true ? new Error("refused") : undefined) });
    const { engine } = replicas(1, log)[0]!;
    const sub = engine.subscribe({ coordinationId: "c", agentId: "reader" }).subscription;
    const accepted = [
      Promise.resolve(engine.publish({ coordinationId: "c", type: "inter_agent_message", data: { i: 1 } })),
      Promise.resolve(engine.publish({ coordinationId: "c", type: "inter_agent_message", data: { fail: true } })).catch((e: unknown) => e),
      Promise.resolve(engine.publish({ coordinationId: "c", type: "inter_agent_message", data: { i: 2 } })),
    ];
    engine.stopAccepting();
    expect(engine.headSequence("c")).toBe(0); // none applied yet: the appends are on their way
    await engine.settled();
    const received: SignalRecord[] = [];
    drain(sub, received);
    // Everything acknowledged is applied, so in what the subscriber holds, when settled resolves.
    const acked = (await Promise.all(accepted)).flatMap((r) => (r instanceof Error ? [] : [(r as PublishResult).signal.sequence]));
    expect(acked).toEqual([1, 2]);
    expect(sequences(received)).toEqual([1, 2]);
  });

  it("settles at once in memory, where a publish is applied before it returns", async () => {
    const engine = createSignalEngine({ store: createStore(), limits: defaultLimits });
    engine.publish({ coordinationId: "c", type: "agent_completed" });
    engine.stopAccepting();
    await engine.settled();
    expect(engine.headSequence("c")).toBe(1);
  });

  it("tells the store's change listeners of every signal a replica applies, its own once applied and another's", async () => {
    const log = createFakeSharedLog();
    const [a, b] = replicas(2, log);
    b!.engine.subscribe({ coordinationId: "c", agentId: "watch" }); // b serves the coordination
    const heads: Record<string, number[]> = { a: [], b: [] };
    for (const [name, r] of [["a", a!], ["b", b!]] as const) r.store.onChange((c) => heads[name]!.push(r.engine.headSequence(c.id)));
    await a!.engine.publish({ coordinationId: "c", type: "agent_completed" });
    await log.settled();
    expect(b!.engine.headSequence("c")).toBe(1);
    // What WatchCoordinations numbers on a tick: a change heard after the signal was applied, on either replica
    // (a's own publish told them before its append went out, with the head still 0).
    expect(heads["a"]!.at(-1)).toBe(1);
    expect(heads["b"]!.at(-1)).toBe(1);
  });

  it("keeps 1..N without gap across replicas publishing at once, each replica's log the same", async () => {
    const log = createFakeSharedLog({ seed: 7 });
    const rs = replicas(3, log);
    // Each replica serves the coordination before anything is published (its follow step, in a real backend).
    const subs = rs.map(({ engine }, i) => engine.subscribe({ coordinationId: "c", agentId: `watch-${i}` }).subscription);
    const perReplica = rs.map(({ engine }, r) =>
      Promise.all(Array.from({ length: 60 }, (_, i) => engine.publish({ coordinationId: "c", type: "inter_agent_message", senderAgentId: `r${r}`, data: { i } }))),
    );
    const results = await Promise.all(perReplica);
    await log.settled();
    expect(log.conflicts).toBeGreaterThan(0); // the race for the head happened
    for (const rs_ of results) {
      const seqs = rs_.map((x) => x.signal.sequence);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b)); // each replica's acks in the order made
    }
    expect(results.flat().map((x) => x.signal.sequence).sort((a, b) => a - b)).toEqual(oneTo(180));
    const seen = subs.map((sub) => {
      const got: SignalRecord[] = [];
      drain(sub, got);
      return got;
    });
    for (const got of seen) expect(sequences(got)).toEqual(oneTo(180));
    // One log: the same signal under each sequence on every replica, with the coordination's one epoch.
    for (const got of seen.slice(1)) expect(got.map((s) => s.signalId)).toEqual(seen[0]!.map((s) => s.signalId));
    expect(new Set(rs.map(({ engine }) => engine.summary("c")!.epoch)).size).toBe(1);
    expect(new Set(seen.flat().map((s) => s.epoch))).toEqual(new Set([rs[0]!.engine.summary("c")!.epoch]));
  });

  it("gives a subscriber registered mid-way, with a replay or live only, no gap and no duplicate", async () => {
    const log = createFakeSharedLog({ seed: 3 });
    const [a, b] = replicas(2, log).map((r) => r as { engine: SignalEngine<PublishReturn> }) as [{ engine: SignalEngine<PublishReturn> }, { engine: SignalEngine<PublishReturn> }];
    b.engine.subscribe({ coordinationId: "c", agentId: "early" });
    const late: { sub: Subscription; from: number; got: SignalRecord[] }[] = [];
    const publishes: Promise<PublishResult>[] = [];
    for (let i = 0; i < 120; i++) {
      const engine = i % 2 === 0 ? a.engine : b.engine;
      publishes.push(Promise.resolve(engine.publish({ coordinationId: "c", type: "inter_agent_message", data: { i } })));
      if (i % 15 === 7) {
        // Between appends in flight: on the replica that applied the least, and the other.
        await new Promise((r) => setTimeout(r, 1));
        for (const [engine, replay] of [
          [a.engine, true],
          [b.engine, false],
        ] as const) {
          const r = engine.subscribe({ coordinationId: "c", agentId: `late-${i}`, ...(replay && { afterSequence: 0 }) });
          late.push({ sub: r.subscription, from: replay ? 1 : r.headSequence + 1, got: [] });
        }
      }
    }
    await Promise.all(publishes);
    await log.settled();
    expect(late.length).toBeGreaterThan(10);
    for (const l of late) {
      drain(l.sub, l.got);
      expect(sequences(l.got)).toEqual(oneTo(120).slice(l.from - 1));
    }
  });

  it("returns the original to a retry: after its ack, while it is in flight, and on another replica", async () => {
    const log = createFakeSharedLog();
    const [a, b] = replicas(2, log);
    b!.engine.subscribe({ coordinationId: "c", agentId: "w" });
    // In flight: two appends under one key before either is applied.
    const [first, racing] = await Promise.all([
      a!.engine.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k1", data: { n: 1 } }),
      a!.engine.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k1", data: { n: 2 } }),
    ]);
    expect(first.duplicate).toBe(false);
    expect(racing).toEqual({ signal: first.signal, duplicate: true });
    // After the ack, on the same replica: answered from the local key map, at once.
    const again = a!.engine.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k1" });
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toEqual({ signal: first.signal, duplicate: true });
    // On the other replica, at once (before it applied the original) and later.
    const elsewhere = await b!.engine.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k1" });
    expect(elsewhere.duplicate).toBe(true);
    expect(elsewhere.signal.signalId).toBe(first.signal.signalId);
    await log.settled();
    expect(a!.engine.headSequence("c")).toBe(1);
    expect(b!.engine.headSequence("c")).toBe(1);
  });

  it("lets the dependency engine see completions applied from any replica, and a wait's result follow its announcement", async () => {
    const log = createFakeSharedLog();
    const [a, b] = replicas(2, log);
    const deps = createDependencyEngine({ store: a!.store, signals: a!.engine, limits: defaultLimits });
    // Replica A serves the coordination (a real backend's follow step; here, a subscription makes its log).
    a!.engine.subscribe({ coordinationId: "c", agentId: "w" });
    const call = deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [{ dependencyId: "d", timeoutMs: 5000, target: { type: "agent_completion", agentId: "gen" } }] });
    expect(deps.status("c", "v", "d").status).toBe("in_progress");
    // Published on the other replica: seen here when applied from the feed.
    await b!.engine.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "gen" });
    const r = await call.result;
    expect(r.success).toBe(true);
    // Its dependency_resolved is applied on the replica that answered before the answer.
    expect(a!.engine.list({ coordinationId: "c", types: ["dependency_resolved"] }).signals).toHaveLength(1);
    await log.settled();
    expect(b!.engine.list({ coordinationId: "c" }).signals.map((s) => s.type)).toEqual(["dependency_resolved", "agent_completed"]);
  });

  it("gives a wait its result when its announcement is refused by the backend, and reports the refusal", async () => {
    const log = createFakeSharedLog({ refuse: (s) => (s.type === "dependency_resolved" ? new Error("lost the log") : undefined) });
    const [a] = replicas(1, log);
    const errors: unknown[] = [];
    const deps = createDependencyEngine({ store: a!.store, signals: a!.engine, limits: defaultLimits, hooks: { onError: (e) => errors.push(e) } });
    await a!.engine.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "gen" });
    const r = await deps.resolve({ coordinationId: "c", agentId: "v", dependencies: [{ dependencyId: "d", timeoutMs: 5000, target: { type: "agent_completion", agentId: "gen" } }] }).result;
    expect(r.success).toBe(true);
    expect(errors.map((e) => (e as Error).message)).toEqual(["lost the log"]);
    expect(a!.engine.headSequence("c")).toBe(1);
  });

  const statusBytes = (err: ConsortError) => statusDetailsBin(toWireError(err));
  const ctx = (method: (typeof SignalService.methods)[number]) =>
    createHandlerContext({ service: SignalService, method, protocolName: "grpc", requestMethod: "POST", url: "http://x/", requestHeader: { "content-type": "application/grpc" } });
  const unavailable = () => new ConsortError("unavailable", "the shared log is unreachable", { reason: "BACKEND_UNAVAILABLE" });

  it("keeps PublishStream's outcomes in request order: refusals by validation and by the backend among acks", async () => {
    // The backend refuses what carries data.refuse, when it reaches the log.
    const log = createFakeSharedLog({ seed: 11, refuse: (s) => (s.data["refuse"] === true ? unavailable() : undefined) });
    const [a] = replicas(1, log);
    const service = createSignalService({ engine: a!.engine, maxMessageBytes: defaultLimits.maxMessageBytes, statusBytes });
    const kind = (i: number) => (i % 7 === 3 ? "invalid" : i % 11 === 5 ? "refused" : "ok");
    async function* requests() {
      for (let i = 0; i < 300; i++) {
        // An invalid one (no type) is refused at once, while the appends before it are still in flight.
        const type = kind(i) === "invalid" ? SignalType.UNSPECIFIED : SignalType.INTER_AGENT_MESSAGE;
        yield create(PublishStreamRequestSchema, { publish: { coordinationId: "ps", type, data: { i, refuse: kind(i) === "refused" } } });
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 2));
      }
    }
    const outcomes: string[] = [];
    for await (const res of service.publishStream(requests(), ctx(SignalService.method.publishStream))) {
      for (const o of (res as PublishStreamResponse).outcomes) {
        outcomes.push(o.outcome.case === "ack" ? `ack ${o.outcome.value.sequence}` : `error ${o.outcome.value?.code}`);
      }
    }
    let seq = 0;
    const expected = Array.from({ length: 300 }, (_, i) => (kind(i) === "invalid" ? "error 3" : kind(i) === "refused" ? "error 14" : `ack ${++seq}`));
    expect(outcomes).toEqual(expected);
  });

  it("ends a unary Publish with the backend's refusal, and stores nothing", async () => {
    const log = createFakeSharedLog({ refuse: unavailable });
    const [a] = replicas(1, log);
    const service = createSignalService({ engine: a!.engine, maxMessageBytes: defaultLimits.maxMessageBytes, statusBytes });
    const req = create(PublishRequestSchema, { coordinationId: "u", type: SignalType.AGENT_COMPLETED });
    const refused = await Promise.resolve(service.publish(req, ctx(SignalService.method.publish))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ConsortError);
    expect((refused as ConsortError).reason).toBe("BACKEND_UNAVAILABLE");
    expect(a!.engine.headSequence("u")).toBe(0);
  });
});
