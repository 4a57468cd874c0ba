// The dashboard's list of coordinations, kept current from CoordinationService.WatchCoordinations responses. Plain
// data and pure functions: the view renders it, the unit tests drive it with hand-made responses.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  CoordinationRemovalReason,
  type Coordination,
  type WatchCoordinationsResponse,
} from "../../gen/ts/consort/v1/coordination_pb.js";

/** One coordination as the list shows it. */
export interface CoordinationRow {
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Milliseconds since the epoch. */
  readonly lastActivityAt: number;
  readonly epoch: string;
  readonly headSequence: bigint;
  readonly signalCount: bigint;
  readonly agentsWithContext: number;
  readonly openWaits: number;
  readonly openSubscriptions: number;
  readonly openContextWatches: number;
  /** The revision of the change that brought these figures. */
  readonly revision: bigint;
}

/** A coordination that left the server while the page watched. */
export interface RemovedRow {
  readonly id: string;
  readonly reason: "deleted" | "expired";
  readonly revision: bigint;
}

/** The list and where the watch stands. */
export interface WatchListState {
  /** The server's watch epoch; empty before the first response. */
  readonly epoch: string;
  /** The head revision of the last response applied: the resume point. */
  readonly headRevision: bigint;
  /** True once the snapshot (or the catch-up after a resume) is complete. */
  readonly caughtUp: boolean;
  /** Coordinations by id. */
  readonly rows: ReadonlyMap<string, CoordinationRow>;
  /** The most recent removals, newest first, at most {@link maxRemovedShown}. */
  readonly removed: readonly RemovedRow[];
  /** How many times the server made the page start over (a restart, or removals forgotten). */
  readonly resets: number;
}

/** Removals the list remembers to show. */
export const maxRemovedShown = 20;

/** The state before the first response. */
export const emptyWatchList: WatchListState = {
  epoch: "",
  headRevision: 0n,
  caughtUp: false,
  rows: new Map(),
  removed: [],
  resets: 0,
};

/** A coordination message as a row. */
export function rowOf(c: Coordination, revision: bigint): CoordinationRow {
  return {
    id: c.coordinationId,
    createdAt: c.createdAt ? timestampMs(c.createdAt) : 0,
    lastActivityAt: c.lastActivityAt ? timestampMs(c.lastActivityAt) : 0,
    epoch: c.epoch,
    headSequence: c.headSequence,
    signalCount: c.signalCount,
    agentsWithContext: c.agentsWithContext,
    openWaits: c.openWaits,
    openSubscriptions: c.openSubscriptions,
    openContextWatches: c.openContextWatches,
    revision,
  };
}

/**
 * Applies one response: a `reset` drops every row known before; updates replace a row (a change older than the
 * row's is ignored); removals delete it and are remembered. Returns a new state; `state` is not changed.
 */
export function applyWatchResponse(state: WatchListState, res: WatchCoordinationsResponse): WatchListState {
  const epochChanged = state.epoch !== "" && res.watchEpoch !== state.epoch;
  const startOver = res.reset || epochChanged;
  const rows = new Map(startOver ? [] : state.rows);
  let removed = startOver ? [] : [...state.removed];
  for (const change of res.changes) {
    const c = change.change;
    if (c.case === "updated") {
      const known = rows.get(c.value.coordinationId);
      if (known === undefined || known.revision <= change.revision) rows.set(c.value.coordinationId, rowOf(c.value, change.revision));
    } else if (c.case === "removed") {
      rows.delete(c.value.coordinationId);
      const reason = c.value.reason === CoordinationRemovalReason.EXPIRED ? "expired" : "deleted";
      removed = [{ id: c.value.coordinationId, reason, revision: change.revision } as const, ...removed.filter((r) => r.id !== c.value.coordinationId)];
    }
  }
  return {
    epoch: res.watchEpoch,
    headRevision: res.headRevision,
    caughtUp: startOver ? res.caughtUp : state.caughtUp || res.caughtUp,
    rows,
    removed: removed.slice(0, maxRemovedShown),
    resets: state.resets + (startOver && state.epoch !== "" ? 1 : 0),
  };
}

/** Rows most recently active first, then by id. */
export function rowsByActivity(state: WatchListState): CoordinationRow[] {
  return [...state.rows.values()].sort((a, b) => b.lastActivityAt - a.lastActivityAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
