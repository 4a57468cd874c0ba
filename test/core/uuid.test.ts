import { describe, expect, it } from "vitest";
import { createUuidSource } from "../../src/core/uuid.js";

describe("createUuidSource", () => {
  it("makes distinct version-4 UUIDs across several batches", () => {
    const next = createUuidSource();
    const ids = Array.from({ length: 2000 }, next);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("spreads the random hex digits evenly (no digit position stuck)", () => {
    const next = createUuidSource();
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const d = next()[0] as string;
      counts.set(d, (counts.get(d) ?? 0) + 1);
    }
    // 16 digits, 250 expected each: every one appears, none wildly over-represented.
    expect(counts.size).toBe(16);
    for (const c of counts.values()) expect(c).toBeGreaterThan(150);
  });
});
