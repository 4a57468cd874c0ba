import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer, type TestServer } from "../api/harness.js";
import { until } from "./fixture.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";

/**
 * A replica on `--backend nats://…` whose NATS server goes down after startup (killed, then started again on the
 * same port over the same store): publishes answer UNAVAILABLE BACKEND_UNAVAILABLE while it is down, nothing
 * acknowledged is lost, and once it is back a retry with the same idempotency key lands once, numbering going on.
 */

let nats: NatsServer;
let a: TestServer;

beforeAll(async () => {
  nats = await startNatsServer();
  a = await startTestServer(["--backend", nats.url]);
});
afterAll(async () => {
  await a?.close();
  await nats?.stop();
});

const infoOf = (e: unknown) => ConnectError.from(e).findDetails(ErrorInfoSchema)[0];

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

    await nats.crash();
    const t0 = Date.now();
    const err = await publish("k4").then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    const refusedAfterMs = Date.now() - t0;
    expect(err?.code).toBe(Code.Unavailable);
    expect(infoOf(err)?.reason).toBe("BACKEND_UNAVAILABLE");
    expect(err?.message).toContain(coordinationId);
    console.log(`publish refused ${refusedAfterMs} ms after the NATS server died`);

    await nats.restart();
    // The client retries with the same key until the replica is connected again: it lands once, as sequence 4.
    let retried: Awaited<ReturnType<typeof publish>> | undefined;
    for (let attempt = 0; attempt < 100 && retried === undefined; attempt++) {
      retried = await publish("k4").catch(async (e: unknown) => {
        expect(ConnectError.from(e).code).toBe(Code.Unavailable);
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      });
    }
    expect(retried?.signal?.sequence).toBe(4n);
    expect((await publish("k4")).duplicate).toBe(true);
    expect((await publish("k5")).signal?.sequence).toBe(5n);
    const listed = (await a.grpc.signals.listSignals({ coordinationId, pageSize: 100 })).signals.map((s) => Number(s.sequence)).reverse();
    expect(listed).toEqual([1, 2, 3, 4, 5]);
    // The open Subscribe either carries on or ends with a status a client resumes from; it never skips or repeats.
    const ended = await Promise.race([sub.ended, new Promise<"open">((r) => setTimeout(() => r("open"), 2_000))]);
    console.log(`the Subscribe after the outage: ${ended === "open" ? "still open" : `ended ${ended === undefined ? "OK" : Code[ended.code]}`}, got ${JSON.stringify(sub.sequences)}`);
    expect(sub.sequences).toEqual([1, 2, 3, 4, 5].slice(0, sub.sequences.length));
  }, 120_000);
});
