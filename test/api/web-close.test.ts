import * as net from "node:net";
import { describe, expect, it } from "vitest";
import { startTestServer } from "./harness.js";

describe("closing the HTTP port", () => {
  it("does not wait out the grace period for a client that stalled mid-request", async () => {
    const server = await startTestServer(["--shutdown-grace-ms", "8000"]);
    const socket = net.connect(server.app.httpPort, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.on("error", () => {});
    socket.write("POST /consort.v1.SignalService/Publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"); // never finished
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    socket.destroy();
  }, 15_000);
});
