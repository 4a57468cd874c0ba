import { describe, expect, it } from "vitest";
import { createServerMetrics, maxPendingObservations } from "../src/metrics.js";

describe("deferred observations", () => {
  it("are recorded before a scrape reads the histogram", async () => {
    const metrics = createServerMetrics({ coordinations: () => 0, processMetrics: false });
    metrics.observeLater(metrics.routingDecisionTime, 0.004);
    metrics.observeLater(metrics.routingDecisionTime, 0.02);
    const histogram = await metrics.routingDecisionTime.get();
    // Reading the histogram (what a scrape does) records the pending observations first.
    expect(histogram.values.find((v) => v.metricName === "routing_decision_time_ms_count")?.value).toBe(2);
    expect(histogram.values.find((v) => v.metricName === "routing_decision_time_ms_sum")?.value).toBeCloseTo(0.024);
  });

  it("are recorded on the next setImmediate without a scrape, not before", async () => {
    const metrics = createServerMetrics({ coordinations: () => 0, processMetrics: false });
    const seen: number[] = [];
    metrics.observeLater({ observe: (v) => seen.push(v) }, 0.001);
    expect(seen).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([0.001]);
  });

  it("never hold more than the bound", async () => {
    const metrics = createServerMetrics({ coordinations: () => 0, processMetrics: false });
    const seen: number[] = [];
    const target = { observe: (v: number) => seen.push(v) };
    for (let i = 0; i < maxPendingObservations; i++) metrics.observeLater(target, i);
    // The bound was reached: everything so far was recorded synchronously.
    expect(seen).toHaveLength(maxPendingObservations);
    metrics.observeLater(target, -1);
    expect(seen).toHaveLength(maxPendingObservations);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.at(-1)).toBe(-1);
  });

  it("drop a value prom-client refuses without losing the others or throwing", async () => {
    const metrics = createServerMetrics({ coordinations: () => 0, processMetrics: false });
    metrics.observeLater(metrics.routingDecisionTime, Number.NaN);
    metrics.observeLater(metrics.routingDecisionTime, 0.5);
    await new Promise((resolve) => setImmediate(resolve));
    const histogram = await metrics.routingDecisionTime.get();
    expect(histogram.values.find((v) => v.metricName === "routing_decision_time_ms_count")?.value).toBe(1);
  });
});
