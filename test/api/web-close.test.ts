import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { SignalType } from "../../gen/ts/consort/v1/signal_pb.js";
import { startTestServer } from "./harness.js";

const stalled = async (port: number, request: string) => {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((r) => socket.once("connect", () => r()));
  socket.on("error", () => {});
  socket.write(request);
  await new Promise((r) => setTimeout(r, 50));
  return socket;
};

describe("the HTTP port", () => {
  it("lets every finished call go (unary and streaming): none stays counted or registered", async () => {
    const server = await startTestServer();
    try {
      for (let i = 0; i < 20; i++) await server.connect.signals.publish({ coordinationId: "web", type: SignalType.AGENT_COMPLETED });
      const ac = new AbortController();
      const it = server.connectJson.signals.subscribe({ coordinationId: "web", agentId: "a", afterSequence: 0n }, { signal: ac.signal })[Symbol.asyncIterator]();
      await it.next();
      expect(server.app.openWebCalls).toBe(1);
      ac.abort();
      for (let i = 0; i < 100 && server.app.openWebCalls > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(server.app.openWebCalls).toBe(0);
    } finally {
      await server.close();
    }
  });

  it.each([
    ["mid-headers", "POST /consort.v1.SignalService/Publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"],
    ["mid-body", 'POST /consort.v1.SignalService/Publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"coordination'],
  ])("closes without waiting out the grace period for a client stalled %s, after other calls", async (_name, request) => {
    const server = await startTestServer(["--shutdown-grace-ms", "8000"]);
    await server.connect.signals.publish({ coordinationId: "web", type: SignalType.AGENT_COMPLETED });
    const socket = await stalled(server.app.httpPort!, request);
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).toBeLessThan(2000); // the grace period is 8 s
    socket.destroy();
  }, 15_000);
});
