/**
 * MEASUREMENT PROTOTYPE — Consort's own per-signal work with **no transport at all**: the real SignalService
 * handlers (`publishStream`, `subscribe`), composed as ./server.ts composes them (as src/app.ts does), driven in one
 * process the way the Go fan-out client drives a server: one PublishStream with at most 32 requests
 * unacknowledged (each request decoded from the bytes the Go client sends, by the hand-written decoder), N
 * Subscribe streams pulled as fast as they yield, each response's `encodedOf` bytes taken (not framed, not sent).
 * What is left per signal is the handlers, the engine, the codecs, the metrics hooks and the promise machinery
 * that connects them: the floor any transport adds to.
 *
 * With `--pull per-turn` each Subscribe stream pulls its next response one event-loop turn after the last (as
 * the thin server's `--pull after-write` does, its write callback coming a turn later), so signals gather between
 * pulls; by default (`eager`) it pulls at once.
 *
 *   node dist/bench/thin-http2/in-process.js [--subscribers 1,10,100] [--messages 200000] [--rounds 3] [--pull per-turn]
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { createContextValues, createHandlerContext, type HandlerContext } from "@connectrpc/connect";
import { interruptKey } from "../../src/binding/call-context.js";
import { encodedOf } from "../../src/binding/pre-encoded.js";
import { loadConfig } from "../../src/config.js";
import { decodePublishStreamRequest } from "../../src/service/publish-codec.js";
import { PublishStreamRequestSchema, SignalService, SignalType, SubscribeRequestSchema } from "../../gen/ts/consort/v1/signal_pb.js";
import { composeSignalService } from "./server.js";
import { readFileSync } from "node:fs";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const window = 32;
const perTurn = arg("--pull") === "per-turn";

function context(method: "publishStream" | "subscribe", abort: AbortController): HandlerContext {
  const m = SignalService.method[method];
  const values = createContextValues();
  values.set(interruptKey, () => {});
  return createHandlerContext({
    service: SignalService,
    method: m,
    protocolName: "grpc",
    requestMethod: "POST",
    url: `http://localhost/consort.v1.SignalService/${m.name}`,
    requestSignal: abort.signal,
    requestHeader: { "content-type": "application/grpc" },
    contextValues: values,
  });
}

/**
 * Elements of repeated field 1 in a response's bytes, read as a transport sees them (no message built):
 * SubscribeResponse.signals (0 for `subscribed` and heartbeats), PublishStreamResponse.outcomes.
 */
function fieldOnes(bytes: Uint8Array): number {
  let n = 0;
  let pos = 0;
  while (pos < bytes.length) {
    const tag = bytes[pos++]!;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++]!;
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    if (tag === 10) n++;
    pos += len;
  }
  return n;
}

async function run(n: number, messages: number): Promise<{ signalsPerSecond: number; deliveriesPerSecond: number; cpuUsPerSignal: number; cpuUsPerDelivery: number; responsesPerDelivery: number }> {
  const { impl } = composeSignalService(loadConfig(["--log-level", "warn", "--subscriber-buffer", "1000000"]));
  const coord = `in-process-${n}-${Date.now()}`;
  const svc = impl as unknown as {
    publishStream(req: AsyncIterable<unknown>, ctx: HandlerContext): AsyncIterable<unknown>;
    subscribe(req: unknown, ctx: HandlerContext): AsyncIterable<unknown>;
  };
  // The Go client's request, as bytes (the same Struct payload), decoded per request as a transport would.
  const request = toBinary(
    PublishStreamRequestSchema,
    create(PublishStreamRequestSchema, {
      publish: {
        coordinationId: coord,
        type: SignalType.INTER_AGENT_MESSAGE,
        senderAgentId: "bench",
        data: { agent_id: "model-generator", result_summary: "Generated 5 Pydantic models", quality_score: 0.95, execution_time_ms: 1234.5, success: true },
      },
    }),
  );
  const aborts: AbortController[] = [];
  let delivered = 0;
  let responses = 0;
  const target = n * messages;
  let done!: () => void;
  const allDelivered = new Promise<void>((r) => (done = r));
  const subscribed: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const abort = new AbortController();
    aborts.push(abort);
    const it = svc.subscribe(create(SubscribeRequestSchema, { coordinationId: coord, agentId: `agent-${i}` }), context("subscribe", abort))[Symbol.asyncIterator]();
    subscribed.push(
      it.next().then(() => {
        void (async () => {
          for (;;) {
            // per-turn: the next response is pulled in the next event-loop turn, as a transport that waits for
            // each write to complete does (the thin server's --pull after-write, a write callback a turn later).
            if (perTurn) await new Promise<void>((resolve) => setImmediate(resolve));
            const r = await it.next();
            if (r.done === true) return;
            const k = fieldOnes(encodedOf(r.value)!);
            responses++;
            delivered += k;
            if (delivered === target) done();
          }
        })();
      }),
    );
  }
  await Promise.all(subscribed);
  // The publisher: a request whenever fewer than `window` are unacknowledged.
  let sent = 0;
  let acked = 0;
  let credit: (() => void) | undefined;
  async function* requests(): AsyncGenerator<unknown> {
    while (sent < messages) {
      while (sent - acked >= window) await new Promise<void>((r) => (credit = r));
      sent++;
      yield decodePublishStreamRequest(request);
    }
  }
  const pubAbort = new AbortController();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const pub = (async () => {
    for await (const res of svc.publishStream(requests(), context("publishStream", pubAbort))) {
      const outcomes = fieldOnes(encodedOf(res)!); // PublishStreamResponse.outcomes is field 1 too
      acked += outcomes;
      const c = credit;
      credit = undefined;
      c?.();
      if (acked === messages) break;
    }
  })();
  await Promise.all([pub, allDelivered]);
  const seconds = (performance.now() - t0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  for (const a of [...aborts, pubAbort]) a.abort();
  const cpuUs = cpu.user + cpu.system;
  return {
    signalsPerSecond: messages / seconds,
    deliveriesPerSecond: target / seconds,
    cpuUsPerSignal: cpuUs / messages,
    cpuUsPerDelivery: cpuUs / target,
    responsesPerDelivery: responses / target,
  };
}

const counts = (arg("--subscribers") ?? "1,10,100").split(",").map(Number);
const messages = Number(arg("--messages") ?? 200_000);
const rounds = Number(arg("--rounds") ?? 3);
const json = process.argv.includes("--json");
if (!json) console.log(`load at start: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
await run(1, 20_000); // JIT warm-up
for (let r = 0; r < rounds; r++) {
  for (const n of counts) {
    const res = await run(n, Math.max(2000, Math.round(messages / n)));
    if (json) {
      // The shape bench/go prints, for bench/thin-http2/compare.ts.
      console.log(JSON.stringify({ subscribers: n, deliveries_per_second: res.deliveriesPerSecond, server_cpu_us_per_delivery: res.cpuUsPerDelivery, client_cpu_us_per_delivery: 0, reads_per_delivery: res.responsesPerDelivery, messages: Math.max(2000, Math.round(messages / n)), seconds: Math.max(2000, Math.round(messages / n)) / res.signalsPerSecond, publish_seconds: 0 }));
      continue;
    }
    console.log(
      `in-process round ${r + 1} N=${n}: ${Math.round(res.deliveriesPerSecond).toLocaleString("en-US")} deliveries/s (${Math.round(res.signalsPerSecond).toLocaleString("en-US")} signals/s), ` +
        `${res.cpuUsPerDelivery.toFixed(2)} µs CPU per delivery (${res.cpuUsPerSignal.toFixed(2)} per signal), ${res.responsesPerDelivery.toFixed(3)} Subscribe responses per delivery`,
    );
  }
}
if (!json) console.log(`load at end: ${readFileSync("/proc/loadavg", "utf8").trim()}`);
process.exit(0);
