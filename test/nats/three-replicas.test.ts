import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoordinationService } from "../../gen/ts/consort/v1/coordination_pb.js";
import { SignalService, SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startServer, type Server } from "../examples/server.js";
import { until } from "./fixture.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";

/**
 * Three Consort replicas — the built server, each its own process, as users deploy them — on one throwaway
 * nats-server (issue 12's tests): a subscriber whose replica is killed (SIGKILL, no drain) resumes on a survivor
 * with zero loss and zero duplicates; three replicas publishing concurrently to one coordination give 1..N
 * without gap; DeleteCoordination on one ends the streams on the other two.
 */

let nats: NatsServer;
let replicas: Server[] = [];
let n = 0;
const cid = () => `three-${process.pid}-${++n}`;

/** Three running replicas: a test that killed one has a new one started in its place. */
async function threeLive(): Promise<[Server, Server, Server]> {
  replicas = replicas.filter((r) => !r.killed);
  while (replicas.length < 3) replicas.push(await startServer(["--backend", nats.url]));
  return replicas as [Server, Server, Server];
}

/** Promise clients of one replica's gRPC port; each has its own HTTP/2 connection. */
function clientsOf(s: Server) {
  const transport = createGrpcTransport({ baseUrl: `http://${s.grpcAddress}` });
  return { signals: createClient(SignalService, transport), coordinations: createClient(CoordinationService, transport) };
}

beforeAll(async () => {
  nats = await startNatsServer();
  replicas = await Promise.all([0, 1, 2].map(() => startServer(["--backend", nats.url])));
}, 60_000);
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await nats?.stop();
});

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];
const oneTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1);

/** Reads a Subscribe in the background: the signals' sequences in arrival order, the epoch, and how it ended. */
function drain(stream: AsyncIterable<SubscribeResponse>) {
  const sequences: number[] = [];
  let epoch = "";
  const ended = (async () => {
    try {
      for await (const r of stream) {
        if (r.subscribed !== undefined) epoch = r.subscribed.epoch;
        for (const s of r.signals) sequences.push(Number(s.sequence));
      }
      return undefined;
    } catch (e) {
      return ConnectError.from(e);
    }
  })();
  return { sequences, ended, epoch: () => epoch };
}

describe("three replicas, each a process, on one NATS JetStream", () => {
  it("a subscriber whose replica is killed mid-stream resumes on a survivor with zero loss and zero duplicates", async () => {
    const [a, b, c] = await threeLive();
    const coordinationId = cid();
    const total = 300;
    const pub = clientsOf(a).signals;
    const first = drain(clientsOf(b).signals.subscribe({ coordinationId, agentId: "watcher", observer: true, afterSequence: 0n }));
    // The publisher keeps going, one signal after the other, while the subscriber's replica dies.
    const publishing = (async () => {
      for (let i = 1; i <= total; i++) {
        const r = await pub.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "writer", data: { i } });
        expect(r.signal?.sequence).toBe(BigInt(i));
      }
    })();
    await until(() => first.sequences.length >= 100, "100 signals on B", 20_000);
    await b.kill();
    const err = await first.ended;
    expect(err).toBeDefined(); // the stream broke: its replica is gone
    const received = [...first.sequences];
    expect(received.length).toBeLessThan(total); // killed mid-stream, not after the end
    const epoch = first.epoch();
    expect(epoch).not.toBe("");
    // The client resumes on a survivor from the last sequence it holds, in the same epoch.
    const last = received.at(-1) ?? 0;
    const controller = new AbortController();
    const second = drain(clientsOf(c).signals.subscribe({ coordinationId, agentId: "watcher", observer: true, afterSequence: BigInt(last), epoch }, { signal: controller.signal }));
    await publishing;
    await until(() => received.length + second.sequences.length >= total, "the rest on C", 20_000);
    controller.abort();
    await second.ended;
    const all = [...received, ...second.sequences];
    expect(all).toEqual(oneTo(total));
  }, 60_000);

  it("three replicas publishing concurrently to one coordination give 1..N without gap, listed alike by each", async () => {
    const writers = await threeLive();
    const coordinationId = cid();
    const each = 60;
    const acks = await Promise.all(
      writers.map(async (s, w) => {
        const client = clientsOf(s).signals;
        const out: number[] = [];
        // Each writer keeps 4 publishes in flight.
        await Promise.all(
          [0, 1, 2, 3].map(async (lane) => {
            for (let i = lane; i < each; i += 4) {
              const r = await client.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: `w${w}`, data: { i } });
              out.push(Number(r.signal?.sequence));
            }
          }),
        );
        return out;
      }),
    );
    expect(acks.flat().sort((x, y) => x - y)).toEqual(oneTo(3 * each));
    const listed = async (s: Server) => {
      const page = await clientsOf(s).signals.listSignals({ coordinationId, pageSize: 1000 });
      return page.signals.map((x) => `${x.sequence}:${x.signalId}`).reverse();
    };
    let lists: string[][] = [];
    // Each replica lists what its follower applied: the last appends may still be on their way to the others.
    for (let tries = 0; tries < 200; tries++) {
      lists = await Promise.all(writers.map(listed));
      if (lists.every((l) => l.length === 3 * each)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lists[0]?.map((x) => Number(x.split(":")[0]))).toEqual(oneTo(3 * each));
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
  }, 60_000);

  it("DeleteCoordination on one replica ends the Subscribes on the other two ABORTED COORDINATION_DELETED", async () => {
    const [a, c, d] = await threeLive();
    const coordinationId = cid();
    await clientsOf(a).signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a" });
    const subs = [c, d].map((s) => drain(clientsOf(s).signals.subscribe({ coordinationId, agentId: "watcher", afterSequence: 0n }, { timeoutMs: 30_000 })));
    await until(() => subs.every((s) => s.sequences.length === 1), "both subscribed", 20_000);
    expect((await clientsOf(a).coordinations.deleteCoordination({ coordinationId })).deleted).toBe(true);
    for (const s of subs) {
      const err = await s.ended;
      expect(err?.code).toBe(Code.Aborted);
      expect(infoOf(err)?.reason).toBe("COORDINATION_DELETED");
    }
  }, 60_000);
});
