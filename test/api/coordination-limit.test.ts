import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { startTestServer, type TestServer } from "./harness.js";

/** A server-wide cap on coordinations: a client cannot fill the server's memory by naming new ones. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(["--max-coordinations", "3"]);
});
afterAll(() => server.close());

describe("the coordination limit", () => {
  it("refuses a call that would create one more coordination, on every service, and stores nothing; known ones go on", async () => {
    for (const id of ["a", "b", "c"]) await server.grpc.signals.publish({ coordinationId: id, type: SignalType.AGENT_INITIALIZED });
    const refused = async (call: Promise<unknown>) => {
      const e = ConnectError.from(await call.then(() => new Error("accepted"), (x: unknown) => x));
      return [e.code, e.findDetails(ErrorInfoSchema)[0]?.reason];
    };
    const tooMany = [Code.ResourceExhausted, "TOO_MANY_COORDINATIONS"];
    expect(await refused(server.grpc.signals.publish({ coordinationId: "d", type: SignalType.AGENT_INITIALIZED }))).toEqual(tooMany);
    expect(await refused(server.connectJson.contexts.distributeContext({ coordinationId: "d", sessionId: "s", assignments: [{ agentId: "x" }] }))).toEqual(tooMany);
    expect(await refused(server.grpc.dependencies.setQualityGateScore({ coordinationId: "d", gateId: "g", score: 1 }))).toEqual(tooMany);
    const watch = (async () => {
      for await (const _ of server.grpc.contexts.watchAgentContext({ coordinationId: "d", agentId: "x" })) void _;
    })();
    expect(await refused(watch)).toEqual(tooMany);
    expect(server.app.store.size).toBe(3);
    expect((await server.grpc.signals.publish({ coordinationId: "a", type: SignalType.AGENT_COMPLETED })).signal?.sequence).toBe(2n);
  });
});
