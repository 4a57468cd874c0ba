import { describe, expect, it } from "vitest";
import { createStore } from "../../src/core/store.js";

describe("store", () => {
  it("creates coordinations on first use and drops unpinned ones idle past the TTL", () => {
    let t = 1_000;
    const store = createStore({ idleTtlMs: 100, now: () => t });
    const a = store.acquire("a");
    const b = store.acquire("b");
    expect(store.acquire("a")).toBe(a);
    expect(store.size).toBe(2);
    b.pins++; // an open stream keeps it alive
    t += 50;
    store.acquire("a"); // activity resets idleness
    t += 60;
    expect(store.sweep()).toBe(0); // a was active 60 ms ago, b is pinned
    t += 50;
    expect(store.sweep()).toBe(1);
    expect(store.peek("a")).toBeUndefined();
    expect(store.peek("b")).toBe(b);
    b.pins--;
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(0);
  });

  it("refuses to create a coordination past its limit, TOO_MANY_COORDINATIONS; existing ones are still served", () => {
    const store = createStore({ maxCoordinations: 2 });
    store.acquire("a");
    store.acquire("b");
    expect(() => store.acquire("c")).toThrow(expect.objectContaining({ kind: "exhausted", reason: "TOO_MANY_COORDINATIONS", metadata: { limit: "2" } }) as never);
    expect(store.acquire("a").id).toBe("a");
    store.delete("b");
    expect(store.acquire("c").id).toBe("c");
  });

  it("delete and sweep share one drop path: listeners are told after the id is gone, whatever its pins", () => {
    let t = 0;
    const store = createStore({ idleTtlMs: 10, now: () => t });
    const told: string[] = [];
    store.onDrop((c, reason) => told.push(`${c.id}:${reason}:${store.peek(c.id) === undefined}`));
    store.acquire("pinned").pins++;
    store.acquire("idle");
    const again = store.acquire("again");
    expect(store.delete("pinned")).toBe(true);
    expect(store.delete("pinned")).toBe(false);
    t += 20;
    expect(store.sweep()).toBe(2);
    expect(told).toEqual(["pinned:deleted:true", "idle:expired:true", "again:expired:true"]);
    expect(store.acquire("again").serial).toBeGreaterThan(again.serial);
  });
});
