import { describe, expect, it } from "vitest";
import { createSequenceLog } from "../../src/core/sequence-log.js";
import type { SignalRecord } from "../../src/core/signals/types.js";

const rec = (sequence: number) => ({ sequence }) as SignalRecord;

describe("sequence log", () => {
  it("addresses retained signals by sequence and drops the oldest beyond capacity", () => {
    const log = createSequenceLog<SignalRecord>(5);
    for (let s = 1; s <= 10; s++) log.append(rec(s));
    expect(log.head).toBe(10);
    expect(log.oldest).toBe(6);
    expect(log.size).toBe(5);
    expect(log.get(5)).toBeUndefined();
    expect([6, 7, 8, 9, 10].map((s) => log.get(s)?.sequence)).toEqual([6, 7, 8, 9, 10]);
    expect(log.get(11)).toBeUndefined();
  });

  it("returns the evicted signal", () => {
    const log = createSequenceLog<SignalRecord>(2);
    expect(log.append(rec(1))).toBeUndefined();
    expect(log.append(rec(2))).toBeUndefined();
    expect(log.append(rec(3))?.sequence).toBe(1);
  });

  it("grows its ring past the initial size without losing order", () => {
    const log = createSequenceLog<SignalRecord>(5000);
    for (let s = 1; s <= 4999; s++) log.append(rec(s));
    for (const s of [1, 1023, 1024, 1025, 2048, 4999]) expect(log.get(s)?.sequence).toBe(s);
    for (let s = 5000; s <= 7000; s++) log.append(rec(s));
    expect(log.oldest).toBe(2001);
    for (const s of [2001, 4096, 7000]) expect(log.get(s)?.sequence).toBe(s);
  });

  it("keeps numbering after clear", () => {
    const log = createSequenceLog<SignalRecord>(10);
    for (let s = 1; s <= 3; s++) log.append(rec(s));
    expect(log.clear()).toBe(3);
    expect(log.size).toBe(0);
    expect(log.oldest).toBe(4);
    expect(log.get(3)).toBeUndefined();
    log.append(rec(4));
    expect(log.get(4)?.sequence).toBe(4);
    expect(() => log.append(rec(9))).toThrow(/does not follow/);
  });

  it("clears through a sequence past its head, so numbering starts there (a log begun after a clear elsewhere)", () => {
    const log = createSequenceLog<SignalRecord>(10);
    expect(log.clear(41)).toBe(0);
    expect(log.head).toBe(41);
    expect(log.oldest).toBe(42);
    expect(() => log.append(rec(1))).toThrow(/does not follow/);
    log.append(rec(42));
    expect(log.get(42)?.sequence).toBe(42);
  });

  it("clears only the entries up to a sequence below its head, keeping the newer ones", () => {
    const log = createSequenceLog<SignalRecord>(10);
    for (let s = 1; s <= 5; s++) log.append(rec(s));
    expect(log.clear(3)).toBe(3);
    expect(log.oldest).toBe(4);
    expect(log.head).toBe(5);
    expect(log.get(3)).toBeUndefined();
    expect(log.get(4)?.sequence).toBe(4);
    expect(log.clear(2)).toBe(0);
    expect(() => log.clear(-1)).toThrow(RangeError);
  });
});
