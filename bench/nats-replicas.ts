import { create } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";
import { connect, DeliverPolicy, type NatsConnection } from "nats";
import { performance } from "node:perf_hooks";
import { PublishRequestSchema, SignalService, SignalType, SubscribeRequestSchema, type SubscribeResponse } from "../gen/ts/consort/v1/signal_pb.js";
import { startNatsServer } from "../test/nats/nats-server.js";
import { machineLoad } from "./machine.js";
import { serviceClient, type ServiceClient } from "./clients.js";
import { runGo } from "./latency-go.js";
import { median, percentile } from "./median.js";
import { startServerProcess, type ServerProcess } from "./server-process.js";

/**
 * Consort replicas on NATS JetStream (issue 12), every server its own process, in one run beside the in-memory
 * backend and raw NATS JetStream (a publisher and an ordered consumer on nats.js, the floor any replica sits on):
 *
 * - **latency**: publish → subscriber with the Go probe at 1,000 signals/s (3,000 after 500), the publisher on
 *   the first replica, the subscriber on the last (with 3 replicas: another process);
 * - **fan-out**: 30 subscribers spread evenly over the replicas, a burst of signals published 16 in flight; the
 *   time until every subscriber holds every signal, as deliveries per second;
 * - **appends/s to one coordination** with 1, 2 and 3 concurrent writers, each 16 publishes in flight (grpc-js),
 *   writer w on replica w mod R (so with 3 replicas every writer is on its own replica and they race for the one
 *   head); raw JetStream: plain publishes, 16 in flight per connection, no sequence check (unordered, no gap-free
 *   numbering: the ceiling, not a like-for-like peer).
 *
 *   npm run build && node dist/bench/nats-replicas.js [--runs 3] [--samples 3000] [--rate 1000] [--burst 500] [--appends 3000]
 *
 * Not part of `npm run bench`: it starts up to 4 servers on a 2-core machine, which is the point to read it with.
 */

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const n = i < 0 ? NaN : Number(process.argv[i + 1]);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
};
const runs = arg("runs", 3);
const samples = arg("samples", 3_000);
const rate = arg("rate", 1_000);
const burst = arg("burst", 500);
const appends = arg("appends", 3_000);
const subscribers = 30;
const inFlight = 16;
const warmup = 100;
const data = { task: "review", path: "src/core/signals/signal-engine.ts", line: 42, note: "x".repeat(80) };

// grpc-js clients (the fastest Node client; bench/latency.ts uses the same), one channel per replica.
const clientOf = (s: ServerProcess): ServiceClient => serviceClient(SignalService, `127.0.0.1:${s.grpcPort}`);
let n = 0;
const cid = (tag: string) => `bench-${tag}-${process.pid}-${++n}`;

/** One system under test: publish and subscribe through it. */
interface System {
  readonly name: string;
  /** The Go probe's arguments for the latency case (`-mode …`, addresses). */
  readonly probe: readonly string[];
  /** Publishes one signal through writer `w`. */
  publish(w: number, coordinationId: string, i: number): Promise<void>;
  /** Subscribes reader `r`; `onSignal` gets each signal's index; resolves once subscribed. */
  subscribe(r: number, coordinationId: string, onSignal: (i: number) => void): Promise<() => void>;
  close(): Promise<void>;
}

function consortSystem(name: string, servers: readonly ServerProcess[]): System {
  const clients = servers.map(clientOf);
  const at = (k: number) => clients[k % clients.length] as ServiceClient;
  const addrs = servers.map((s) => `127.0.0.1:${s.grpcPort}`);
  return {
    name,
    // Publisher on the first replica, subscriber on the last (with 3 replicas, another process).
    probe: ["-mode", "signal", "-addr", addrs[0] as string, "-sub-addr", addrs.at(-1) as string],
    publish(w, coordinationId, i) {
      const request = create(PublishRequestSchema, { coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: `w${w}`, data: { ...data, i } });
      return new Promise<void>((resolve, reject) => at(w)["publish"]!(request, (err: grpc.ServiceError | null) => (err === null ? resolve() : reject(err))));
    },
    subscribe(r, coordinationId, onSignal) {
      // The last replica first: with one reader, it is another process than the first writer's.
      const client = at(clients.length - 1 - (r % clients.length));
      const call = client["subscribe"]!(create(SubscribeRequestSchema, { coordinationId, agentId: `r${r}`, observer: true })) as grpc.ClientReadableStream<SubscribeResponse>;
      return new Promise((resolve, reject) => {
        let subscribed = false;
        call.on("data", (m: SubscribeResponse) => {
          if (!subscribed && m.subscribed !== undefined) {
            subscribed = true;
            resolve(() => call.cancel());
          }
          for (const s of m.signals) onSignal(s.data?.["i"] as number);
        });
        call.on("error", (err: grpc.ServiceError) => {
          if (!subscribed) reject(err);
        });
      });
    },
    async close() {
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

async function rawJetStream(url: string): Promise<System> {
  const writers: NatsConnection[] = [];
  const readers: NatsConnection[] = [];
  const nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: "BENCH_RAW_REPLICAS", subjects: ["rawrep.>"], max_msgs_per_subject: 10_000 });
  const conn = async (list: NatsConnection[], k: number) => {
    while (list.length <= k % 3) list.push(await connect({ servers: url }));
    return list[k % 3] as NatsConnection;
  };
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return {
    name: "raw JetStream",
    probe: ["-mode", "nats-latency", "-addr", new URL(url).host],
    async publish(w, coordinationId, i) {
      await (await conn(writers, w)).jetstream().publish(`rawrep.${coordinationId}`, encoder.encode(JSON.stringify({ ...data, i })));
    },
    async subscribe(r, coordinationId, onSignal) {
      const js = (await conn(readers, r)).jetstream();
      const consumer = await js.consumers.get("BENCH_RAW_REPLICAS", { filterSubjects: `rawrep.${coordinationId}`, deliver_policy: DeliverPolicy.New });
      const messages = await consumer.consume();
      void (async () => {
        for await (const m of messages) onSignal((JSON.parse(decoder.decode(m.data)) as { i: number }).i);
      })();
      return () => void messages.close();
    },
    async close() {
      await Promise.all([...writers, ...readers, nc].map((c) => c.close()));
    },
  };
}

/**
 * Publish → subscriber with the Go probe (bench/go, the client the other latency cases use: Node clients add
 * milliseconds of their own here): unary Publish at `rate`/s on `pubAddr`, one Subscribe on `subAddr`; raw
 * JetStream: the probe's `nats-latency` mode (JetStream publish, ordered consumer).
 */
async function latency(system: System): Promise<{ p50: number; p99: number }> {
  const args = ["-rate", String(rate), "-count", String(samples), "-timeout", "100s", ...system.probe];
  const r = JSON.parse(await runGo(args, 120_000)) as { p50: number; p99: number };
  return { p50: r.p50, p99: r.p99 };
}

/** A burst to 30 subscribers spread over the replicas: deliveries per second until all hold all. */
async function fanout(system: System): Promise<number> {
  const coordinationId = cid("fan");
  const counts = new Array<number>(subscribers).fill(0);
  let delivered = 0;
  const stops = [];
  for (let r = 0; r < subscribers; r++) {
    stops.push(
      await system.subscribe(r, coordinationId, () => {
        counts[r]!++;
        delivered++;
      }),
    );
  }
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < burst) await system.publish(0, coordinationId, next++);
    }),
  );
  const deadline = Date.now() + 60_000;
  while (delivered < burst * subscribers) {
    if (Date.now() > deadline) throw new Error(`${system.name}: fan-out stopped at ${delivered} of ${burst * subscribers}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const seconds = (performance.now() - t0) / 1000;
  for (const stop of stops) stop();
  return (burst * subscribers) / seconds;
}

/** Appends per second to one coordination with `writers` concurrent writers, 16 publishes in flight each. */
async function appendRate(system: System, writers: number): Promise<number> {
  const coordinationId = cid(`rate${writers}`);
  const each = Math.floor(appends / writers);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < each) await system.publish(w, coordinationId, next++);
        }),
      );
    }),
  );
  return (each * writers) / ((performance.now() - t0) / 1000);
}

const rows = new Map<string, number[]>();
const record = (key: string, value: number) => rows.set(key, [...(rows.get(key) ?? []), value]);
console.log(`load at start: ${machineLoad().raw}`);
for (let run = 1; run <= runs; run++) {
  // A fresh nats-server per run: the Go probe's JetStream mode numbers its messages by stream sequence from 1.
  const nats = await startNatsServer();
  try {
    const systems: (() => Promise<System>)[] = [
      async () => consortSystem("in-memory", [await startServerProcess()]),
      async () => consortSystem("JetStream, 1 replica", [await startServerProcess(["--backend", nats.url])]),
      async () => consortSystem("JetStream, 3 replicas", await Promise.all([0, 1, 2].map(() => startServerProcess(["--backend", nats.url])))),
      () => rawJetStream(nats.url),
    ];
    for (const make of systems) {
      const system = await make();
      try {
        const l = await latency(system);
        record(`${system.name}|latency p50 ms`, l.p50);
        record(`${system.name}|latency p99 ms`, l.p99);
        record(`${system.name}|fan-out deliveries/s`, await fanout(system));
        for (const w of [1, 2, 3]) record(`${system.name}|appends/s, ${w} writer(s)`, await appendRate(system, w));
      } finally {
        await system.close();
      }
    }
  } finally {
    await nats.stop();
  }
  console.log(`run ${run} of ${runs} done; load ${machineLoad().raw}`);
}
const metrics = [...new Set([...rows.keys()].map((k) => k.split("|")[1] as string))];
const names = [...new Set([...rows.keys()].map((k) => k.split("|")[0] as string))];
const fmt = (x: number) => (x < 100 ? x.toFixed(3) : String(Math.round(x)));
console.log(`\nmedians of ${runs} runs (${samples} latency samples at ${rate}/s, burst ${burst} × ${subscribers} subscribers, ${appends} appends ${inFlight} in flight per writer)`);
console.log(["", ...names].join(" | "));
for (const m of metrics) console.log([m, ...names.map((s) => fmt(median(rows.get(`${s}|${m}`) ?? [NaN])))].join(" | "));
console.log(`load at end: ${machineLoad().raw}`);
