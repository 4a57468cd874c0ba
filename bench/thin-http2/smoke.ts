/**
 * A smoke check of the thin-http2 measurement prototype (./server.ts) with a grpc-js client and raw HTTP/2, so its
 * numbers are those of a server that does the work: signals published over PublishStream reach a subscriber and
 * are acknowledged; a refused Subscribe ends INVALID_ARGUMENT with its ErrorInfo in `grpc-status-details-bin`; a
 * cancelled or timed-out Subscribe unregisters its subscription; shutdown ends a subscriber UNAVAILABLE
 * (SHUTTING_DOWN); other methods are UNIMPLEMENTED; a compressed or oversized message is refused. Not the interop
 * suite an adoption would need (grpc-go, grpcio, grpc-js; keepalive, graceful GOAWAY, metadata, …).
 *
 *   npm run build && node dist/bench/thin-http2/smoke.js [--pull after-write]
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { loadConfig } from "../../src/config.js";
import { grpcServiceDefinition } from "../../src/transport/grpc.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { PublishStreamRequestSchema, SignalService, SignalType, type PublishStreamResponse, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { startThinServer } from "./server.js";

const pull = process.argv.includes("after-write") ? "after-write" : "eager";
console.log(`--pull ${pull}`);
const thin = await startThinServer(loadConfig(["--grpc-port", "0", "--log-level", "silent", "--max-message-bytes", "1048576"]), pull);
const addr = `127.0.0.1:${thin.port}`;
const Client = grpc.makeGenericClientConstructor(grpcServiceDefinition(SignalService), "SignalService");
const client = new Client(addr, grpc.credentials.createInsecure()) as unknown as Record<string, (...a: unknown[]) => grpc.ClientReadableStream<unknown> & grpc.ClientDuplexStream<unknown, unknown>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const subs = (coord: string) => thin.signals.metrics(coord).activeSubscriptions;
const ended = (call: grpc.ClientReadableStream<unknown>) =>
  new Promise<grpc.StatusObject>((resolve) => {
    call.on("error", () => {});
    call.on("data", () => {});
    call.on("status", resolve);
  });

// 1. PublishStream → Subscribe.
{
  const coord = "smoke-1";
  const sub = client["subscribe"]!({ coordinationId: coord, agentId: "a" });
  const got: bigint[] = [];
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => (subscribed = r));
  sub.on("data", (m: SubscribeResponse) => {
    if (m.subscribed !== undefined) subscribed();
    for (const s of m.signals) got.push(s.sequence);
  });
  sub.on("error", () => {});
  await ready;
  const pub = client["publishStream"]!();
  const acks: bigint[] = [];
  pub.on("data", (m: PublishStreamResponse) => {
    for (const o of m.outcomes) if (o.outcome.case === "ack") acks.push(o.outcome.value.sequence);
  });
  for (let i = 0; i < 100; i++) pub.write({ publish: { coordinationId: coord, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "s", data: { i } } });
  pub.end();
  const st = await new Promise<grpc.StatusObject>((r) => pub.on("status", r));
  assert.equal(st.code, grpc.status.OK);
  assert.equal(acks.length, 100);
  while (got.length < 100) await sleep(10);
  assert.deepEqual(got, acks);
  assert.equal(subs(coord), 1);
  sub.cancel();
  await sleep(100);
  assert.equal(subs(coord), 0, "a cancelled Subscribe unregisters");
  // A refused request inside the stream is answered in-band, the stream goes on.
  const pub2 = client["publishStream"]!();
  const outcomes: string[] = [];
  pub2.on("data", (m: PublishStreamResponse) => outcomes.push(...m.outcomes.map((o) => o.outcome.case ?? "")));
  pub2.write({ publish: { coordinationId: "", type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "s" } });
  pub2.write({ publish: { coordinationId: coord, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "s" } });
  pub2.end();
  assert.equal((await new Promise<grpc.StatusObject>((r) => pub2.on("status", r))).code, grpc.status.OK);
  assert.deepEqual(outcomes, ["error", "ack"]);
  console.log("ok: PublishStream → Subscribe, acks in order, in-band refusal, cancel unregisters");
}

// 2. A refused Subscribe: INVALID_ARGUMENT with google.rpc.Status (ErrorInfo) in the trailers.
{
  const st = await ended(client["subscribe"]!({ coordinationId: "smoke-2", agentId: "a", heartbeatInterval: { seconds: 0n, nanos: 1_000_000 } }));
  assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
  const details = st.metadata.get("grpc-status-details-bin")[0] as Buffer;
  const status = fromBinary(StatusSchema, details);
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
  assert.ok(status.details.some((a) => a.typeUrl.endsWith(ErrorInfoSchema.typeName)));
  console.log(`ok: refused Subscribe: ${grpc.status[st.code]} "${st.details}" with ${status.details.length} details`);
}

// 3. A deadline ends the subscription.
{
  const coord = "smoke-3";
  const call = client["subscribe"]!({ coordinationId: coord, agentId: "a" }, { deadline: Date.now() + 300 });
  const st = await ended(call);
  assert.equal(st.code, grpc.status.DEADLINE_EXCEEDED);
  await sleep(50);
  assert.equal(subs(coord), 0, "a timed-out Subscribe unregisters");
  console.log("ok: deadline → DEADLINE_EXCEEDED, unregistered");
}

// 4. Other methods: UNIMPLEMENTED.
{
  const st = await new Promise<grpc.ServiceError | null>((r) =>
    (client["publish"] as unknown as (req: unknown, cb: (e: grpc.ServiceError | null) => void) => void)({ coordinationId: "x", type: 1, senderAgentId: "s" }, r),
  );
  assert.equal(st?.code, grpc.status.UNIMPLEMENTED);
  console.log("ok: Publish → UNIMPLEMENTED");
}

// 5. Raw HTTP/2: a compressed message → INTERNAL; an oversized one → RESOURCE_EXHAUSTED.
async function raw(body: Buffer): Promise<Record<string, unknown>> {
  const session = http2.connect(`http://${addr}`);
  const req = session.request({ ":method": "POST", ":path": "/consort.v1.SignalService/PublishStream", "content-type": "application/grpc", te: "trailers" });
  const all: Record<string, unknown> = {};
  req.on("response", (h) => Object.assign(all, h));
  req.on("trailers", (h) => Object.assign(all, h));
  req.on("data", () => {});
  req.end(body);
  await new Promise((r) => req.on("close", r));
  session.close();
  return all;
}
{
  const msg = toBinary(PublishStreamRequestSchema, create(PublishStreamRequestSchema, { publish: { coordinationId: "smoke-5", type: 1, senderAgentId: "s" } }));
  const compressed = Buffer.concat([Buffer.from([1, 0, 0, 0, msg.length]), msg]);
  assert.equal((await raw(compressed))["grpc-status"], String(grpc.status.INTERNAL));
  const big = Buffer.alloc(5);
  big.writeUInt32BE((1 << 20) + 1, 1);
  assert.equal((await raw(big))["grpc-status"], String(grpc.status.RESOURCE_EXHAUSTED));
  console.log("ok: compressed → INTERNAL, oversized → RESOURCE_EXHAUSTED");
}

// 6. Shutdown: a subscriber ends UNAVAILABLE (SHUTTING_DOWN, with its resume point).
{
  const call = client["subscribe"]!({ coordinationId: "smoke-6", agentId: "a" });
  const st = ended(call);
  await sleep(100);
  await thin.close(2000);
  const s = await st;
  assert.equal(s.code, grpc.status.UNAVAILABLE);
  assert.match(s.details, /shutting down/);
  console.log(`ok: shutdown → ${grpc.status[s.code]} "${s.details}"`);
}
(client as unknown as grpc.Client).close();
