// The suite's backend switch (test/test-backend.ts) does what it says: unset, the harness's server keeps signals in
// memory; with CONSORT_TEST_BACKEND=nats, they are in the signal stream of the server's own nats-server.
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { SignalType } from "../gen/ts/consort/v1/signal_pb.js";
import { startTestServer } from "./api/harness.js";
import { onNats, testBackendKind } from "./test-backend.js";

describe("CONSORT_TEST_BACKEND", () => {
  it("is memory when unset or empty, nats when nats, and an error otherwise", () => {
    expect(testBackendKind({})).toBe("memory");
    expect(testBackendKind({ CONSORT_TEST_BACKEND: "" })).toBe("memory");
    expect(testBackendKind({ CONSORT_TEST_BACKEND: "memory" })).toBe("memory");
    expect(testBackendKind({ CONSORT_TEST_BACKEND: "nats" })).toBe("nats");
    expect(() => testBackendKind({ CONSORT_TEST_BACKEND: "NATS" })).toThrow(/must be memory or nats, got "NATS"/);
  });

  it(`puts the harness's server on ${onNats ? "a nats-server of its own" : "memory"}`, async () => {
    const server = await startTestServer();
    try {
      await server.connect.signals.publish({ coordinationId: "switch", type: SignalType.AGENT_INITIALIZED, data: { agent_id: "a" } });
      if (!onNats) {
        expect(server.natsUrl).toBeUndefined();
        return;
      }
      const url = server.natsUrl;
      expect(url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
      const nc = await connect({ servers: url! });
      try {
        const info = await (await nc.jetstreamManager()).streams.info("CONSORT_SIGNALS");
        expect(info.state.messages).toBe(1);
      } finally {
        await nc.close();
      }
    } finally {
      await server.close();
    }
  });
});
