import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer } from "../api/harness.js";
import { useNatsServer } from "./fixture.js";

/**
 * A replica on NATS refuses a Publish or Subscribe the engine would refuse before it serves the coordination, so a
 * refused call brings no coordination into being, here or in the backend (as in memory: test/api/violations, the
 * fuzz test's "nothing is stored on error"). Another replica on the same server does not find it either.
 */
const nats = useNatsServer();

const failure = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error("expected the call to fail")), (e: unknown) => ConnectError.from(e));

describe("refused calls on NATS", () => {
  it("bring no coordination into being: an invalid Publish or Subscribe, and a resume of one that exists nowhere", async () => {
    const [a, b] = [await startTestServer(["--backend", nats.url]), await startTestServer(["--backend", nats.url])];
    try {
      const id = "refused";
      const invalid = await failure(a.grpc.signals.publish({ coordinationId: id, type: SignalType.AGENT_COMPLETED, recipientAgentIds: [""] }));
      expect(invalid.code).toBe(Code.InvalidArgument);
      const it1 = a.grpc.signals.subscribe({ coordinationId: id, agentId: "" })[Symbol.asyncIterator]();
      expect((await failure(it1.next())).code).toBe(Code.InvalidArgument);
      const it2 = a.grpc.signals.subscribe({ coordinationId: id, agentId: "r", afterSequence: 5n })[Symbol.asyncIterator]();
      const ahead = await failure(it2.next());
      expect(ahead.code).toBe(Code.OutOfRange);
      expect(ahead.findDetails(ErrorInfoSchema)[0]?.reason).toBe("SEQUENCE_AHEAD");
      const it3 = a.grpc.signals.subscribe({ coordinationId: id, agentId: "r", afterSequence: 0n, epoch: "gone" })[Symbol.asyncIterator]();
      expect((await failure(it3.next())).findDetails(ErrorInfoSchema)[0]?.reason).toBe("EPOCH_CHANGED");
      expect(a.app.store.peek(id)).toBeUndefined();
      // Nor in the backend: the other replica finds no coordination to serve.
      const missing = await failure(b.grpc.coordinations.getCoordination({ coordinationId: id }));
      expect(missing.findDetails(ErrorInfoSchema)[0]?.reason).toBe("COORDINATION_NOT_FOUND");

      // A resume of a coordination that exists on another replica is served and checked against its log.
      await b.grpc.signals.publish({ coordinationId: "elsewhere", type: SignalType.AGENT_COMPLETED });
      const ac = new AbortController();
      const it4 = a.grpc.signals.subscribe({ coordinationId: "elsewhere", agentId: "r", afterSequence: 1n }, { signal: ac.signal })[Symbol.asyncIterator]();
      expect((await it4.next()).value?.subscribed?.headSequence).toBe(1n);
      ac.abort();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("bring no coordination into being: invalid context and dependency calls", async () => {
    const [a, b] = [await startTestServer(["--backend", nats.url]), await startTestServer(["--backend", nats.url])];
    try {
      const id = "refused-engines";
      const calls: [string, Promise<unknown>][] = [
        ["SetQualityGateScore", a.grpc.dependencies.setQualityGateScore({ coordinationId: id, gateId: "g", score: 2 })],
        ["SetResourceAvailability", a.grpc.dependencies.setResourceAvailability({ coordinationId: id, resourceId: "", available: true })],
        ["ResolveDependencies", a.grpc.dependencies.resolveDependencies({ coordinationId: id, agentId: "" })],
        ["DistributeContext", a.grpc.contexts.distributeContext({ coordinationId: id, sessionId: "s", assignments: [] })],
        ["UpdateSharedIntelligence", a.grpc.contexts.updateSharedIntelligence({ coordinationId: id, targetAgentIds: [""] })],
        ["WatchAgentContext", a.grpc.contexts.watchAgentContext({ coordinationId: id, agentId: "" })[Symbol.asyncIterator]().next()],
      ];
      for (const [name, call] of calls) {
        const err = await failure(call);
        expect([name, err.code]).toEqual([name, Code.InvalidArgument]);
        expect([name, a.app.store.peek(id)]).toEqual([name, undefined]);
      }
      // A context watch resuming a coordination that exists nowhere: refused, and not brought into being.
      const resume = await failure(a.grpc.contexts.watchAgentContext({ coordinationId: id, agentId: "r", afterRevision: 1n })[Symbol.asyncIterator]().next());
      expect(resume.findDetails(ErrorInfoSchema)[0]?.reason).toBe("REVISION_AHEAD");
      expect(a.app.store.peek(id)).toBeUndefined();
      const missing = await failure(b.grpc.coordinations.getCoordination({ coordinationId: id }));
      expect(missing.findDetails(ErrorInfoSchema)[0]?.reason).toBe("COORDINATION_NOT_FOUND");
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
