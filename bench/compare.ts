import { measureFanoutGo, type FanoutGoResult } from "./fanout-go.js";
import type { LatencyResult } from "./latency.js";
import { measureLatencyGoAt, runGo } from "./latency-go.js";
import { measureMemory, rssBytes, type MemoryResult } from "./memory.js";
import { findBinary, peers, startPeer, type PeerKind } from "./peers.js";
import { startServerProcess } from "./server-process.js";
import { startEchoProcess } from "./echo-server.js";
import { median } from "./median.js";

/** Consort and the peers it is compared with. */
export type System = "consort" | PeerKind;

/** Short names for the printed lines. */
const short: Readonly<Record<System, string>> = { consort: "Consort", nats: "JetStream", redis: "Redis" };

/** Options of {@link runPeersBench}. */
export interface PeersBenchOptions {
  readonly runs: number;
  /** Consort's Memory case from the same run, if it ran: its fill is not repeated. */
  readonly consortMemory?: MemoryResult;
  /** Tiny counts, no sizing runs: checks the cases work, says nothing about speed. */
  readonly smoke?: boolean;
}

/** Everything {@link runPeersBench} measured, per run, and the medians it printed. */
export interface PeersBenchResult {
  /** Peers that were not measured, with why (their binary is missing). */
  readonly missing: Readonly<Partial<Record<PeerKind, string>>>;
  readonly latency: Readonly<Partial<Record<System, LatencyResult[]>>>;
  /** The same latency against the grpc-js floor: Subscribe and PublishStream with none of Consort's work. */
  readonly floorLatency: readonly LatencyResult[];
  /** Per subscriber count. */
  readonly fanout: Readonly<Record<string, Partial<Record<System, FanoutGoResult[]>>>>;
  /** RSS of each system's server after retaining the same messages, one run each. */
  readonly memory: Readonly<Partial<Record<System, PeerMemoryResult>>>;
  readonly medians: {
    readonly latency: Partial<Record<System, { p50: number; p90: number; p99: number }>>;
    readonly floorLatency: { p50: number; p90: number; p99: number };
    readonly fanout: Record<string, Partial<Record<System, { deliveriesPerSecond: number; serverCpuMicrosPerDelivery: number; clientCpuMicrosPerDelivery: number; messages: number }>>>;
  };
}

/** One system's server holding the Memory case's messages. */
export interface PeerMemoryResult {
  readonly messages: number;
  readonly rssStartBytes: number;
  readonly rssFilledBytes: number;
  readonly fillSeconds: number;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => `${n.toFixed(3)} ms`;

/** Runs `fn` against a fresh server of `system` (Consort with `consortArgs`), stopping it afterwards. */
async function withSystem<T>(system: System, consortArgs: readonly string[], fn: (addr: string, pid: number) => Promise<T>): Promise<T> {
  if (system === "consort") {
    const server = await startServerProcess(consortArgs);
    try {
      return await fn(`127.0.0.1:${server.grpcPort}`, server.child.pid!);
    } finally {
      await server.stop();
    }
  }
  const peer = await startPeer(system);
  try {
    return await fn(peer.addr, peer.pid);
  } finally {
    await peer.stop();
  }
}

/**
 * Messages for a fan-out run: what `pilot`'s rate delivers in `seconds`, rounded up to a thousand, between `min`
 * and 500,000 (memory-storage streams of up to ~130 MB in the peers; Consort's subscriber buffer is 100,000
 * signals, far above what a live subscriber lags).
 */
function sized(pilot: FanoutGoResult, subscribers: number, seconds: number, min: number): number {
  const m = Math.ceil((pilot.deliveries_per_second * seconds) / subscribers / 1000) * 1000;
  return Math.min(500_000, Math.max(min, m));
}

/** "Consort/JetStream 0.54, Consort/Redis 0.31" for the peers measured. */
function ratios(value: (s: System) => number | undefined, systems: readonly System[]): string {
  const c = value("consort");
  return systems
    .filter((s) => s !== "consort")
    .map((s) => {
      const v = value(s);
      return `Consort/${short[s]} ${c === undefined || v === undefined || !(v > 0) ? "n/a" : (c / v).toFixed(2)}`;
    })
    .join(", ");
}

/**
 * The Peers area: Consort beside NATS JetStream and Redis Streams, each server started by the benchmark (fresh per
 * case, on 127.0.0.1, throwaway data), the same Go client process shape for all three:
 * - latency: publish → subscriber at 1,000 messages/s, 3,000 measured after 500, the ~200-byte payload;
 * - fan-out to 1, 10 and 100 subscribers: one publisher flat out (32 in flight), deliveries per second until every
 *   subscriber has every message, server and client CPU per delivery. Each case first runs twice unmeasured on
 *   the same server (a warm-up, then a sizing run), and the measured run publishes what the sizing run's rate
 *   delivers in ~1.5 s.
 * Prints every run, then the medians with each Consort figure beside the peers' and as a ratio (Consort ÷ peer). A
 * peer whose binary is missing is reported as MISSING, never skipped silently.
 */
export async function runPeersBench(options: PeersBenchOptions): Promise<PeersBenchResult> {
  const { runs } = options;
  const smoke = options.smoke === true;
  const missing: Partial<Record<PeerKind, string>> = {};
  for (const kind of ["nats", "redis"] as const) {
    if (findBinary(peers[kind].binary) === undefined) {
      missing[kind] = `${peers[kind].binary} not found on PATH or in /usr/local/sbin, /usr/sbin, /sbin`;
      console.log(`Peers: ${peers[kind].name} MISSING (${missing[kind]}): its figures are not measured in this run`);
    }
  }
  const systems: System[] = (["consort", "nats", "redis"] as const).filter((s) => s === "consort" || missing[s] === undefined);
  const all: readonly System[] = ["consort", "nats", "redis"];
  console.log("Peers: ratios are Consort ÷ peer (latency and CPU above 1: Consort slower or costlier; deliveries/s below 1: Consort slower)");

  const latency: Partial<Record<System, LatencyResult[]>> = {};
  const floorLatency: LatencyResult[] = [];
  const count = smoke ? 200 : 3000;
  for (let r = 0; r < runs; r++) {
    for (const s of systems) {
      // Consort publishes over PublishStream, its high-rate path (Signals/latency-go measures unary Publish).
      const res = await withSystem(s, [], (addr) => measureLatencyGoAt(s, addr, { rate: 1000, count, stream: true }));
      (latency[s] ??= []).push(res);
      console.log(
        `Peers/latency ${short[s]} run ${r + 1}: p50 ${ms(res.p50)}, p90 ${ms(res.p90)}, p99 ${ms(res.p99)}, max ${ms(res.max)} (${res.count} at 1,000/s, Go client)`,
      );
    }
    // What Node and grpc-js allow for the same calls on this machine now: Consort's figure minus this is its own.
    const echo = await startEchoProcess();
    try {
      const res = await measureLatencyGoAt("consort", `127.0.0.1:${echo.port}`, { rate: 1000, count, stream: true });
      floorLatency.push(res);
      console.log(`Peers/latency grpc-js floor run ${r + 1}: p50 ${ms(res.p50)}, p90 ${ms(res.p90)}, p99 ${ms(res.p99)}, max ${ms(res.max)} (Subscribe and PublishStream relayed by grpc-js with no Consort logic)`);
    } finally {
      await echo.stop();
    }
  }

  const fanout: Record<string, Partial<Record<System, FanoutGoResult[]>>> = {};
  for (let r = 0; r < runs; r++) {
    for (const n of [1, 10, 100]) {
      for (const s of systems) {
        const res = await withSystem(s, ["--subscriber-buffer", "100000"], async (addr, pid) => {
          if (smoke) return measureFanoutGo(s, addr, pid, { subscribers: n, messages: 100 });
          const warm = await measureFanoutGo(s, addr, pid, { subscribers: n, messages: Math.max(200, Math.min(2000, Math.round(20_000 / n))) });
          const sizing = await measureFanoutGo(s, addr, pid, { subscribers: n, messages: sized(warm, n, 1, 1000) });
          return measureFanoutGo(s, addr, pid, { subscribers: n, messages: sized(sizing, n, 1.5, 5000) });
        });
        ((fanout[n] ??= {})[s] ??= []).push(res);
        console.log(
          `Peers/fanout-${n} ${short[s]} run ${r + 1}: ${int(res.deliveries_per_second)} deliveries/s, ${res.server_cpu_us_per_delivery.toFixed(2)} µs server CPU and ` +
            `${res.client_cpu_us_per_delivery.toFixed(2)} µs client CPU per delivery, ${res.reads_per_delivery.toFixed(3)} reads per delivery ` +
            `(${int(res.messages)} messages to ${n} in ${res.seconds.toFixed(2)} s; publishes acknowledged in ${res.publish_seconds.toFixed(2)} s)`,
        );
      }
    }
  }

  const missingNote = all
    .filter((s): s is PeerKind => s !== "consort" && missing[s] !== undefined)
    .map((s) => `; ${short[s]} MISSING`)
    .join("");
  const latencyMedians: PeersBenchResult["medians"]["latency"] = {};
  for (const s of systems) {
    const list = latency[s]!;
    latencyMedians[s] = { p50: median(list.map((x) => x.p50)), p90: median(list.map((x) => x.p90)), p99: median(list.map((x) => x.p99)) };
  }
  const floorMedian = { p50: median(floorLatency.map((x) => x.p50)), p90: median(floorLatency.map((x) => x.p90)), p99: median(floorLatency.map((x) => x.p99)) };
  for (const p of ["p50", "p99"] as const) {
    console.log(
      `Peers/latency median of ${runs}, ${p}: ${systems.map((s) => `${short[s]} ${ms(latencyMedians[s]![p])}`).join(", ")}, grpc-js floor ${ms(floorMedian[p])} ` +
        `(${ratios((s) => latencyMedians[s]?.[p], all)}, Consort/floor ${(latencyMedians.consort![p] / floorMedian[p]).toFixed(2)})${missingNote}`,
    );
  }
  const fanoutMedians: PeersBenchResult["medians"]["fanout"] = {};
  for (const n of [1, 10, 100]) {
    const m: PeersBenchResult["medians"]["fanout"][string] = (fanoutMedians[n] = {});
    for (const s of systems) {
      const list = fanout[n]![s]!;
      m[s] = {
        deliveriesPerSecond: median(list.map((x) => x.deliveries_per_second)),
        serverCpuMicrosPerDelivery: median(list.map((x) => x.server_cpu_us_per_delivery)),
        clientCpuMicrosPerDelivery: median(list.map((x) => x.client_cpu_us_per_delivery)),
        messages: median(list.map((x) => x.messages)),
      };
    }
    console.log(
      `Peers/fanout-${n} median of ${runs}, deliveries/s: ${systems.map((s) => `${short[s]} ${int(m[s]!.deliveriesPerSecond)}`).join(", ")} ` +
        `(${ratios((s) => m[s]?.deliveriesPerSecond, all)})${missingNote}`,
    );
    console.log(
      `Peers/fanout-${n} median of ${runs}, server CPU µs per delivery: ${systems.map((s) => `${short[s]} ${m[s]!.serverCpuMicrosPerDelivery.toFixed(2)}`).join(", ")} ` +
        `(${ratios((s) => m[s]?.serverCpuMicrosPerDelivery, all)})${missingNote}`,
    );
    console.log(
      `Peers/fanout-${n} median of ${runs}, client CPU µs per delivery: ${systems.map((s) => `${short[s]} ${m[s]!.clientCpuMicrosPerDelivery.toFixed(2)}`).join(", ")} ` +
        `(${ratios((s) => m[s]?.clientCpuMicrosPerDelivery, all)})${missingNote}`,
    );
  }
  // Memory: what each server holds for the Memory case's messages (~200 bytes of data each) spread over 100
  // coordinations, subjects or keys, one run each (RSS varies little between runs).
  const memory: Partial<Record<System, PeerMemoryResult>> = {};
  const messages = smoke ? 5000 : 1_000_000;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  for (const s of systems) {
    let m: PeerMemoryResult;
    if (s === "consort") {
      const c = options.consortMemory ?? (await measureMemory({ signals: messages, subscriptions: 0, ...(smoke && { settleMs: 100 }) }));
      m = { messages: c.signals, rssStartBytes: c.start.rssBytes, rssFilledBytes: c.filled.rssBytes, fillSeconds: c.fillSeconds };
    } else {
      m = await withSystem(s, [], async (addr, pid) => {
        const rssStartBytes = rssBytes(pid);
        const out = JSON.parse(await runGo(["-mode", "peer-memory", "-system", s, "-addr", addr, "-count", String(messages), "-coordinations", "100"], 600_000)) as { messages: number; seconds: number };
        await new Promise((r) => setTimeout(r, smoke ? 100 : 1000));
        return { messages: out.messages, rssStartBytes, rssFilledBytes: rssBytes(pid), fillSeconds: out.seconds };
      });
    }
    memory[s] = m;
    console.log(
      `Peers/memory ${short[s]}: RSS ${mib(m.rssStartBytes)} at start, ${mib(m.rssFilledBytes)} holding ${int(m.messages)} messages (${((m.rssFilledBytes - m.rssStartBytes) / m.messages).toFixed(0)} bytes each above the idle server; filled in ${m.fillSeconds.toFixed(1)} s)` +
        (s === "consort" && options.consortMemory !== undefined ? " (the Memory case of this run, after its fill)" : ""),
    );
  }
  console.log(
    `Peers/memory, RSS holding ${int(messages)} messages: ${systems.map((s) => `${short[s]} ${mib(memory[s]!.rssFilledBytes)}`).join(", ")} (${ratios((s) => memory[s]?.rssFilledBytes, all)})${missingNote}`,
  );
  return { missing, latency, floorLatency, fanout, memory, medians: { latency: latencyMedians, floorLatency: floorMedian, fanout: fanoutMedians } };
}
