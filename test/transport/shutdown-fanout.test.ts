import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { createShutdownFanout } from "../../src/transport/shutdown-fanout.js";

describe("the shutdown fan-out", () => {
  it("aborts every registered call with the shutdown's reason, not those that ended, and late ones at once", () => {
    const shutdown = new AbortController();
    const fanout = createShutdownFanout(shutdown.signal);
    const open = [new AbortController(), new AbortController()];
    const ended = new AbortController();
    for (const c of open) fanout.add(c);
    fanout.add(ended)();
    expect(fanout.size).toBe(2);
    const reason = new Error("shutting down");
    shutdown.abort(reason);
    expect(open.map((c) => c.signal.reason)).toEqual([reason, reason]);
    expect(ended.signal.aborted).toBe(false);
    expect(fanout.size).toBe(0);
    const late = new AbortController();
    fanout.add(late);
    expect(late.signal.reason).toBe(reason);
  });

  it("keeps one listener on the shutdown signal however many calls are open", async () => {
    const shutdown = new AbortController();
    const fanout = createShutdownFanout(shutdown.signal);
    const releases = Array.from({ length: 1000 }, () => fanout.add(new AbortController()));
    expect(EventEmitter.getEventListeners(shutdown.signal, "abort")).toHaveLength(1);
    releases.forEach((r) => r());
    expect(fanout.size).toBe(0);
  });
});
