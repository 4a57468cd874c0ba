import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ContextService, SharedIntelligencePart } from "../../gen/ts/consort/v1/context_pb.js";
import { CoordinationService } from "../../gen/ts/consort/v1/coordination_pb.js";
import { PublishStreamRequestSchema, PublishStreamResponseSchema, SignalService, SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import { grpcServiceDefinition } from "../../src/transport/grpc.js";
import { startServer, type Server } from "../examples/server.js";

/**
 * A reader that stops reading (a paused grpc-js client, its flow-control window full) while large messages keep
 * coming is cut when it falls behind its buffer, and when it reads again it gets what was in flight and then the
 * status, with the point to resume from: never a stream left open with nothing coming. The server runs in its own
 * process, as users run it.
 */

type Untyped = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
const clientOf = (s: Server, service: typeof SignalService | typeof ContextService, channel: number): Untyped => {
  const Ctor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service), service.typeName);
  return new Ctor(s.grpcAddress, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.channel_id": channel }) as never;
};
const unary = <T>(c: Untyped, method: string, req: object) =>
  new Promise<T>((resolve, reject) => c[method]!.call(c, req, (e: grpc.ServiceError | null, r: T) => (e ? reject(e) : resolve(r))));

/** Pauses `stream` until `load` is done, then reads it to its end: what it received and how it ended. */
async function pausedThenRead<T>(stream: grpc.ClientReadableStream<T>, load: () => Promise<void>) {
  const received: T[] = [];
  const ended = new Promise<grpc.ServiceError | "no status">((resolve) => {
    stream.on("error", resolve);
    stream.on("end", () => resolve("no status"));
  });
  stream.on("data", (m: T) => received.push(m));
  stream.pause();
  await load();
  stream.resume();
  const end = await Promise.race([ended, new Promise<"stuck">((r) => setTimeout(() => r("stuck"), 10_000))]);
  stream.cancel();
  if (typeof end === "string") throw new Error(`the stream ended with ${end} after ${received.length} messages`);
  const bin = end.metadata.get("grpc-status-details-bin")[0] as Buffer | undefined;
  const info = bin === undefined ? undefined : fromBinary(StatusSchema, bin).details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((x) => x !== undefined);
  return { received, code: end.code, info };
}

describe("a reader that stops reading, in its own server process", () => {
  it("Subscribe: cut SUBSCRIBER_LAGGING; after reading again it has every signal up to its resume point, then the status", async () => {
    const server = await startServer(["--subscriber-buffer", "3"]);
    const sub = clientOf(server, SignalService, 1);
    const pub = clientOf(server, SignalService, 2);
    try {
      const stream = sub["subscribe"]!.call(sub, { coordinationId: "c", agentId: "a" }) as grpc.ClientReadableStream<{ signals: { sequence: string }[] }>;
      await new Promise<void>((r) => stream.once("data", () => r())); // subscribed
      const r = await pausedThenRead(stream, async () => {
        for (let i = 0; i < 300; i++) await unary(pub, "publish", { coordinationId: "c", type: SignalType.INTER_AGENT_MESSAGE, data: { blob: "b".repeat(60_000) } });
      });
      expect(r.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(r.info?.reason).toBe("SUBSCRIBER_LAGGING");
      const sequences = r.received.flatMap((m) => m.signals.map((s) => Number(s.sequence)));
      expect(sequences.length).toBeGreaterThan(0);
      expect(sequences.length).toBeLessThan(300); // cut, not delivered whole by buffering without bound
      expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 1));
      expect(r.info?.metadata["last_delivered_sequence"]).toBe(String(sequences.length));
    } finally {
      sub.close();
      pub.close();
      await server.stop();
    }
  }, 60_000);

  it("WatchAgentContext: cut WATCHER_LAGGING; after reading again it has the changes up to its resume point, then the status", async () => {
    const server = await startServer(["--subscriber-buffer", "3"]);
    const watch = clientOf(server, ContextService, 1);
    const ctl = clientOf(server, ContextService, 2);
    try {
      const coordinationId = "c";
      await unary(ctl, "distributeContext", { coordinationId, sessionId: "s", assignments: [{ agentId: "a", objective: "o".repeat(16_000) }] });
      const stream = watch["watchAgentContext"]!.call(watch, { coordinationId, agentId: "a" }) as grpc.ClientReadableStream<{ revision: string }>;
      const r = await pausedThenRead(stream, async () => {
        for (let i = 0; i < 200; i++) await unary(ctl, "updateSharedIntelligence", { coordinationId, updateType: SharedIntelligencePart.TYPE_REGISTRY, updateData: { i } });
      });
      expect(r.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(r.info?.reason).toBe("WATCHER_LAGGING");
      const revisions = r.received.map((m) => Number(m.revision));
      expect(revisions.length).toBeLessThan(201);
      // The first message is the context as of the watch's registration (updates may have landed before it), then
      // every change, one revision at a time.
      const first = revisions[0] ?? 0;
      expect(revisions).toEqual(Array.from({ length: revisions.length }, (_, i) => first + i));
      expect(r.info?.metadata["last_revision"]).toBe(String(revisions[revisions.length - 1]));
    } finally {
      watch.close();
      ctl.close();
      await server.stop();
    }
  }, 60_000);
});

describe("DeleteCoordination with a watcher that stopped reading, in its own server process", () => {
  it("ends the watch on the server at once, its window full: the watch is released without the client reading", async () => {
    const server = await startServer([]);
    const watch = clientOf(server, ContextService, 1);
    const ctl = clientOf(server, ContextService, 2);
    const Coordinations = grpc.makeGenericClientConstructor(grpcServiceDefinition(CoordinationService), CoordinationService.typeName);
    const admin = new Coordinations(server.grpcAddress, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 }) as Untyped;
    const watchers = async () => {
      const text = await (await fetch(`http://${server.httpAddress}/metrics`)).text();
      return Number(/^consort_active_context_watchers (\S+)/m.exec(text)?.[1]);
    };
    try {
      const coordinationId = "deleted-while-paused";
      await unary(ctl, "distributeContext", { coordinationId, sessionId: "s", assignments: [{ agentId: "a", objective: "o".repeat(16_000) }] });
      const stream = watch["watchAgentContext"]!.call(watch, { coordinationId, agentId: "a" }) as grpc.ClientReadableStream<unknown>;
      const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
        stream.on("error", resolve);
        stream.on("end", () => resolve(undefined));
      });
      await new Promise<void>((r) => stream.once("data", () => r()));
      stream.pause();
      // ~16 KB per change: 40 changes fill the client's window and the server's buffers, under the 1,000-change cut.
      for (let i = 0; i < 40; i++) await unary(ctl, "updateSharedIntelligence", { coordinationId, updateType: SharedIntelligencePart.TYPE_REGISTRY, updateData: { i } });
      expect(await watchers()).toBe(1);
      await unary(admin, "deleteCoordination", { coordinationId });
      let open = 1;
      for (let i = 0; i < 50 && open !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        open = await watchers();
      }
      expect(open).toBe(0);
      stream.resume();
      const err = await ended;
      expect(err?.code).toBe(grpc.status.ABORTED);
    } finally {
      watch.close();
      ctl.close();
      admin.close();
      await server.stop();
    }
  }, 60_000);
});

describe("a PublishStream client that stops reading its outcomes, in its own server process", () => {
  it("is read no further: the server applies a bounded number of its requests, then every one once it reads again", async () => {
    const server = await startServer([]);
    // Raw bytes both ways: the client's own per-message work stays small next to the server's.
    const pub = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    const probe = clientOf(server, SignalService, 2);
    const head = async () => Number((await unary<{ headSequence: string }>(probe, "getSignalMetrics", { coordinationId: "fc" })).headSequence);
    try {
      const pass = (b: Buffer) => b;
      const call = pub.makeBidiStreamRequest("/consort.v1.SignalService/PublishStream", pass, pass);
      const acked: number[] = [];
      const ended = new Promise<unknown>((resolve) => {
        call.on("end", () => resolve(undefined));
        call.on("error", resolve);
      });
      call.on("data", (bytes: Buffer) => {
        for (const o of fromBinary(PublishStreamResponseSchema, bytes).outcomes) acked.push(o.outcome.case === "ack" ? Number(o.outcome.value.sequence) : -1);
      });
      call.pause();
      const total = 60_000;
      let written = 0;
      const writing = (async () => {
        const req = Buffer.from(toBinary(PublishStreamRequestSchema, create(PublishStreamRequestSchema, { publish: { coordinationId: "fc", type: SignalType.INTER_AGENT_MESSAGE } })));
        for (; written < total; written++) if (!call.write(req)) await new Promise((r) => call.once("drain", r));
        call.end();
      })();
      // Until the server stops applying requests: its outcomes fill what the client holds, and it reads no more.
      let applied = -1;
      for (let i = 0; i < 200; i++) {
        await new Promise((r) => setTimeout(r, 300));
        const h = await head();
        if (h === applied) break;
        applied = h;
      }
      expect(applied).toBeGreaterThan(0);
      // What a paused client and the server hold: grpc-js buffers 16 response messages in the client and up to 16 in
      // the server's stream (up to 1,024 outcomes each; ~800 requests in all on an idle machine, ~10,000 on a loaded
      // one, whose turns batch more), the 64 KiB HTTP/2 window, one response in writing and one being batched: at
      // most ~35,500 of the 60,000 sent.
      expect(applied).toBeLessThan(40_000);
      expect(acked).toEqual([]);
      call.resume();
      await writing;
      expect(await ended).toBeUndefined();
      expect(acked).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(await head()).toBe(total);
    } finally {
      pub.close();
      probe.close();
      await server.stop();
    }
  }, 120_000);
});
