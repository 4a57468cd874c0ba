import { describe, expect, it } from "vitest";
import { ConsortError } from "../../src/core/errors.js";
import { defaultLimits } from "../../src/core/limits.js";
import { createSignalEngine } from "../../src/core/signals/signal-engine.js";
import { jsonByteSize } from "../../src/core/json.js";
import type { Subscription } from "../../src/core/signals/subscription.js";
import { streamSubscription, type StreamOptions, type SubscriptionEvent } from "../../src/core/signals/subscription-stream.js";
import { createStore } from "../../src/core/store.js";

function engine(limits: Partial<typeof defaultLimits> = {}) {
  const store = createStore();
  return { store, engine: createSignalEngine({ store, limits: { ...defaultLimits, ...limits } }) };
}

/** A subscription as a stream; batches measured by their data's JSON size (1 MiB each) unless told otherwise. */
const stream = (sub: Subscription, o: Partial<StreamOptions> = {}) =>
  streamSubscription(sub, { maxBatchBytes: 1 << 20, sizeOf: (s) => jsonByteSize(s.data), ...o });

const seqs = (events: SubscriptionEvent[]) =>
  events.flatMap((e) => (e.kind === "signals" ? e.signals.map((s) => s.sequence) : []));

/** Pulls events until `n` signals arrived (bounded). */
async function collect(it: AsyncGenerator<SubscriptionEvent>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 10_000 && out.length < n; i++) {
    const r = await it.next();
    if (r.done === true) break;
    out.push(...seqs([r.value]));
  }
  return out;
}

function expectError(fn: () => unknown, kind: string, text: RegExp): ConsortError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConsortError);
    expect((e as ConsortError).kind).toBe(kind);
    expect((e as ConsortError).message).toMatch(text);
    return e as ConsortError;
  }
  throw new Error("expected an error");
}

describe("publish", () => {
  it("numbers signals 1, 2, 3 per coordination and defaults the sender to system", () => {
    const { engine: e } = engine();
    const a = e.publish({ coordinationId: "c", type: "agent_initialized" });
    const b = e.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "" });
    const other = e.publish({ coordinationId: "d", type: "agent_completed" });
    expect([a.signal.sequence, b.signal.sequence, other.signal.sequence]).toEqual([1, 2, 1]);
    expect(a.signal.senderAgentId).toBe("system");
    expect(b.signal.senderAgentId).toBe("system");
    expect(a.signal.signalId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("rejects bad input naming the field and stores nothing (SPEC case 1)", () => {
    const { engine: e } = engine();
    expectError(() => e.publish({ coordinationId: "c", type: "bogus" }), "invalid", /^type: /);
    expectError(() => e.publish({ coordinationId: "", type: "agent_completed" }), "invalid", /^coordination_id: must not be empty/);
    expectError(() => e.publish({ coordinationId: "x".repeat(101), type: "agent_completed" }), "invalid", /^coordination_id: .*at most 100/);
    expectError(() => e.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "s".repeat(101) }), "invalid", /^sender_agent_id/);
    expectError(() => e.publish({ coordinationId: "c", type: "agent_completed", recipientAgentIds: ["ok", ""] }), "invalid", /^recipient_agent_ids\[1\]/);
    const big = { blob: "x".repeat(70_000) };
    const err = expectError(() => e.publish({ coordinationId: "c", type: "agent_completed", data: big }), "invalid", /^data: .*65536 bytes/);
    expect(err.violations[0]?.field).toBe("data");
    expect(e.list({ coordinationId: "c" }).signals).toHaveLength(0);
    expect(e.metrics("c").totalSignalsSent).toBe(0);
  });

  it("lists every violated field in one error, and stores nothing", () => {
    const { engine: e } = engine();
    const err = expectError(
      () => e.publish({ coordinationId: "", type: "bogus", senderAgentId: "s".repeat(101), recipientAgentIds: [""] }),
      "invalid",
      /^coordination_id: must not be empty .*\(and 3 more invalid fields\)$/,
    );
    expect(err.reason).toBe("FIELD_INVALID");
    expect(err.violations.map((v) => v.field)).toEqual(["coordination_id", "type", "sender_agent_id", "recipient_agent_ids[0]"]);
    expect(e.metrics("c").totalSignalsSent).toBe(0);
  });

  it("reports violations the caller found with its own, the caller's first", () => {
    const { engine: e } = engine();
    const err = expectError(() => e.publish({ coordinationId: "", type: "" }, [{ field: "type", description: "must be one of SIGNAL_TYPE_…" }]), "invalid", /^type: must be one of SIGNAL_TYPE_/);
    expect(err.violations).toEqual([
      { field: "type", description: "must be one of SIGNAL_TYPE_…" },
      { field: "coordination_id", description: "must not be empty (1 to 100 characters)" },
    ]);
  });

  it("measures the payload with the configured measure; an unset field counts nothing", () => {
    const store = createStore();
    const e = createSignalEngine({ store, limits: { ...defaultLimits, maxPayloadBytes: 10 }, payloadBytes: (p) => Object.keys(p).length * 5 });
    expect(e.publish({ coordinationId: "c", type: "agent_completed", data: { a: 1, b: 2 } }).signal.sequence).toBe(1); // exactly the limit
    expect(e.publish({ coordinationId: "c", type: "agent_completed", data: { a: 1 }, metadata: { b: 2 } }).signal.sequence).toBe(2);
    const err = expectError(() => e.publish({ coordinationId: "c", type: "agent_completed", data: { a: 1 }, metadata: { b: 2, c: 3 } }), "invalid", /at most 10 bytes together \(encoded\), got 15/);
    expect(err.violations[0]?.field).toBe("data");
    expectError(() => e.publish({ coordinationId: "c", type: "agent_completed", metadata: { a: 1, b: 2, c: 3 } }), "invalid", /^metadata: /);
  });

  it("returns the original signal for a repeated idempotency key and appends nothing", () => {
    const { engine: e } = engine();
    const first = e.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k1" });
    const again = e.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k1", data: { other: 1 } });
    expect(again.duplicate).toBe(true);
    expect(again.signal).toBe(first.signal);
    expect(e.metrics("c").headSequence).toBe(1);
    expect(e.metrics("c").totalSignalsSent).toBe(1);
  });

  it("forgets idempotency keys of signals that left the history", () => {
    const { engine: e } = engine({ maxHistory: 2 });
    e.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k" });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(e.publish({ coordinationId: "c", type: "agent_completed", idempotencyKey: "k" }).duplicate).toBe(false);
  });
});

describe("history", () => {
  it("lists newest first, by type, sender and data key (SPEC cases 2, 3)", () => {
    const { engine: e } = engine();
    e.publish({ coordinationId: "c", type: "agent_initialized", senderAgentId: "a", data: { agent_id: "a" } });
    e.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "b", data: { agent_id: "b", n: 1 } });
    e.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "a", data: { n: 1 } });
    expect(e.list({ coordinationId: "c" }).signals.map((s) => s.sequence)).toEqual([3, 2, 1]);
    expect(e.list({ coordinationId: "c", types: ["agent_completed"] }).signals.map((s) => s.sequence)).toEqual([3, 2]);
    expect(e.list({ coordinationId: "c", senderAgentId: "a" }).signals.map((s) => s.sequence)).toEqual([3, 1]);
    // A signal lacking the filtered key does not match (the original's quirk is fixed).
    expect(e.list({ coordinationId: "c", dataEquals: { agent_id: "b" } }).signals.map((s) => s.sequence)).toEqual([2]);
    expect(e.list({ coordinationId: "c", dataEquals: { n: 1 } }).signals.map((s) => s.sequence)).toEqual([3, 2]);
    expect(e.list({ coordinationId: "unknown" }).signals).toEqual([]);
  });

  it("keeps the newest N of a bounded history (SPEC case 4)", () => {
    const { engine: e } = engine({ maxHistory: 5 });
    for (let i = 0; i < 10; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(e.list({ coordinationId: "c" }).signals.map((s) => s.sequence)).toEqual([10, 9, 8, 7, 6]);
  });

  it("paginates with opaque tokens tied to the filters", () => {
    const { engine: e } = engine();
    for (let i = 0; i < 7; i++) e.publish({ coordinationId: "c", type: i % 2 ? "agent_completed" : "agent_initialized" });
    const p1 = e.list({ coordinationId: "c", pageSize: 3 });
    const p2 = e.list({ coordinationId: "c", pageSize: 3, pageToken: p1.nextPageToken });
    const p3 = e.list({ coordinationId: "c", pageSize: 3, pageToken: p2.nextPageToken });
    expect([p1, p2, p3].map((p) => p.signals.map((s) => s.sequence))).toEqual([[7, 6, 5], [4, 3, 2], [1]]);
    expect(p3.nextPageToken).toBe("");
    const exact = e.list({ coordinationId: "c", pageSize: 7 });
    expect(exact.nextPageToken).toBe("");
    expectError(() => e.list({ coordinationId: "c", pageSize: 3, pageToken: "%%%" }), "invalid", /^page_token: is malformed/);
    expectError(() => e.list({ coordinationId: "c", types: ["agent_completed"], pageToken: p1.nextPageToken }), "invalid", /^page_token: was issued for a different query/);
    expectError(() => e.list({ coordinationId: "c", pageSize: 1001 }), "invalid", /^page_size: must be between 1 and 1000/);
    expectError(() => e.list({ coordinationId: "c", pageSize: -1 }), "invalid", /^page_size/);
  });

  it("accepts a page token with the same data filter whatever the order of its keys", () => {
    const { engine: e } = engine();
    for (let i = 0; i < 4; i++) e.publish({ coordinationId: "c", type: "agent_completed", data: { a: 1, b: { x: 2, y: 3 } } });
    const p1 = e.list({ coordinationId: "c", pageSize: 2, dataEquals: { a: 1, b: { x: 2, y: 3 } } });
    const p2 = e.list({ coordinationId: "c", pageSize: 2, dataEquals: { b: { y: 3, x: 2 }, a: 1 }, pageToken: p1.nextPageToken });
    expect(p2.signals.map((s) => s.sequence)).toEqual([2, 1]);
    expectError(() => e.list({ coordinationId: "c", pageSize: 2, dataEquals: { a: 2 }, pageToken: p1.nextPageToken }), "invalid", /^page_token: was issued for a different query/);
  });

  it("cuts a page short, never fails it, when the next signal would pass the byte budget", () => {
    const { engine: e } = engine();
    for (let i = 0; i < 5; i++) e.publish({ coordinationId: "c", type: "agent_completed", data: { n: i } });
    const budget = { maxBytes: 25, sizeOf: () => 10 };
    const p1 = e.list({ coordinationId: "c", pageSize: 100, budget });
    expect(p1.signals.map((s) => s.sequence)).toEqual([5, 4]);
    const p2 = e.list({ coordinationId: "c", pageSize: 100, budget, pageToken: p1.nextPageToken });
    const p3 = e.list({ coordinationId: "c", pageSize: 100, budget, pageToken: p2.nextPageToken });
    expect([p2.signals.map((s) => s.sequence), p3.signals.map((s) => s.sequence), p3.nextPageToken]).toEqual([[3, 2], [1], ""]);
    // One signal larger than the budget still makes a page of one: progress, never an empty page with a token.
    const one = e.list({ coordinationId: "c", pageSize: 100, budget: { maxBytes: 5, sizeOf: () => 10 } });
    expect(one.signals).toHaveLength(1);
    expect(one.nextPageToken).not.toBe("");
  });
});

describe("subscriptions", () => {
  it("delivers only subscribed types, addressed signals only to their recipients, broadcasts to all (SPEC cases 5–7)", async () => {
    const { engine: e } = engine();
    const s1 = stream(e.subscribe({ coordinationId: "c", agentId: "agent-1", types: ["agent_completed"] }).subscription);
    const s2 = stream(e.subscribe({ coordinationId: "c", agentId: "agent-2" }).subscription);
    e.publish({ coordinationId: "c", type: "agent_initialized" }); // 1: only s2
    e.publish({ coordinationId: "c", type: "agent_completed", recipientAgentIds: ["agent-1"] }); // 2: only s1
    e.publish({ coordinationId: "c", type: "agent_completed" }); // 3: both
    e.publish({ coordinationId: "c", type: "inter_agent_message", recipientAgentIds: ["agent-2"] }); // 4: only s2
    expect(await collect(s1, 2)).toEqual([2, 3]);
    expect(await collect(s2, 3)).toEqual([1, 3, 4]);
    await s1.return(undefined);
    await s2.return(undefined);
  });

  it("gives an observer every signal whatever its recipients, replayed and live, and does not count it as an agent", async () => {
    const { engine: e } = engine();
    e.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "a", recipientAgentIds: ["b"] }); // 1: to b
    const obs = stream(e.subscribe({ coordinationId: "c", agentId: "dashboard", observer: true, afterSequence: 0 }).subscription);
    const agent = stream(e.subscribe({ coordinationId: "c", agentId: "c-agent", afterSequence: 0 }).subscription);
    e.publish({ coordinationId: "c", type: "inter_agent_message", senderAgentId: "b", recipientAgentIds: ["a"] }); // 2: to a
    e.publish({ coordinationId: "c", type: "agent_initialized", senderAgentId: "a" }); // 3: to all
    expect(await collect(obs, 3)).toEqual([1, 2, 3]);
    expect(await collect(agent, 1)).toEqual([3]);
    expect([...e.agentActivity("c").keys()].sort()).toEqual(["a", "b", "c-agent"]);
    expect(e.summary("c")?.openSubscriptions).toBe(2);
    // Filters still apply to an observer.
    const typed = stream(e.subscribe({ coordinationId: "c", agentId: "dashboard", observer: true, types: ["inter_agent_message"], afterSequence: 0 }).subscription);
    expect(await collect(typed, 1)).toEqual([2]);
    await Promise.all([obs.return(undefined), agent.return(undefined), typed.return(undefined)]);
  });

  it("filters by sender and delivers a sender's own broadcasts", async () => {
    const { engine: e } = engine();
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a", senderAgentIds: ["a"] }).subscription);
    e.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "b" });
    e.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: "a" });
    expect(await collect(sub, 1)).toEqual([2]);
    await sub.return(undefined);
  });

  it("replays retained signals after a sequence, then continues live without gap or duplicate", async () => {
    const { engine: e } = engine();
    for (let i = 0; i < 5; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    const r = e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 2 });
    expect([r.headSequence, r.oldestSequence]).toEqual([5, 1]);
    const sub = stream(r.subscription);
    e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(await collect(sub, 4)).toEqual([3, 4, 5, 6]);
    e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(await collect(sub, 1)).toEqual([7]);
    await sub.return(undefined);
  });

  it("accepts after_sequence equal to the head and 0 on an empty log, rejects beyond the head", () => {
    const { engine: e } = engine();
    e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 0 }).subscription.close();
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 1 }).subscription.close();
    const err = expectError(() => e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 2 }), "out_of_range", /beyond the head/);
    expect(err.metadata).toEqual({ head_sequence: "1" });
  });

  it("ends OUT_OF_RANGE with the oldest retained sequence when history is gone", () => {
    const { engine: e } = engine({ maxHistory: 3 });
    for (let i = 0; i < 6; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 3 }).subscription.close(); // 4.. retained
    const err = expectError(() => e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 2 }), "out_of_range", /oldest retained sequence is 4/);
    expect(err.reason).toBe("HISTORY_TRIMMED");
    expect(err.metadata.oldest_sequence).toBe("4");
  });

  it("after ClearSignals a resumer gets OUT_OF_RANGE and numbering continues", () => {
    const { engine: e } = engine();
    for (let i = 0; i < 3; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(e.clear("c")).toEqual({ cleared: 3, headSequence: 3 });
    expectError(() => e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 1 }), "out_of_range", /older than the retained history/);
    e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 3 }).subscription.close();
    expect(e.publish({ coordinationId: "c", type: "agent_completed" }).signal.sequence).toBe(4);
    expect(e.metrics("c").totalSignalsSent).toBe(1);
  });

  it("cuts a lagging subscriber with its last delivered sequence and never blocks the publisher", async () => {
    const { engine: e } = engine({ subscriberBuffer: 3 });
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription);
    e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(await collect(sub, 1)).toEqual([1]);
    for (let i = 0; i < 10; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(e.metrics("c").headSequence).toBe(11);
    const end = await sub.next().catch((x: unknown) => x);
    expect(end).toBeInstanceOf(ConsortError);
    expect((end as ConsortError).kind).toBe("exhausted");
    expect((end as ConsortError).metadata).toEqual({ last_delivered_sequence: "1" });
    expect(e.subscriptionCount).toBe(0);
    expect(e.metrics("c").activeSubscriptions).toBe(0);
  });

  it("cuts a replaying subscriber whose replay range left the history", async () => {
    const { engine: e } = engine({ maxHistory: 5, subscriberBuffer: 1000 });
    for (let i = 0; i < 5; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 0 }).subscription, { maxBatch: 2 });
    expect(await collect(sub, 2)).toEqual([1, 2]);
    for (let i = 0; i < 5; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    const end = await sub.next().catch((x: unknown) => x);
    expect((end as ConsortError).reason).toBe("SUBSCRIBER_LAGGING");
    expect((end as ConsortError).metadata.last_delivered_sequence).toBe("2");
  });

  it("batches a backlog in sequence order, bounded in count", async () => {
    const { engine: e } = engine();
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription, { maxBatch: 4 });
    for (let i = 0; i < 10; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await sub.next();
      if (r.value?.kind === "signals") sizes.push(r.value.signals.length);
    }
    expect(sizes).toEqual([4, 4, 2]);
    await sub.return(undefined);
  });

  it("bounds batches by the bytes they will take, as measured by the caller; a batch never exceeds them", async () => {
    const { engine: e } = engine();
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 0 }).subscription, { maxBatchBytes: 25, sizeOf: () => 10 });
    for (let i = 0; i < 5; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await sub.next();
      if (r.value?.kind === "signals") sizes.push(r.value.signals.length);
    }
    expect(sizes).toEqual([2, 2, 1]);
    await sub.return(undefined);
  });

  it("delivers a signal larger than the batch bound alone rather than never", async () => {
    const { engine: e } = engine();
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription, { maxBatchBytes: 5, sizeOf: () => 10 });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(await collect(sub, 2)).toEqual([1, 2]);
    await sub.return(undefined);
  });

  it("keeps two subscriptions of one agent independent", async () => {
    const { engine: e } = engine();
    const a = stream(e.subscribe({ coordinationId: "c", agentId: "x" }).subscription);
    const b = stream(e.subscribe({ coordinationId: "c", agentId: "x" }).subscription);
    for (let i = 0; i < 3; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    expect(await collect(a, 3)).toEqual([1, 2, 3]);
    expect(await collect(b, 3)).toEqual([1, 2, 3]);
    await a.return(undefined);
    await b.return(undefined);
  });

  it("sends heartbeats while idle", async () => {
    const { engine: e } = engine();
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription, { heartbeatMs: 20 });
    const r = await sub.next();
    expect(r.value).toEqual({ kind: "heartbeat" });
    await sub.return(undefined);
  });

  it("unregisters on every way a stream ends: return, abort (cancel, deadline, shutdown), lag", async () => {
    const { engine: e, store } = engine({ subscriberBuffer: 1 });
    const count = () => e.subscriptionCount;
    // return() after a pull, and an explicit close() (idempotent)
    const s1 = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription, { heartbeatMs: 5 });
    await s1.next();
    await s1.return(undefined);
    expect(count()).toBe(0);
    const r1 = e.subscribe({ coordinationId: "c", agentId: "a" });
    r1.subscription.close();
    r1.subscription.close();
    expect(count()).toBe(0);
    // abort while waiting
    const ac = new AbortController();
    const s2 = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription, { signal: ac.signal });
    const pending = s2.next();
    ac.abort();
    expect((await pending).done).toBe(true);
    // lag
    const s3 = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription);
    const p3 = s3.next().catch((x: unknown) => x);
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    await p3;
    expect(count()).toBe(0);
    expect(e.metrics("c").activeSubscriptions).toBe(0);
    expect(store.peek("c")?.pins).toBe(0);
  });

  it("rejects subscriptions beyond the server limit", () => {
    const { engine: e } = engine({ maxSubscriptions: 1 });
    e.subscribe({ coordinationId: "c", agentId: "a" });
    expectError(() => e.subscribe({ coordinationId: "c", agentId: "b" }), "exhausted", /limit of 1 subscriptions/);
  });

  it("validates subscriber input", () => {
    const { engine: e } = engine();
    expectError(() => e.subscribe({ coordinationId: "c", agentId: "" }), "invalid", /^agent_id/);
    expectError(() => e.subscribe({ coordinationId: "c", agentId: "a", types: ["x"] }), "invalid", /^types\[0\]/);
    expect(e.subscriptionCount).toBe(0);
  });
});

describe("metrics", () => {
  it("counts sent by type and received per delivery (SPEC case 8)", async () => {
    const { engine: e } = engine();
    const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a" }).subscription);
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.publish({ coordinationId: "c", type: "agent_initialized" });
    expect(await collect(sub, 3)).toEqual([1, 2, 3]);
    const m = e.metrics("c");
    expect(m.totalSignalsSent).toBe(3);
    expect(m.totalSignalsReceived).toBe(3);
    expect(m.signalsByType).toEqual({ agent_completed: 2, agent_initialized: 1 });
    expect(m.maxPropagationMs).toBeGreaterThan(0);
    expect(m.averagePropagationMs).toBeLessThanOrEqual(m.maxPropagationMs);
    await sub.return(undefined);
    expect(e.metrics("nobody")).toMatchObject({ totalSignalsSent: 0, totalSignalsReceived: 0, headSequence: 0 });
  });

  it("times live deliveries only: a replay minutes later does not count as propagation", async () => {
    let clock = 0;
    const hr = performance.now;
    const times: number[][] = [];
    const store = createStore();
    const e = createSignalEngine({ store, limits: defaultLimits, hooks: { onDelivered: (_, t) => times.push([...t]) } });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.publish({ coordinationId: "c", type: "agent_completed" });
    // The replayed signals were published "3 s" before the subscriber resumes.
    performance.now = () => hr.call(performance) + clock;
    clock = 3000;
    try {
      const sub = stream(e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 0 }).subscription);
      expect(await collect(sub, 2)).toEqual([1, 2]);
      expect(e.metrics("c")).toMatchObject({ totalSignalsReceived: 2, averagePropagationMs: 0, maxPropagationMs: 0 });
      e.publish({ coordinationId: "c", type: "agent_completed" });
      expect(await collect(sub, 1)).toEqual([3]);
      const m = e.metrics("c");
      expect(m.totalSignalsReceived).toBe(3);
      expect(m.averagePropagationMs).toBeGreaterThan(0);
      expect(m.averagePropagationMs).toBeLessThan(1000);
      expect(times.map((t) => t.length)).toEqual([0, 1]);
      await sub.return(undefined);
    } finally {
      performance.now = hr;
    }
  });
});

describe("violation lists", () => {
  it("stay bounded whatever the request: the first 100 listed, all counted, each field once", async () => {
    const { Violations, maxListedViolations } = await import("../../src/core/errors.js");
    const v = new Violations();
    for (let i = 0; i < 50_000; i++) v.add(`recipient_agent_ids[${i}]`, "must not be empty");
    v.add("recipient_agent_ids[0]", "a second rule for a field already recorded");
    const err = v.toError();
    expect(err.violations).toHaveLength(maxListedViolations);
    expect(err.message).toBe("recipient_agent_ids[0]: must not be empty (and 49999 more invalid fields)");
  });
});

describe("filters a client sends are bounded", () => {
  it("refuses more than 64 types or more sender ids than a signal may have recipients, naming the list, creating nothing", () => {
    const { store, engine: e } = engine({ maxRecipients: 10 });
    const tooMany = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { violations: { field: string }[] }).violations.map((x) => x.field);
      }
      return [];
    };
    expect(tooMany(() => e.subscribe({ coordinationId: "c", agentId: "a", types: Array.from({ length: 65 }, () => "agent_completed") }))).toEqual(["types"]);
    expect(tooMany(() => e.subscribe({ coordinationId: "c", agentId: "a", senderAgentIds: Array.from({ length: 11 }, (_, i) => `s${i}`) }))).toEqual(["sender_agent_ids"]);
    expect(tooMany(() => e.list({ coordinationId: "c", types: Array.from({ length: 65 }, () => "agent_completed") }))).toEqual(["types"]);
    expect(store.size).toBe(0);
    e.subscribe({ coordinationId: "c", agentId: "a", types: Array.from({ length: 64 }, () => "agent_completed"), senderAgentIds: Array.from({ length: 10 }, (_, i) => `s${i}`) }).subscription.close();
  });
});

describe("epochs: a new log is never mistaken for the old one", () => {
  it("stamps every signal and subscription with the log's epoch; ClearSignals keeps it", () => {
    const { engine: e } = engine();
    const first = e.publish({ coordinationId: "c", type: "agent_completed" }).signal;
    const sub = e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 1, epoch: first.epoch });
    expect(sub.epoch).toBe(first.epoch);
    sub.subscription.close();
    e.clear("c");
    expect(e.publish({ coordinationId: "c", type: "agent_completed" }).signal).toMatchObject({ epoch: first.epoch, sequence: 2 });
  });

  it("takes an epoch whatever the id limit, and checks it only with after_sequence (the position it qualifies)", () => {
    const { store, engine: e } = engine({ maxIdLength: 8 });
    const old = e.publish({ coordinationId: "c", type: "agent_completed" }).signal.epoch;
    e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 1, epoch: old }).subscription.close();
    store.delete("c");
    e.subscribe({ coordinationId: "c", agentId: "a", epoch: old }).subscription.close(); // live only: no position
    expectError(() => e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 0, epoch: old }), "failed_precondition", /is epoch|no log/);
  });

  it("refuses a resume in another epoch with EPOCH_CHANGED, the current epoch and bounds, creating nothing", () => {
    const { store, engine: e } = engine();
    const old = e.publish({ coordinationId: "c", type: "agent_completed" }).signal.epoch;
    store.delete("c"); // the coordination expired (or the server restarted)
    const unknown = expectError(() => e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 1, epoch: old }), "failed_precondition", /has no log now/);
    expect(unknown).toMatchObject({ reason: "EPOCH_CHANGED", metadata: { epoch: "", oldest_sequence: "0", head_sequence: "0" } });
    expect(store.size).toBe(0);
    for (let i = 0; i < 3; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
    const current = e.subscribe({ coordinationId: "c", agentId: "a" });
    current.subscription.close();
    expect(current.epoch).not.toBe(old);
    const changed = expectError(() => e.subscribe({ coordinationId: "c", agentId: "a", afterSequence: 1, epoch: old }), "failed_precondition", /is epoch/);
    expect(changed.metadata).toEqual({ epoch: current.epoch, oldest_sequence: "1", head_sequence: "3" });
  });
});

describe("shutdown", () => {
  it("refuses publishes once stopped, storing nothing", () => {
    const { engine: e } = engine();
    e.publish({ coordinationId: "c", type: "agent_completed" });
    e.stopAccepting();
    expectError(() => e.publish({ coordinationId: "c", type: "agent_completed" }), "unavailable", /shutting down/);
    expect(e.headSequence("c")).toBe(1);
  });

  it("flushes what a subscription holds when its signal aborts for the shutdown, and only then", async () => {
    for (const flush of [true, false]) {
      const { engine: e } = engine();
      const { subscription } = e.subscribe({ coordinationId: "c", agentId: "a" });
      for (let i = 0; i < 5; i++) e.publish({ coordinationId: "c", type: "agent_completed" });
      const ac = new AbortController();
      const it = stream(subscription, { signal: ac.signal, maxBatch: 2, flushOnAbort: () => flush });
      const first = await it.next();
      ac.abort();
      const rest: SubscriptionEvent[] = [];
      for await (const ev of it) rest.push(ev);
      expect(seqs([first.value as SubscriptionEvent, ...rest])).toEqual(flush ? [1, 2, 3, 4, 5] : [1, 2]);
      expect(subscription.lastDelivered).toBe(flush ? 5 : 2);
    }
  });
});

describe("agent activity", () => {
  it("remembers each sender's last sequence for at most maxAgentsPerCoordination senders, forgetting the one first heard longest ago", () => {
    const { engine: signals } = engine({ maxAgentsPerCoordination: 3 });
    for (const sender of ["a", "b", "c", "a", "d"]) signals.publish({ coordinationId: "c", type: "agent_completed", senderAgentId: sender });
    const seen = Object.fromEntries([...signals.agentActivity("c")].map(([id, a]) => [id, a.lastSentSequence]));
    expect(seen).toEqual({ b: 2, c: 3, d: 5 });
  });
});
