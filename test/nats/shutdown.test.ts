import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer } from "../api/harness.js";
import { useNatsServer } from "./fixture.js";

/**
 * A replica on NATS shutting down: a publish it accepted before it stopped accepting is acknowledged only once its
 * append came back through the follower and was applied, and the subscribers' streams end only after that, so
 * every signal acknowledged is delivered to them before their UNAVAILABLE (as in memory: test/api/shutdown-flush).
 */
const nats = useNatsServer();

describe("shutdown of a replica on NATS", () => {
  it("ends the subscribers' streams only after the publishes it accepted are applied", async () => {
    const server = await startTestServer(["--backend", nats.url]);
    let closed: Promise<void> | undefined;
    try {
      const coordinationId = "shutdown-pending";
      const received: bigint[] = [];
      const it = server.grpc.signals.subscribe({ coordinationId, agentId: "reader" })[Symbol.asyncIterator]();
      await it.next(); // subscribed: the coordination is served here
      const ended = (async () => {
        for (;;) {
          const r = await it.next();
          if (r.done === true) return new ConnectError("ended without a status", Code.Unknown);
          received.push(...(r.value as SubscribeResponse).signals.map((s) => s.sequence));
        }
      })().then((e) => e, (e: unknown) => ConnectError.from(e));
      // Accepted (the engine checked it and sent the append), not yet applied: the append is on its way to JetStream.
      const published = server.app.signals.publish({ coordinationId, type: "inter_agent_message", data: { n: 1 } });
      expect(published).toBeInstanceOf(Promise);
      closed = server.close();
      const { signal } = await published;
      expect(signal.sequence).toBe(1);
      const err = await ended;
      expect(err.code, err.message).toBe(Code.Unavailable);
      expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SHUTTING_DOWN");
      expect(received, "the acknowledged signal reached the subscriber before its stream ended").toEqual([1n]);
      await closed;
    } finally {
      await (closed ?? server.close());
    }
  });
});
