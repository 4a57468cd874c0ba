import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  CoordinationChangeSchema,
  CoordinationRemovalReason,
  CoordinationSchema,
  WatchCoordinationsResponseSchema,
  type CoordinationChange,
} from "../../gen/ts/consort/v1/coordination_pb.js";
import { applyWatchResponse, emptyWatchList, rowsByActivity, type WatchListState } from "../../dashboard/src/watch-list.js";

const updated = (id: string, revision: bigint, head: bigint, activity = 1000): CoordinationChange =>
  create(CoordinationChangeSchema, {
    revision,
    change: { case: "updated", value: create(CoordinationSchema, { coordinationId: id, headSequence: head, lastActivityAt: timestampFromMs(activity), createdAt: timestampFromMs(1) }) },
  });
const removed = (id: string, revision: bigint, reason = CoordinationRemovalReason.DELETED): CoordinationChange =>
  create(CoordinationChangeSchema, { revision, change: { case: "removed", value: { coordinationId: id, reason } } });
const response = (epoch: string, head: bigint, changes: CoordinationChange[], flags: { reset?: boolean; caughtUp?: boolean } = {}) =>
  create(WatchCoordinationsResponseSchema, { watchEpoch: epoch, headRevision: head, changes, reset: flags.reset ?? false, caughtUp: flags.caughtUp ?? false });

function apply(...responses: ReturnType<typeof response>[]): WatchListState {
  return responses.reduce(applyWatchResponse, emptyWatchList);
}

describe("the dashboard's coordination list", () => {
  it("takes a snapshot over several responses, then live changes, and remembers the resume point", () => {
    const s = apply(
      response("e1", 3n, [updated("a", 1n, 5n), updated("b", 2n, 0n)]),
      response("e1", 3n, [updated("c", 3n, 1n)], { caughtUp: true }),
      response("e1", 5n, [updated("a", 4n, 9n), removed("b", 5n)]),
    );
    expect([...s.rows.keys()].sort()).toEqual(["a", "c"]);
    expect(s.rows.get("a")?.headSequence).toBe(9n);
    expect(s.removed).toEqual([{ id: "b", reason: "deleted", revision: 5n }]);
    expect(s).toMatchObject({ epoch: "e1", headRevision: 5n, caughtUp: true, resets: 0 });
  });

  it("is not caught up until the snapshot's last response", () => {
    const s = apply(response("e1", 2n, [updated("a", 1n, 1n)]));
    expect(s.caughtUp).toBe(false);
  });

  it("ignores a change older than the row it has", () => {
    const s = apply(response("e1", 4n, [updated("a", 4n, 9n)], { caughtUp: true }), response("e1", 4n, [updated("a", 3n, 2n)]));
    expect(s.rows.get("a")?.headSequence).toBe(9n);
  });

  it("forgets everything on a reset, and counts it", () => {
    const s = apply(
      response("e1", 2n, [updated("a", 1n, 1n), removed("x", 2n, CoordinationRemovalReason.EXPIRED)], { caughtUp: true }),
      response("e2", 1n, [updated("b", 1n, 1n)], { reset: true }),
    );
    expect([...s.rows.keys()]).toEqual(["b"]);
    expect(s.removed).toEqual([]);
    expect(s).toMatchObject({ epoch: "e2", caughtUp: false, resets: 1 });
  });

  it("starts over when the epoch changes even without the reset flag", () => {
    const s = apply(response("e1", 1n, [updated("a", 1n, 1n)], { caughtUp: true }), response("e2", 1n, [updated("b", 1n, 1n)], { caughtUp: true }));
    expect([...s.rows.keys()]).toEqual(["b"]);
    expect(s.resets).toBe(1);
  });

  it("orders rows by last activity, newest first, then by id", () => {
    const s = apply(response("e1", 3n, [updated("b", 1n, 0n, 50), updated("a", 2n, 0n, 50), updated("c", 3n, 0n, 99)], { caughtUp: true }));
    expect(rowsByActivity(s).map((r) => r.id)).toEqual(["c", "a", "b"]);
  });

  it("remembers the expiry reason and keeps one removal per id", () => {
    const s = apply(response("e1", 3n, [removed("a", 1n), updated("a", 2n, 1n), removed("a", 3n, CoordinationRemovalReason.EXPIRED)], { caughtUp: true }));
    expect(s.removed).toEqual([{ id: "a", reason: "expired", revision: 3n }]);
    expect(s.rows.size).toBe(0);
  });
});
