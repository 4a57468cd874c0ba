import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import type { TestServer } from "../api/harness.js";
import { until, useReplicas } from "./fixture.js";

/**
 * A replica on `--backend nats://…` whose NATS server goes down after startup (killed, then started again on the
 * same port over the same store): publishes answer UNAVAILABLE BACKEND_UNAVAILABLE while it is down, nothing
 * acknowledged is lost, and once it is back a retry with the same idempotency key lands once, numbering going on.
 */

const cluster = useReplicas(2);
let a: TestServer;
let b: TestServer;
beforeAll(() => void ([a, b] = cluster.replicas as [TestServer, TestServer]));

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];

/** Calls `call` again while it fails UNAVAILABLE, as a client retries (bounded: 100 tries, 200 ms apart). */
async function whileUnavailable<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (ConnectError.from(e).code !== Code.Unavailable || attempt >= 100) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function drain(stream: AsyncIterable<SubscribeResponse>) {
  const sequences: number[] = [];
  const ended = (async () => {
    try {
      for await (const r of stream) for (const s of r.signals) sequences.push(Number(s.sequence));
      return undefined;
    } catch (e) {
      return ConnectError.from(e);
    }
  })();
  return { sequences, ended };
}

describe("the NATS server down after startup", () => {
  it("publishes answer UNAVAILABLE while it is down; once back, a retry lands once and numbering goes on", async () => {
    const coordinationId = `outage-${process.pid}`;
    const publish = (key: string) =>
      a.grpc.signals.publish({ coordinationId, type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "writer", idempotencyKey: key }, { timeoutMs: 30_000 });
    for (let i = 1; i <= 3; i++) expect((await publish(`k${i}`)).signal?.sequence).toBe(BigInt(i));
    const sub = drain(a.grpc.signals.subscribe({ coordinationId, agentId: "watcher", observer: true, afterSequence: 0n }, { timeoutMs: 60_000 }));
    await until(() => sub.sequences.length === 3, "the replay");

    await cluster.nats.crash();
    const t0 = Date.now();
    const err = await publish("k4").then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    const refusedAfterMs = Date.now() - t0;
    expect(err?.code).toBe(Code.Unavailable);
    expect(infoOf(err)?.reason).toBe("BACKEND_UNAVAILABLE");
    expect(err?.message).toContain(coordinationId);
    // How fast a client hears it (at once while disconnected; a publish in flight waits out the 5 s timeout).
    console.log(`publish refused ${refusedAfterMs} ms after the NATS server died`);

    await cluster.nats.restart();
    // The client retries with the same key until the replica is connected again: it lands once, as sequence 4.
    const retried = await whileUnavailable(() => publish("k4"));
    expect(retried.signal?.sequence).toBe(4n);
    expect((await publish("k4")).duplicate).toBe(true);
    expect((await publish("k5")).signal?.sequence).toBe(5n);
    const listed = (await a.grpc.signals.listSignals({ coordinationId, pageSize: 100 })).signals.map((s) => Number(s.sequence)).reverse();
    expect(listed).toEqual([1, 2, 3, 4, 5]);
    // The open Subscribe carried on across the outage (the follower's consumer is made again on reconnect): it got
    // 4 and 5, nothing skipped or repeated.
    await until(() => sub.sequences.length === 5, "4 and 5 on the open Subscribe");
    expect(sub.sequences).toEqual([1, 2, 3, 4, 5]);
    // The meta watch outlived the outage too: a delete made on another replica ends A's stream.
    // B reconnects on its own schedule (the client waits ~2 s between attempts): UNAVAILABLE until then.
    expect((await whileUnavailable(() => b.grpc.coordinations.deleteCoordination({ coordinationId }))).deleted).toBe(true);
    const ended = await sub.ended;
    expect(ended?.code).toBe(Code.Aborted);
    expect(infoOf(ended)?.reason).toBe("COORDINATION_DELETED");
  }, 120_000);
});
