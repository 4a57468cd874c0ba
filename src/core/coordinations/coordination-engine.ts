import { ConsortError, Violations } from "../errors.js";
import type { ContextEngine } from "../context/context-engine.js";
import type { DependencyEngine } from "../dependencies/dependency-engine.js";
import type { DependencyRecordView } from "../dependencies/types.js";
import { defaultLimits, type Limits } from "../limits.js";
import { decodePageToken, encodePageToken, queryFingerprint } from "../page-token.js";
import type { PageBudget } from "../sequence-log.js";
import type { SignalEngine } from "../signals/signal-engine.js";
import type { Coordination, Store } from "../store.js";
import { checkId, pageSize } from "../validate.js";

/** One coordination in figures, as every engine sees it (ListCoordinations, GetCoordination). */
export interface CoordinationSummary {
  readonly coordinationId: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Milliseconds since the epoch of the last call that touched it. */
  readonly lastActivityAt: number;
  /** The signal log's epoch; "" while it has no log (never published to nor subscribed). */
  readonly epoch: string;
  readonly headSequence: number;
  /** Signals retained in the history. */
  readonly signalCount: number;
  readonly agentsWithContext: number;
  /** Open (in-progress) dependency waits. */
  readonly openWaits: number;
  /** Open Subscribe streams. */
  readonly openSubscriptions: number;
  /** Open WatchAgentContext streams. */
  readonly openContextWatches: number;
}

/** One agent of a coordination: whatever any engine knows of it. */
export interface AgentStatus {
  readonly agentId: string;
  /** Its context's version; 0 when it has no context. */
  readonly contextVersion: number;
  readonly hasContext: boolean;
  /** The sequence of the last signal it sent; 0 when none is known. */
  readonly lastSentSequence: number;
  readonly openSubscriptions: number;
  /** Its open waits (it is the waiting agent), oldest first. */
  readonly openWaits: readonly DependencyRecordView[];
}

/** A coordination with its agents, sorted by id. */
export interface CoordinationDetail {
  readonly summary: CoordinationSummary;
  readonly agents: readonly AgentStatus[];
}

/** Options of {@link createCoordinationEngine}. */
export interface CoordinationEngineOptions {
  readonly store: Store;
  readonly signals: Pick<SignalEngine, "summary" | "agentActivity">;
  readonly contexts: Pick<ContextEngine, "summary" | "agentVersions">;
  readonly dependencies: Pick<DependencyEngine, "openWaitCount" | "openWaits">;
  /** @default defaultLimits */
  readonly limits?: Limits;
}

/** Operators' view of the store: every coordination in figures, one in detail, and delete through the drop path. */
export interface CoordinationEngine {
  /**
   * Coordinations in creation order, paginated (`pageSize` 0 means the default, at most `maxPageSize`; a budget
   * bounds the page's bytes as sent). A page token stays valid while coordinations come and go: the next page
   * continues after the last coordination returned, by creation order.
   */
  list(input: { pageSize?: number; pageToken?: string; budget?: PageBudget<CoordinationSummary> }): {
    coordinations: readonly CoordinationSummary[];
    nextPageToken: string;
  };
  /** One coordination and its agents; `not_found` (COORDINATION_NOT_FOUND, naming the id) when unknown. */
  get(coordinationId: string): CoordinationDetail;
  /**
   * Drops the coordination from every engine through the store's one drop path (shared with idle expiry): its
   * signals, contexts, dependency records, gate scores and resources go; its open Subscribe and WatchAgentContext
   * streams and ResolveDependencies calls end `aborted` COORDINATION_DELETED; the id's next use starts a new log,
   * with a new epoch, at sequence 1. Returns its summary just before; `not_found` when unknown, unless
   * `allowMissing` (then `undefined`).
   */
  delete(coordinationId: string, allowMissing?: boolean): CoordinationSummary | undefined;
  /** A coordination of the store in figures now (what WatchCoordinations sends). */
  summarize(coordination: Coordination): CoordinationSummary;
}

/** Creates a {@link CoordinationEngine} over the store and the engines that keep their parts in it. */
export function createCoordinationEngine(options: CoordinationEngineOptions): CoordinationEngine {
  const { store, signals, contexts, dependencies } = options;
  const limits = options.limits ?? defaultLimits;
  // ListCoordinations has no filter: every token carries the same fingerprint.
  const fingerprint = queryFingerprint(["coordinations"]);

  const summarize = (c: Coordination): CoordinationSummary => {
    const s = signals.summary(c.id);
    const x = contexts.summary(c.id);
    return {
      coordinationId: c.id,
      createdAt: c.createdAt,
      lastActivityAt: c.lastActivity,
      epoch: s?.epoch ?? "",
      headSequence: s?.headSequence ?? 0,
      signalCount: s?.signalCount ?? 0,
      agentsWithContext: x?.agentsWithContext ?? 0,
      openWaits: dependencies.openWaitCount(c.id),
      openSubscriptions: s?.openSubscriptions ?? 0,
      openContextWatches: x?.openWatches ?? 0,
    };
  };

  const found = (coordinationId: string): Coordination => {
    checkId("coordination_id", coordinationId, limits.maxIdLength);
    const c = store.peek(coordinationId);
    if (c === undefined) {
      throw new ConsortError("not_found", `coordination ${JSON.stringify(coordinationId)} does not exist (never used, deleted, or expired)`, {
        reason: "COORDINATION_NOT_FOUND",
        metadata: { coordination_id: coordinationId },
      });
    }
    return c;
  };

  return {
    list(input) {
      const v = new Violations();
      const size = pageSize(v, input.pageSize ?? 0, limits.maxPageSize);
      const after = decodePageToken<number>(v, input.pageToken ?? "", fingerprint, "number");
      v.throwIfAny();
      const out: CoordinationSummary[] = [];
      let bytes = 0;
      let more = false;
      let last: Coordination | undefined;
      // The store iterates in creation order, which is serial order: skip up to the cursor, then take a page.
      for (const c of store.all()) {
        if (after !== undefined && c.serial <= after) continue;
        if (out.length === size) {
          more = true;
          break;
        }
        const summary = summarize(c);
        if (input.budget !== undefined) {
          bytes += input.budget.sizeOf(summary);
          if (bytes > input.budget.maxBytes && out.length > 0) {
            more = true;
            break;
          }
        }
        out.push(summary);
        last = c;
      }
      return { coordinations: out, nextPageToken: more && last !== undefined ? encodePageToken(last.serial, fingerprint) : "" };
    },

    get(coordinationId) {
      const c = found(coordinationId);
      const versions = contexts.agentVersions(c.id);
      const activity = signals.agentActivity(c.id);
      const waits = new Map<string, DependencyRecordView[]>();
      for (const w of dependencies.openWaits(c.id)) {
        const list = waits.get(w.agentId);
        if (list === undefined) waits.set(w.agentId, [w]);
        else list.push(w);
      }
      const ids = [...new Set([...versions.keys(), ...activity.keys(), ...waits.keys()])].sort();
      const agents = ids.map((agentId): AgentStatus => {
        const version = versions.get(agentId);
        const a = activity.get(agentId);
        return {
          agentId,
          contextVersion: version ?? 0,
          hasContext: version !== undefined,
          lastSentSequence: a?.lastSentSequence ?? 0,
          openSubscriptions: a?.openSubscriptions ?? 0,
          openWaits: waits.get(agentId) ?? [],
        };
      });
      return { summary: summarize(c), agents };
    },

    summarize,

    delete(coordinationId, allowMissing = false) {
      checkId("coordination_id", coordinationId, limits.maxIdLength);
      if (allowMissing && store.peek(coordinationId) === undefined) return undefined;
      const summary = summarize(found(coordinationId));
      store.delete(coordinationId, "deleted");
      return summary;
    },
  };
}
