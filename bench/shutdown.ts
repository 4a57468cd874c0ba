import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { fromBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { SignalService, SignalType, type PublishResponse, type SubscribeResponse } from "../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../gen/ts/google/rpc/status_pb.js";
import { serviceClient } from "./clients.js";
import { startServerProcess } from "./server-process.js";

/** What one SIGTERM under load left behind. */
export interface ShutdownResult {
  readonly subscribers: number;
  /** Streams that ended UNAVAILABLE SHUTTING_DOWN with `last_delivered_sequence` = the last signal they received. */
  readonly endedWithResumePoint: number;
  /** Every other ending, as "CODE reason" → count (a stream that ended without any status counts as "no status"). */
  readonly otherEndings: Readonly<Record<string, number>>;
  /** Publishes acknowledged before the shutdown refused them. */
  readonly acknowledged: number;
  /** Σ over subscribers of acknowledged signals the subscriber never received. */
  readonly undelivered: number;
  /** SIGTERM → process exit. */
  readonly exitMs: number;
}

/**
 * SIGTERM under load: `subscribers` subscribers of one coordination (4 grpc-js channels) while publishes arrive at
 * ~`rate`/s (~200-byte payload, their own channel); after `loadMs` the server process gets SIGTERM. Counts how each
 * stream ended and how many acknowledged signals some subscriber never received.
 */
export async function measureShutdown(options: { subscribers?: number; rate?: number; loadMs?: number } = {}): Promise<ShutdownResult> {
  const n = options.subscribers ?? 100;
  const rate = options.rate ?? 4000;
  // Subscribers are given a buffer that holds the whole run: the shutdown, not the lag cut-off, ends their streams,
  // with all the backlog a flat-out load leaves to flush.
  const server = await startServerProcess(["--subscriber-buffer", "100000"]);
  const addr = `127.0.0.1:${server.grpcPort}`;
  const channels = Array.from({ length: 4 }, (_, i) => serviceClient(SignalService, addr, { "grpc.channel_id": i }));
  const pub = serviceClient(SignalService, addr, { "grpc.channel_id": 99 });
  const coordinationId = `shutdown-${Date.now()}`;
  const received: Set<bigint>[] = [];
  const endings: Promise<string>[] = [];
  const registered: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const ch = channels[i % channels.length]!;
    const got = new Set<bigint>();
    let last = 0n;
    received.push(got);
    const s = ch["subscribe"]!.call(ch, { coordinationId, agentId: `agent-${i}` }) as grpc.ClientReadableStream<SubscribeResponse>;
    registered.push(new Promise((resolve) => s.once("data", resolve))); // `subscribed`
    endings.push(
      new Promise<string>((resolve) => {
        s.on("data", (m: SubscribeResponse) => {
          for (const sig of m.signals) {
            got.add(sig.sequence);
            last = sig.sequence;
          }
        });
        s.on("error", (err: grpc.ServiceError) => {
          const bin = err.metadata?.get("grpc-status-details-bin")[0];
          const details = bin === undefined ? [] : fromBinary(StatusSchema, bin as Buffer).details;
          const info = details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((x) => x !== undefined);
          const ok = err.code === grpc.status.UNAVAILABLE && info?.reason === "SHUTTING_DOWN" && info.metadata["last_delivered_sequence"] === String(last);
          resolve(ok ? "ok" : `${grpc.status[err.code]} ${info?.reason ?? ""} ${info?.metadata["last_delivered_sequence"] ?? ""}/${last}`);
        });
        s.on("end", () => resolve("no status"));
      }),
    );
  }
  // Every subscriber registered (its `subscribed` read) before the first publish: it must receive them all.
  await Promise.all(registered);
  const acked: bigint[] = [];
  let refused = false;
  const perTick = Math.max(1, Math.round(rate / 1000));
  const ticker = setInterval(() => {
    for (let k = 0; k < perTick && !refused; k++) {
      pub["publish"]!.call(pub, { coordinationId, type: SignalType.INTER_AGENT_MESSAGE, data: { blob: "x".repeat(180) } }, (err: grpc.ServiceError | null, res?: PublishResponse) => {
        if (err !== null) refused = true;
        else acked.push(res!.signal!.sequence);
      });
    }
  }, 1);
  await new Promise((r) => setTimeout(r, options.loadMs ?? 2000));
  const t0 = performance.now();
  const exited = new Promise<number>((resolve) => server.child.once("exit", () => resolve(performance.now() - t0)));
  server.child.kill("SIGTERM");
  const outcomes = await Promise.all(endings);
  const exitMs = await exited;
  clearInterval(ticker);
  for (const c of [...channels, pub]) c.close();
  const otherEndings: Record<string, number> = {};
  for (const o of outcomes) if (o !== "ok") otherEndings[o] = (otherEndings[o] ?? 0) + 1;
  let undelivered = 0;
  for (const got of received) for (const q of acked) if (!got.has(q)) undelivered++;
  return { subscribers: n, endedWithResumePoint: outcomes.filter((o) => o === "ok").length, otherEndings, acknowledged: acked.length, undelivered, exitMs };
}

/** Prints the Shutdown case over `runs` fresh servers, with {@link measureShutdown}'s options. */
export async function runShutdownBench(runs: number, options: Parameters<typeof measureShutdown>[0] = {}): Promise<ShutdownResult[]> {
  const results: ShutdownResult[] = [];
  for (let r = 0; r < runs; r++) {
    const m = await measureShutdown(options);
    results.push(m);
    const others = Object.entries(m.otherEndings).map(([k, v]) => `${v}× ${k}`).join(", ");
    console.log(
      `Shutdown/sigterm-100 run ${r + 1}: ${m.endedWithResumePoint}/${m.subscribers} streams ended UNAVAILABLE SHUTTING_DOWN with their resume point${others === "" ? "" : ` (others: ${others})`}, ` +
        `${m.undelivered} acknowledged signals undelivered (${m.acknowledged} acknowledged × ${m.subscribers} subscribers), exit ${m.exitMs.toFixed(0)} ms after SIGTERM`,
    );
  }
  return results;
}
