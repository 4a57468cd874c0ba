import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { SignalService, SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { cuttingProxy } from "./cutting-proxy.js";
import { startTestServer } from "./harness.js";

/**
 * Chaos, short form (`CONSORT_CHAOS_CUTS` raises the number of cuts): subscribers whose connections are cut
 * hundreds of times, while a publisher keeps publishing, each resume with the sequence and epoch they last saw and
 * end up with every signal exactly once, in order.
 */

const cuts = Number(process.env["CONSORT_CHAOS_CUTS"] ?? 120);

describe("chaos", () => {
  it(`subscribers cut ${cuts} times while signals are published resume without loss or duplicate`, async () => {
    const server = await startTestServer();
    const proxy = await cuttingProxy(server.app.grpcPort);
    const coordinationId = "chaos";
    const total = 1500;
    const subscribers = Array.from({ length: 4 }, (_, i) => ({ id: `s${i}`, received: [] as bigint[], resumes: 0 }));
    let done = false;
    const follow = async (s: (typeof subscribers)[number]) => {
      let epoch = "";
      while (s.received.length < total) {
        // A fresh client each time: the cut took its connection.
        const client = createClient(SignalService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${proxy.port}` }));
        const after = s.received[s.received.length - 1] ?? 0n;
        try {
          for await (const res of client.subscribe({ coordinationId, agentId: s.id, afterSequence: after, epoch }, { timeoutMs: 20_000 }) as AsyncIterable<SubscribeResponse>) {
            if (res.subscribed !== undefined) epoch = res.subscribed.epoch;
            s.received.push(...res.signals.map((x) => x.sequence));
            if (s.received.length >= total) break;
          }
        } catch {
          s.resumes++; // cut: resume after the last signal received
        }
        if (done) break;
      }
    };
    const followers = subscribers.map(follow);
    const publisher = (async () => {
      for (let i = 1; i <= total; i++) {
        await server.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, idempotencyKey: `k${i}` });
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    let made = 0;
    const deadline = Date.now() + 20_000;
    while (made < cuts && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
      if (proxy.cutOne()) made++;
    }
    await publisher;
    await Promise.race([Promise.all(followers), new Promise((r) => setTimeout(r, 20_000))]);
    done = true;
    proxy.close();
    await server.close();
    expect(made).toBe(cuts);
    const expected = Array.from({ length: total }, (_, i) => BigInt(i + 1));
    for (const s of subscribers) expect(s.received, `${s.id} after ${s.resumes} resumes`).toEqual(expected);
    expect(subscribers.reduce((n, s) => n + s.resumes, 0)).toBeGreaterThan(0);
  }, 60_000);
});
