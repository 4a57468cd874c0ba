import { performance } from "node:perf_hooks";
import type { Coordination } from "../store.js";
import type { SharedDependencyRecord } from "./dependency-backend.js";
import type { DependencyStatus } from "./types.js";
import { type DependencyState, dependencyMismatch, keyOf, newWait, sameTarget, type Wait } from "./wait-state.js";

/**
 * How a dependency engine with a shared backend applies a wait's record from the coordination's ordered feed
 * (`dependency-backend.ts`): its own start (decided then), another replica's start (a mirror), or another replica's
 * final record (the mirror ends). Every replica applies one coordination's records in the same order, so what one
 * decides — a start that joins an open wait of its key, a mirror, a record found finished — all decide alike.
 */

/** What the engine lends the applier: its wait lifecycle and its counters. */
export interface RecordApplyContext {
  /** This replica's id: a record it owns is its own. */
  readonly replicaId: string;
  /** Its proposals (own starts not yet applied), by wait id; the applier takes each one out when its start comes back. */
  readonly proposals: Map<string, Wait>;
  /** Clock in milliseconds since the epoch. */
  readonly now: () => number;
  /** The next local record order (pages). */
  nextSeq(): number;
  /** Decides and registers (or ends) one of this replica's waits, under `key`. */
  startOwn(st: DependencyState, key: string, w: Wait): void;
  /** Registers an open wait (a mirror, here). */
  register(st: DependencyState, w: Wait): void;
  /** Ends a wait; `final` false: no final record is shared; `at`: the owner's times. */
  finish(st: DependencyState, w: Wait, status: DependencyStatus, message: string, final?: boolean, at?: { finishedAt: number; durationMs: number }): void;
  /** Tells a wait's listener (sliced over event-loop turns). */
  tell(listener: () => void): void;
  /**
   * A mirror whose owner's last caller left (its final record is abandoned) while calls here still wait on it:
   * this replica starts the wait again as its own for them, and they hear from that wait instead.
   */
  takeOver(st: DependencyState, mirror: Wait): void;
}

/** Creates the function that applies one wait record to a coordination's state (see the module comment). */
export function createRecordApplier(ctx: RecordApplyContext): (c: Coordination, st: DependencyState, r: SharedDependencyRecord) => void {
  /** A wait made from a record (a mirror, an orphaned start of this replica, or a record found already finished). */
  const waitOf = (c: Coordination, r: SharedDependencyRecord, owned: boolean): Wait =>
    newWait({
      seq: ctx.nextSeq(),
      waitId: r.waitId,
      owned,
      coordination: c,
      agentId: r.agentId,
      dependencyId: r.dependencyId,
      timeoutMs: r.timeoutMs,
      target: r.target,
      startedAt: r.startedAt,
      startedHr: performance.now() - Math.max(0, ctx.now() - r.startedAt),
      callers: 0,
    });

  /** A proposal whose start came after another open wait of its key, in the coordination's order: it joins that wait. */
  const join = (proposal: Wait, open: Wait) => {
    if (!sameTarget(open.target, proposal.target) || open.timeoutMs !== proposal.timeoutMs) {
      proposal.status = "failed";
      proposal.message = dependencyMismatch(proposal.agentId, proposal.dependencyId).message;
      proposal.finishedAt = ctx.now();
      for (const l of proposal.listeners) ctx.tell(l);
      proposal.listeners.clear();
      return;
    }
    proposal.joined = open;
    if (proposal.leftWith !== undefined) return;
    open.callers += proposal.callers;
    for (const l of proposal.listeners) open.listeners.add(l);
    proposal.listeners.clear();
  };

  // Applies a wait's record: this replica's own start, or another replica's start or final record.
  return (c: Coordination, st: DependencyState, r: SharedDependencyRecord): void => {
    const key = keyOf(r.agentId, r.dependencyId);
    const current = st.waits.get(key);
    const open = current !== undefined && current.finishedAt === undefined && current.status === "in_progress" ? current : undefined;
    if (r.status === "in_progress") {
      const mine = r.owner === ctx.replicaId;
      const proposal = mine ? ctx.proposals.get(r.waitId) : undefined;
      if (proposal !== undefined) ctx.proposals.delete(r.waitId);
      // Two starts of one key raced: the later in the coordination's order joins the earlier, on every replica.
      if (open !== undefined) {
        if (proposal !== undefined) join(proposal, open);
        return;
      }
      if (mine) {
        if (proposal !== undefined) ctx.startOwn(st, key, proposal);
        else {
          // Its call failed before the start came back (the write's answer was lost): it ends at once, said so.
          const orphan = waitOf(c, r, true);
          orphan.leftWith = ["failed", `Dependency '${r.dependencyId}' ended: its call failed before the wait was registered`];
          ctx.startOwn(st, key, orphan);
        }
        return;
      }
      // Another replica's wait: a mirror, in the graph and the gate and resource indexes, never decided here.
      const mirror = waitOf(c, r, false);
      st.waits.delete(key);
      st.waits.set(key, mirror);
      ctx.register(st, mirror);
      return;
    }
    if (r.owner === ctx.replicaId) return; // this replica's own final: applied when it happened
    // Made before a clear that came first in the coordination's order: that clear ended the wait everywhere.
    if (r.afterClear !== st.lastClear) return;
    const at = { finishedAt: r.finishedAt ?? ctx.now(), durationMs: r.durationMs };
    if (open !== undefined) {
      // An own open wait is this replica's to end: a final of another replica for its key is an older wait's.
      if (!open.owned) {
        open.abandoned = r.abandoned;
        // Its owner's callers left, not this replica's: they go on waiting, on a wait of this replica's own.
        if (r.abandoned && open.callers > 0) ctx.takeOver(st, open);
        ctx.finish(st, open, r.status, r.message, false, at);
      }
      return;
    }
    if (current !== undefined && current.waitId === r.waitId) {
      // A mirror ended here by its expiry, then its owner's word after all.
      current.status = r.status;
      current.message = r.message;
      current.abandoned = r.abandoned;
      current.finishedAt = at.finishedAt;
      current.durationMs = at.durationMs;
      return;
    }
    // A record found finished (a load): kept as it ended.
    const done = waitOf(c, r, false);
    done.abandoned = r.abandoned;
    st.waits.delete(key);
    st.waits.set(key, done);
    ctx.finish(st, done, r.status, r.message, false, at);
  };
}
