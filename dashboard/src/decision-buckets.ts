// Routing decisions over time for the routing view's chart: results counted per decision in equal time buckets.
import { RoutingDecision } from "../../gen/ts/consort/v1/routing_pb.js";

/** Decisions in the order the chart stacks them, with their original names. */
export const decisionNames: readonly (readonly [RoutingDecision, string])[] = [
  [RoutingDecision.CONTINUE, "continue"],
  [RoutingDecision.BRANCH, "branch"],
  [RoutingDecision.PARALLEL, "parallel"],
  [RoutingDecision.CONDITIONAL, "conditional"],
  [RoutingDecision.SKIP, "skip"],
  [RoutingDecision.RETRY, "retry"],
  [RoutingDecision.END, "end"],
  [RoutingDecision.ERROR, "error"],
];

/** One bucket: its start (ms since the epoch) and the count per decision name. */
export interface DecisionBucket {
  readonly start: number;
  readonly counts: Readonly<Record<string, number>>;
  readonly total: number;
}

/**
 * Counts `results` (time in ms, decision) in `buckets` equal buckets ending at `end` and spanning `spanMs`.
 * Results outside the span are left out.
 */
export function bucketDecisions(
  results: readonly { readonly at: number; readonly decision: RoutingDecision }[],
  end: number,
  spanMs: number,
  buckets: number,
): DecisionBucket[] {
  const width = spanMs / buckets;
  const start = end - spanMs;
  const out = Array.from({ length: buckets }, (_, i) => ({ start: start + i * width, counts: {} as Record<string, number>, total: 0 }));
  const names = new Map(decisionNames);
  for (const r of results) {
    if (r.at < start || r.at > end) continue;
    const i = Math.min(buckets - 1, Math.floor((r.at - start) / width));
    const b = out[i]!;
    const name = names.get(r.decision) ?? "unspecified";
    b.counts[name] = (b.counts[name] ?? 0) + 1;
    b.total++;
  }
  return out;
}
