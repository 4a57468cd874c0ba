// The Coordinations area: what WatchCoordinations costs the rest of the server. In-core, in this process:
// - publish cost across 100 coordinations with no feed, with the feed and no watcher, with 1 and with 10 watchers
//   reading every batch (alternating, so the machine's drift falls on all four alike);
// - a tick and one watcher's batch per changed coordination (summary, proto message, encoded size, encode);
// - the first batch of a new watch (the snapshot) at 10,000 and 100,000 coordinations.
import { performance } from "node:perf_hooks";
import { create, toBinary } from "@bufbuild/protobuf";
import { CoordinationChangeSchema, WatchCoordinationsResponseSchema, type CoordinationChange } from "../gen/ts/consort/v1/coordination_pb.js";
import { createContextEngine } from "../src/core/context/context-engine.js";
import { createCoordinationEngine } from "../src/core/coordinations/coordination-engine.js";
import { createCoordinationFeed, type CoordinationFeed } from "../src/core/coordinations/coordination-feed.js";
import type { CoordinationChange as ChangeView } from "../src/core/coordinations/coordination-watch.js";
import { createDependencyEngine } from "../src/core/dependencies/dependency-engine.js";
import { defaultLimits } from "../src/core/limits.js";
import { createSignalEngine, type SignalEngine } from "../src/core/signals/signal-engine.js";
import { createStore } from "../src/core/store.js";
import { coordinationChangeMessage } from "../src/service/coordination-service.js";
import { elementSize } from "../src/service/encoded-size.js";
import { median } from "./median.js";

/** Options of {@link runCoordinationsBench} (the smoke run makes them tiny). */
export interface CoordinationsBenchOptions {
  /** Timed publishes per publish-cost round. @default 300000 */
  readonly publishes?: number;
  /** Ticks timed for the per-change cost. @default 200 */
  readonly ticks?: number;
  /** Coordinations of the snapshot measurements. @default [10000, 100000] */
  readonly snapshotSizes?: readonly number[];
}

/** One round's publish cost, µs per publish, by setting. */
export interface PublishWithWatchers {
  readonly noFeed: number;
  readonly feed: number;
  readonly watchers1: number;
  readonly watchers10: number;
}

/** Everything the area measured: per round, and the medians. */
export interface CoordinationsBenchResult {
  readonly publish: PublishWithWatchers[];
  /** µs per changed coordination: the tick, and one watcher's batch + encode. */
  readonly perChange: { readonly tickUs: number; readonly batchUs: number; readonly encodeUs: number }[];
  /** Milliseconds to a new watch's complete snapshot, by coordination count. */
  readonly snapshotMs: { readonly coordinations: number; readonly ms: number; readonly responses: number }[];
}

const COORDINATIONS = 100;
const data = { agent_id: "model-generator", quality_score: 0.95, success: true };

function server() {
  const store = createStore({ maxCoordinations: 1_000_000 });
  const signals = createSignalEngine({ store, limits: defaultLimits });
  const contexts = createContextEngine({ store });
  const dependencies = createDependencyEngine({ store, signals });
  const coordinations = createCoordinationEngine({ store, signals, contexts, dependencies });
  return { store, signals, summarize: coordinations.summarize };
}

/** The watch's size bound, as the service sets it: each change's encoded bytes (binary). */
const budget = () => {
  const built = new WeakMap<ChangeView, CoordinationChange>();
  const message = (c: ChangeView) => {
    let m = built.get(c);
    if (m === undefined) built.set(c, (m = coordinationChangeMessage(c)));
    return m;
  };
  return { message, budget: { maxBytes: 4 << 20, sizeOf: (c: ChangeView) => elementSize(CoordinationChangeSchema, message(c), "binary") } };
};

/** µs per publish over `n` publishes in slices of 10,000, yielding between slices so ticks and readers run. */
async function publishCost(signals: SignalEngine, n: number): Promise<number> {
  let ms = 0;
  for (let done = 0; done < n; done += 10_000) {
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) signals.publish({ coordinationId: `c${i % COORDINATIONS}`, type: "agent_completed", data });
    ms += performance.now() - t0;
    await new Promise((r) => setImmediate(r));
  }
  return (ms * 1000) / n;
}

async function publishWith(setting: keyof PublishWithWatchers, n: number): Promise<number> {
  const s = server();
  const feed: CoordinationFeed | undefined = setting === "noFeed" ? undefined : createCoordinationFeed({ store: s.store, summarize: s.summarize, intervalMs: 250 });
  const ac = new AbortController();
  const watchers = setting === "watchers1" ? 1 : setting === "watchers10" ? 10 : 0;
  const readers = Array.from({ length: watchers }, async () => {
    const { message, budget: b } = budget();
    for await (const batch of feed!.watch({}, { signal: ac.signal, budget: b }).batches) {
      toBinary(WatchCoordinationsResponseSchema, create(WatchCoordinationsResponseSchema, { watchEpoch: batch.watchEpoch, headRevision: BigInt(batch.headRevision), changes: batch.changes.map(message) }));
    }
  });
  await publishCost(s.signals, 20_000); // warm-up
  const us = await publishCost(s.signals, n);
  ac.abort();
  await Promise.all(readers);
  feed?.close();
  return us;
}

async function perChange(ticks: number) {
  const s = server();
  const feed = createCoordinationFeed({ store: s.store, summarize: s.summarize, intervalMs: 60_000 });
  const { message, budget: b } = budget();
  const w = feed.watch({}, { budget: b });
  await w.batches.next();
  let tick = 0;
  let batch = 0;
  let encode = 0;
  for (let r = 0; r < ticks; r++) {
    for (let i = 0; i < COORDINATIONS; i++) s.signals.publish({ coordinationId: `c${i}`, type: "inter_agent_message", data });
    let t = performance.now();
    feed.tick();
    tick += performance.now() - t;
    t = performance.now();
    const next = await w.batches.next();
    batch += performance.now() - t;
    t = performance.now();
    const changes = next.done === true ? [] : next.value.changes;
    toBinary(WatchCoordinationsResponseSchema, create(WatchCoordinationsResponseSchema, { changes: changes.map(message) }));
    encode += performance.now() - t;
  }
  w.close();
  feed.close();
  const per = (ms: number) => (ms * 1000) / (ticks * COORDINATIONS);
  return { tickUs: per(tick), batchUs: per(batch), encodeUs: per(encode) };
}

async function snapshot(coordinations: number) {
  const s = server();
  for (let i = 0; i < coordinations; i++) s.signals.publish({ coordinationId: `s${i}`, type: "agent_initialized", data });
  const feed = createCoordinationFeed({ store: s.store, summarize: s.summarize, intervalMs: 60_000 });
  feed.tick();
  const { message, budget: b } = budget();
  const t0 = performance.now();
  const w = feed.watch({}, { budget: b });
  let responses = 0;
  for (;;) {
    const next = await w.batches.next();
    if (next.done === true) break;
    toBinary(WatchCoordinationsResponseSchema, create(WatchCoordinationsResponseSchema, { changes: next.value.changes.map(message) }));
    responses++;
    if (next.value.caughtUp) break;
  }
  const ms = performance.now() - t0;
  w.close();
  feed.close();
  return { coordinations, ms, responses };
}

/** Runs the area `runs` times; prints one line per measurement and the medians. */
export async function runCoordinationsBench(runs = 3, options: CoordinationsBenchOptions = {}): Promise<CoordinationsBenchResult> {
  const n = options.publishes ?? 300_000;
  const publish: PublishWithWatchers[] = [];
  const settings = ["noFeed", "feed", "watchers1", "watchers10"] as const;
  for (let r = 0; r < runs; r++) {
    const round: Partial<Record<keyof PublishWithWatchers, number>> = {};
    // Alternate the order, so that no setting always runs first.
    for (const k of r % 2 === 0 ? settings : [...settings].reverse()) round[k] = await publishWith(k, n);
    const res = round as PublishWithWatchers;
    publish.push(res);
    console.log(`Coordinations/publish run ${r + 1}: µs per publish across ${COORDINATIONS} coordinations: no feed ${res.noFeed.toFixed(3)}, feed ${res.feed.toFixed(3)}, 1 watcher ${res.watchers1.toFixed(3)}, 10 watchers ${res.watchers10.toFixed(3)}`);
  }
  const m = (k: keyof PublishWithWatchers) => median(publish.map((x) => x[k])).toFixed(3);
  console.log(`Coordinations/publish median of ${runs}: no feed ${m("noFeed")}, feed ${m("feed")}, 1 watcher ${m("watchers1")}, 10 watchers ${m("watchers10")} µs per publish`);

  const changes: CoordinationsBenchResult["perChange"][number][] = [];
  for (let r = 0; r < runs; r++) changes.push(await perChange(options.ticks ?? 200));
  const c = (k: "tickUs" | "batchUs" | "encodeUs") => median(changes.map((x) => x[k])).toFixed(2);
  console.log(`Coordinations/per-change median of ${runs}: tick ${c("tickUs")} µs, one watcher's batch ${c("batchUs")} µs + encode ${c("encodeUs")} µs per changed coordination`);

  const snapshots: CoordinationsBenchResult["snapshotMs"][number][] = [];
  for (const size of options.snapshotSizes ?? [10_000, 100_000]) {
    const xs: CoordinationsBenchResult["snapshotMs"][number][] = [];
    for (let r = 0; r < runs; r++) xs.push(await snapshot(size));
    snapshots.push(...xs);
    console.log(`Coordinations/snapshot ${size}: a new watch's complete snapshot in ${median(xs.map((x) => x.ms)).toFixed(1)} ms (median of ${runs}; ${xs[0]?.responses} responses)`);
  }
  return { publish, perChange: changes, snapshotMs: snapshots };
}
