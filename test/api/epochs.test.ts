import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer } from "./harness.js";

/**
 * A restart of an in-memory server starts every log again at sequence 1: a subscriber resuming with the sequence
 * and epoch it last saw must be told, not silently handed the new log's later signals.
 */
describe("resuming across a server restart", () => {
  it("ends FAILED_PRECONDITION EPOCH_CHANGED instead of skipping the new log's first signals", async () => {
    const coordinationId = "restart";
    const first = await startTestServer();
    for (let i = 0; i < 3; i++) await first.grpc.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED });
    const it1 = first.grpc.signals.subscribe({ coordinationId, agentId: "a", afterSequence: 0n }, { timeoutMs: 5000 })[Symbol.asyncIterator]();
    const subscribed = (await it1.next()).value?.subscribed;
    const replay = (await it1.next()).value?.signals ?? [];
    const last = replay[replay.length - 1];
    expect(last?.epoch).toBe(subscribed?.epoch);
    await it1.return?.();
    await first.close();

    const second = await startTestServer();
    try {
      for (let i = 0; i < 5; i++) await second.grpc.signals.publish({ coordinationId, type: SignalType.AGENT_COMPLETED });
      const resumed = (async () => {
        for await (const _ of second.grpc.signals.subscribe({ coordinationId, agentId: "a", afterSequence: last?.sequence ?? 0n, epoch: last?.epoch ?? "" }, { timeoutMs: 5000 })) void _;
      })();
      const err = ConnectError.from(await resumed.then(() => new Error("resumed"), (e: unknown) => e));
      expect(err.code).toBe(Code.FailedPrecondition);
      const info = err.findDetails(ErrorInfoSchema)[0];
      expect(info?.reason).toBe("EPOCH_CHANGED");
      expect(info?.metadata).toMatchObject({ oldest_sequence: "1", head_sequence: "5" });
      expect(info?.metadata["epoch"]).not.toBe(last?.epoch);
      // Starting over in the new epoch from its beginning loses nothing of the new log.
      const fresh = second.grpc.signals.subscribe({ coordinationId, agentId: "a", afterSequence: 0n, epoch: info?.metadata["epoch"] ?? "" }, { timeoutMs: 5000 })[Symbol.asyncIterator]();
      await fresh.next();
      const batch = (await fresh.next()).value as SubscribeResponse | undefined;
      expect(batch?.signals.map((s) => s.sequence)).toEqual([1n, 2n, 3n, 4n, 5n]);
      await fresh.return?.();
    } finally {
      await second.close();
    }
  });
});
