import { describe, expect, it } from "vitest";
import { RoutingDecision } from "../../gen/ts/consort/v1/routing_pb.js";
import { bucketDecisions } from "../../dashboard/src/decision-buckets.js";

describe("the dashboard's decisions over time", () => {
  it("counts each result in its bucket by decision, and leaves out what is outside the span", () => {
    const b = bucketDecisions(
      [
        { at: 1000, decision: RoutingDecision.CONTINUE },
        { at: 1001, decision: RoutingDecision.RETRY },
        { at: 1999, decision: RoutingDecision.CONTINUE },
        { at: 2000, decision: RoutingDecision.END },
        { at: 500, decision: RoutingDecision.END },
        { at: 2500, decision: RoutingDecision.END },
      ],
      2000,
      1000,
      2,
    );
    expect(b.map((x) => [x.start, x.counts, x.total])).toEqual([
      [1000, { continue: 1, retry: 1 }, 2],
      [1500, { continue: 1, end: 1 }, 2],
    ]);
  });
});
