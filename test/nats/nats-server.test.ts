import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { startNatsServer } from "./nats-server.js";

/** The helper every NATS test stands on: a JetStream server of its own, reachable, then gone. */
describe("nats-server helper", () => {
  it("starts a JetStream server on a free port and stops it", async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer()]);
    try {
      expect(a.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      expect(a.url).not.toBe(b.url);
      const nc = await connect({ servers: a.url, reconnect: false });
      const info = await (await nc.jetstreamManager()).getAccountInfo();
      expect(info.streams).toBe(0);
      await nc.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    await expect(connect({ servers: a.url, reconnect: false, timeout: 1_000 })).rejects.toThrow();
  });
});
