import { routingDecisions, routingStrategies, type RoutingRecord, type RoutingStats } from "./types.js";

/**
 * A policy id's routing statistics, kept as each result is recorded: counts, the sum and extremes of the routing
 * times, results per decision and per strategy. They cover every result since the last {@link reset}, whether
 * the history still holds it or not, so a result leaving the history (its bounds, its coordination dropped)
 * leaves them unchanged. O(1) to record and to read.
 */
export interface RunningStats {
  /** Counts one result. */
  record(r: Pick<RoutingRecord, "decision" | "strategy" | "routingTimeMs">): void;
  /** Back to zero. */
  reset(): void;
  /** The statistics now: decisions and strategies that occurred, keyed by name. */
  snapshot(): RoutingStats;
}

/** Statistics of no result at all. */
export const emptyStats: RoutingStats = Object.freeze({
  totalRoutings: 0,
  avgRoutingTimeMs: 0,
  minRoutingTimeMs: 0,
  maxRoutingTimeMs: 0,
  decisions: Object.freeze({}),
  strategies: Object.freeze({}),
});

/** Creates {@link RunningStats} at zero. */
export function createRunningStats(): RunningStats {
  let total = 0;
  let sum = 0;
  let min = Infinity;
  let max = 0;
  const decisions = new Array<number>(routingDecisions.length).fill(0);
  const strategies = new Array<number>(routingStrategies.length).fill(0);
  const named = (names: readonly string[], counts: readonly number[]) => {
    const out: Record<string, number> = {};
    names.forEach((name, i) => {
      if (counts[i] !== 0) out[name] = counts[i] as number;
    });
    return out;
  };
  return {
    record(r) {
      total++;
      sum += r.routingTimeMs;
      if (r.routingTimeMs < min) min = r.routingTimeMs;
      if (r.routingTimeMs > max) max = r.routingTimeMs;
      (decisions[routingDecisions.indexOf(r.decision)] as number)++;
      (strategies[routingStrategies.indexOf(r.strategy)] as number)++;
    },
    reset() {
      total = 0;
      sum = 0;
      min = Infinity;
      max = 0;
      decisions.fill(0);
      strategies.fill(0);
    },
    snapshot() {
      if (total === 0) return emptyStats;
      return {
        totalRoutings: total,
        avgRoutingTimeMs: sum / total,
        minRoutingTimeMs: min,
        maxRoutingTimeMs: max,
        decisions: named(routingDecisions, decisions),
        strategies: named(routingStrategies, strategies),
      };
    },
  };
}
