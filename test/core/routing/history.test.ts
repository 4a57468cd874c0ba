import { describe, expect, it } from "vitest";
import { createRoutingHistory, type Retainable } from "../../../src/core/routing/history.js";

type Entry = Retainable & { readonly tag: string };
const entry = (sequence: number, tag = "") => ({ sequence, tag, gone: false }) as Entry;
const page = (h: ReturnType<typeof createRoutingHistory<Entry>>, size: number, before?: number, matches = (_: Entry) => true) =>
  h.page({ size, before, fingerprint: "f", matches });
const sequences = (es: readonly Entry[]) => es.map((e) => e.sequence);
/** Marks an entry gone and tells its history, as the engine does when the entry's coordination is dropped. */
const discard = (h: ReturnType<typeof createRoutingHistory<Entry>>, e: Entry) => {
  e.gone = true;
  h.discarded();
};

describe("routing history", () => {
  it("retains the newest entries up to capacity and returns the one evicted", () => {
    const h = createRoutingHistory<Entry>(3);
    expect([1, 2, 3].map((s) => h.append(entry(s)))).toEqual([undefined, undefined, undefined]);
    expect(h.append(entry(4))?.sequence).toBe(1);
    expect([h.head, h.size, h.oldest()?.sequence]).toEqual([4, 3, 2]);
    expect(() => h.append(entry(6))).toThrow(/does not follow head 4/);
  });

  it("keeps order and the bound over many appends (the emptied front is reclaimed)", () => {
    const h = createRoutingHistory<Entry>(5);
    for (let s = 1; s <= 10_000; s++) h.append(entry(s));
    expect(sequences(page(h, 100).items)).toEqual([10_000, 9999, 9998, 9997, 9996]);
    expect(h.oldest()?.sequence).toBe(9996);
  });

  it("lets entries leave from anywhere; the bound then counts the entries left", () => {
    const h = createRoutingHistory<Entry>(4);
    const es = [1, 2, 3, 4].map((s) => entry(s, s % 2 === 0 ? "x" : ""));
    es.forEach((e) => h.append(e));
    for (const e of es) if (e.tag === "x") discard(h, e);
    expect([h.size, h.oldest()?.sequence]).toEqual([2, 1]);
    h.append(entry(5));
    h.append(entry(6));
    expect(h.append(entry(7))?.sequence).toBe(1); // five retained would pass the bound of 4
    expect(sequences(page(h, 10).items)).toEqual([7, 6, 5, 3]);
  });

  it("pages newest first across removed entries: a token (a sequence) stays meaningful", () => {
    const h = createRoutingHistory<Entry>(100);
    const es = Array.from({ length: 10 }, (_, i) => entry(i + 1));
    es.forEach((e) => h.append(e));
    const first = page(h, 3);
    expect(sequences(first.items)).toEqual([10, 9, 8]);
    expect(first.nextPageToken).not.toBe("");
    // 7 and 6, the next page's first entries, leave between the two pages.
    discard(h, es[6] as Entry);
    discard(h, es[5] as Entry);
    expect(sequences(page(h, 3, 8).items)).toEqual([5, 4, 3]);
    const last = page(h, 3, 3);
    expect([sequences(last.items), last.nextPageToken]).toEqual([[2, 1], ""]);
    // A full last page has no token when nothing older is left; a filter skips entries without ending the page.
    expect(page(h, 2, 3).nextPageToken).toBe("");
    expect(sequences(page(h, 3, undefined, (e) => e.sequence % 2 === 1).items)).toEqual([9, 5, 3]);
  });

  it("keeps its front retained: the oldest entry leaving makes the next one the oldest, and eviction skips those gone", () => {
    const h = createRoutingHistory<Entry>(5);
    const es = [1, 2, 3, 4, 5].map((s) => entry(s));
    es.forEach((e) => h.append(e));
    discard(h, es[0] as Entry);
    expect([h.size, h.oldest()?.sequence]).toEqual([4, 2]);
    discard(h, es[2] as Entry); // held, skipped, until it reaches the front
    expect(sequences(page(h, 10).items)).toEqual([5, 4, 2]);
    expect([6, 7].map((s) => h.append(entry(s)))).toEqual([undefined, undefined]); // 5 retained: the bound
    expect(h.append(entry(8))?.sequence).toBe(2);
    expect([h.size, h.oldest()?.sequence]).toEqual([5, 4]);
    expect(sequences(h.clear())).toEqual([4, 5, 6, 7, 8]);
  });

  it("holds about what it retains when many entries leave from the middle", () => {
    const h = createRoutingHistory<Entry>(1000);
    for (let s = 1; s <= 20_000; s++) {
      const e = entry(s);
      h.append(e);
      if (s % 4 !== 0) discard(h, e); // three in four leave at once, the newest first
    }
    expect(h.size).toBe(1000);
    const kept = page(h, 1000).items;
    expect(kept).toHaveLength(1000);
    expect(kept.every((e) => e.sequence % 4 === 0 && !e.gone)).toBe(true);
    expect(h.oldest()?.sequence).toBe(20_000 - 4 * 999);
  });

  it("drops the oldest on demand, and clears while numbering continues", () => {
    const h = createRoutingHistory<Entry>(10);
    [1, 2, 3].forEach((s) => h.append(entry(s)));
    expect(h.dropOldest()?.sequence).toBe(1);
    expect(sequences(h.clear())).toEqual([2, 3]);
    expect([h.size, h.oldest(), h.dropOldest(), page(h, 10).items]).toEqual([0, undefined, undefined, []]);
    h.append(entry(4));
    expect([h.head, h.size]).toEqual([4, 1]);
  });
});
