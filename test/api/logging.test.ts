import { Writable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { SignalService, SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { startTestServer, unary } from "./harness.js";

describe("call logs", () => {
  it("log one JSON line per failed call with method, coordination, code and duration; successes and NOT_FOUND stay quiet at info", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const server = await startTestServer([], pino({ level: "info" }, sink));
    try {
      const client = server.grpcClient(SignalService);
      await unary(client, "publish", { coordinationId: "logged", type: SignalType.AGENT_COMPLETED });
      await unary(client, "publish", { coordinationId: "logged", type: SignalType.UNSPECIFIED }).catch(() => undefined);
      await server.connect.signals.publish({ coordinationId: "", type: SignalType.AGENT_COMPLETED }).catch(() => undefined);
      // NOT_FOUND is routine (a poller of a coordination not created yet): not logged at info.
      const notFound = await server.connect.dependencies.getDependencyStatus({ coordinationId: "never-created", agentId: "a", dependencyId: "d" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(ConnectError.from(notFound).code).toBe(Code.NotFound);
    } finally {
      await server.close();
    }
    const calls = lines.filter((l) => l["msg"] === "call finished");
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ method: "consort.v1.SignalService/Publish", transport: "grpc", coordination: "logged", code: "InvalidArgument" });
    expect(calls[0]?.["err"]).toMatch(/^type: /);
    expect(typeof calls[0]?.["durationMs"]).toBe("number");
    expect(calls[1]).toMatchObject({ transport: "web", code: "InvalidArgument" });
  });
});
