import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { PublishRequestSchema, SignalService, SignalType, type SubscribeResponse } from "../gen/ts/consort/v1/signal_pb.js";
import { serviceClient } from "./clients.js";
import type { ServerProcess } from "./server-process.js";

/** Options of {@link measureFanout}. */
export interface FanoutOptions {
  /** Subscribers, spread over 4 channels. @default 100 */
  readonly subscribers?: number;
  /** Signals published. @default 5000 */
  readonly signals?: number;
  /** Publishes in flight. @default 32 */
  readonly window?: number;
}

/** Deliveries per second across all subscribers and server CPU per delivery. */
export interface FanoutResult {
  readonly deliveriesPerSecond: number;
  readonly serverCpuMicrosPerDelivery: number;
  readonly messagesPerDelivery: number;
  readonly seconds: number;
}

/**
 * Fan-out: one publisher (window of unary Publish calls in flight, ~200-byte payload) and N subscribers of the
 * same coordination in this (separate) process; time from the first publish until every subscriber has every
 * signal. Server CPU comes from /proc for the server process only.
 */
export async function measureFanout(server: ServerProcess, options: FanoutOptions = {}): Promise<FanoutResult> {
  const n = options.subscribers ?? 100;
  const total = options.signals ?? 5000;
  const window = options.window ?? 32;
  const addr = `127.0.0.1:${server.grpcPort}`;
  const channels = Array.from({ length: 4 }, (_, i) => serviceClient(SignalService, addr, { "grpc.channel_id": i }));
  const pub = serviceClient(SignalService, addr);
  const coordinationId = `fanout-${Date.now()}`;
  let messages = 0;
  let deliveries = 0;
  const streams: grpc.ClientReadableStream<SubscribeResponse>[] = [];
  const finished: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const ch = channels[i % channels.length]!;
    const s = ch["subscribe"]!.call(ch, { coordinationId, agentId: `agent-${i}` }) as grpc.ClientReadableStream<SubscribeResponse>;
    streams.push(s);
    let got = 0;
    finished.push(
      new Promise<void>((resolve, reject) => {
        s.on("data", (m: SubscribeResponse) => {
          if (m.signals.length === 0) return;
          messages++;
          got += m.signals.length;
          deliveries += m.signals.length;
          if (got === total) resolve();
        });
        s.on("error", (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? undefined : reject(e)));
      }),
    );
  }
  // Wait until every subscription is registered (first message).
  await Promise.all(streams.map((s) => new Promise((r) => s.once("data", r))));
  const payload = { agent_id: "model-generator", result_summary: "Generated 5 Pydantic models", quality_score: 0.95, execution_time_ms: 1234.5, success: true };
  const cpu0 = server.cpuMicros();
  const t0 = process.hrtime.bigint();
  let sent = 0;
  await new Promise<void>((resolve, reject) => {
    let inflight = 0;
    const pump = () => {
      while (inflight < window && sent < total) {
        inflight++;
        sent++;
        pub["publish"]!.call(pub, create(PublishRequestSchema, { coordinationId, type: SignalType.INTER_AGENT_MESSAGE, data: payload }), (err: Error | null) => {
          inflight--;
          if (err) reject(err);
          else if (sent === total && inflight === 0) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  await Promise.race([Promise.all(finished), new Promise((_, rej) => setTimeout(() => rej(new Error("fan-out timed out")), 60_000).unref())]);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = server.cpuMicros() - cpu0;
  streams.forEach((s) => s.cancel());
  [...channels, pub].forEach((c) => c.close());
  return { deliveriesPerSecond: deliveries / seconds, serverCpuMicrosPerDelivery: cpu / deliveries, messagesPerDelivery: messages / deliveries, seconds };
}
