import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as hdr from "hdr-histogram-js";
import { PublishRequestSchema, type PublishStreamResponse, SignalService, SignalType, type SubscribeResponse } from "../gen/ts/consort/v1/signal_pb.js";
import { serviceClient } from "./clients.js";
import type { ServerProcess } from "./server-process.js";

/** Options of {@link measureLatency}. */
export interface LatencyOptions {
  /** Signals per second. @default 1000 */
  readonly rate?: number;
  /** Signals measured (after a warm-up of rate/2). @default 5000 */
  readonly count?: number;
  /** Publish over one PublishStream call instead of unary Publish. @default false */
  readonly stream?: boolean;
}

/** Percentiles in milliseconds. */
export interface LatencyResult {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

/**
 * Publish → subscriber latency with a Node grpc-js client in a process of its own (a fresh child of this one, as
 * the Go and Python clients are: the benchmark's own heap, grown by the cases before, would otherwise add its
 * garbage collections to the client's): it publishes at a fixed rate (~200-byte payload; unary Publish, or with `stream` one PublishStream call
 * whose outcomes are checked but not timed) and subscribes on another channel; each signal's send time (hrtime) is
 * noted just before its publish, and receipt time minus send time is recorded in an HDR histogram. The publisher
 * sleeps until each signal is due, as the Go probe does.
 */
export function measureLatency(server: ServerProcess, options: LatencyOptions = {}): Promise<LatencyResult> {
  const args = [thisFile, "--client", `127.0.0.1:${server.grpcPort}`, JSON.stringify(options)];
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { encoding: "utf8", timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`bench/latency.js --client: ${err.message}${stderr === "" ? "" : `: ${stderr.trim()}`}`)) : resolve(JSON.parse(stdout) as LatencyResult),
    ),
  );
}

const thisFile = fileURLToPath(import.meta.url);

/** The client process's work: {@link measureLatency} against `addr`. */
async function measureAt(addr: string, options: LatencyOptions): Promise<LatencyResult> {
  const rate = options.rate ?? 1000;
  const count = options.count ?? 5000;
  const warmup = Math.floor(rate / 2);
  const pub = serviceClient(SignalService, addr);
  const sub = serviceClient(SignalService, addr);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const coordinationId = `latency-${Date.now()}`;
  const sentAt = new Map<number, bigint>();
  let received = 0;
  const total = warmup + count;

  const stream = sub["subscribe"]!.call(sub, { coordinationId, agentId: "bench" }) as grpc.ClientReadableStream<SubscribeResponse>;
  const done = new Promise<void>((resolve, reject) => {
    stream.on("data", (msg: SubscribeResponse) => {
      const now = process.hrtime.bigint();
      for (const s of msg.signals) {
        const seq = Number(s.sequence);
        const t = sentAt.get(seq);
        sentAt.delete(seq);
        if (t !== undefined && seq > warmup) histogram.recordValue(Number(now - t) / 1000);
        if (++received === total) resolve();
      }
    });
    stream.on("error", (e: grpc.ServiceError) => {
      if (e.code !== grpc.status.CANCELLED) reject(e);
    });
  });
  await new Promise<void>((resolve) => stream.once("data", () => resolve()));

  // Outcomes are read (every one must be an ack) but not timed: the subscriber's receipt is.
  const publisher = options.stream === true ? (pub["publishStream"]!.call(pub) as grpc.ClientDuplexStream<object, PublishStreamResponse>) : undefined;
  publisher?.on("data", (res: PublishStreamResponse) => {
    for (const o of res.outcomes) if (o.outcome.case !== "ack") throw new Error(`publish refused: ${JSON.stringify(o.outcome.value)}`);
  });
  publisher?.on("error", (e: grpc.ServiceError) => {
    if (e.code !== grpc.status.CANCELLED) throw e;
  });
  const payload = { agent_id: "model-generator", result_summary: "Generated 5 Pydantic models", quality_score: 0.95, execution_time_ms: 1234.5, success: true };
  const intervalNs = BigInt(Math.round(1e9 / rate));
  const start = process.hrtime.bigint();
  for (let i = 1; i <= total; i++) {
    const due = start + BigInt(i - 1) * intervalNs;
    // Sleep until due, as the Go probe does (a timer, ≥ 1 ms in Node: a signal due sooner waits for the next tick
    // or goes out with the one before). Spinning on setImmediate instead made ~20 garbage collections a second in
    // this process, up to 13 ms each, and they were measured as latency.
    const waitMs = Number(due - process.hrtime.bigint()) / 1e6;
    if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
    sentAt.set(i, process.hrtime.bigint());
    const req = create(PublishRequestSchema, { coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "bench", data: payload });
    if (publisher !== undefined) publisher.write({ publish: req });
    else {
      pub["publish"]!.call(pub, req, (err: Error | null) => {
        if (err) throw err;
      });
    }
  }
  publisher?.end();
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out waiting for signals")), 30_000).unref())]);
  stream.cancel();
  pub.close();
  sub.close();
  const ms = (p: number) => histogram.getValueAtPercentile(p) / 1000;
  return { p50: ms(50), p90: ms(90), p99: ms(99), max: histogram.maxValue / 1000, count: histogram.totalCount };
}

if (process.argv[1] === thisFile && process.argv[2] === "--client") {
  const result = await measureAt(process.argv[3]!, JSON.parse(process.argv[4]!) as LatencyOptions);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
