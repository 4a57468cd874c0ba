import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer, type Clients } from "./harness.js";

/**
 * Shutdown under load loses no acknowledged signal: publishes stop first, each subscriber's stream delivers what
 * it holds, then ends UNAVAILABLE with its true resume point.
 */
describe("shutdown under load", () => {
  it("delivers every acknowledged signal to every reading subscriber, on both ports, before ending it UNAVAILABLE", async () => {
    const server = await startTestServer(["--shutdown-grace-ms", "5000"]);
    const coordinationId = "flush";
    const subscribers: { clients: Clients; received: bigint[]; end: Promise<ConnectError> }[] = [];
    for (let i = 0; i < 20; i++) {
      const clients = i % 2 === 0 ? server.grpc : server.connect;
      const received: bigint[] = [];
      const it = clients.signals.subscribe({ coordinationId, agentId: `s${i}` })[Symbol.asyncIterator]();
      await it.next(); // subscribed: registered before the first publish
      const end = (async () => {
        for (;;) {
          const r = await it.next();
          if (r.done === true) return new ConnectError("ended without a status", Code.Unknown);
          const batch = (r.value as SubscribeResponse).signals;
          received.push(...batch.map((s) => s.sequence));
          // A reader slower than the publishers (~1 ms a signal): when the server shuts down its stream holds a
          // backlog, past what flow control lets the transport buffer, in the subscription itself.
          await new Promise((res) => setTimeout(res, batch.length));
        }
      })().then((e) => e, (e: unknown) => ConnectError.from(e));
      subscribers.push({ clients, received, end });
    }
    const acknowledged: bigint[] = [];
    let stop = false;
    const publishers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          const r = await server.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, data: { blob: "x".repeat(200) } });
          acknowledged.push(r.signal?.sequence ?? 0n);
        } catch {
          return; // refused once the server shuts down
        }
      }
    });
    while (acknowledged.length < 300) await new Promise((r) => setTimeout(r, 5));
    await server.close();
    stop = true;
    await Promise.all(publishers);
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);
    for (const [i, s] of subscribers.entries()) {
      const err = await s.end;
      expect(err.code, `subscriber ${i}: ${err.message}`).toBe(Code.Unavailable);
      const info = err.findDetails(ErrorInfoSchema)[0];
      expect(info?.reason).toBe("SHUTTING_DOWN");
      const got = new Set(s.received);
      const missing = acknowledged.filter((q) => !got.has(q));
      expect(missing, `subscriber ${i} missed acknowledged signals`).toEqual([]);
      expect(info?.metadata["last_delivered_sequence"]).toBe(String(s.received[s.received.length - 1]));
    }
  }, 30_000);
});
