import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { abortedByShutdown, wireFormatOf, type WireFormat } from "../binding/call-context.js";
import type { AgentStatus as AgentStatusView, CoordinationEngine, CoordinationSummary } from "../core/coordinations/coordination-engine.js";
import type { CoordinationFeed } from "../core/coordinations/coordination-feed.js";
import { coordinationWatchShuttingDown, type CoordinationChange as ChangeView } from "../core/coordinations/coordination-watch.js";
import {
  AgentStatusSchema,
  CoordinationChangeSchema,
  CoordinationRemovalReason,
  CoordinationSchema,
  DeleteCoordinationResponseSchema,
  GetCoordinationResponseSchema,
  ListCoordinationsResponseSchema,
  WatchCoordinationsResponseSchema,
  type AgentStatus,
  type Coordination,
  type CoordinationChange,
  type CoordinationService,
} from "../../gen/ts/consort/v1/coordination_pb.js";
import { Violations } from "../core/errors.js";
import { sequenceOf, toTimestamp } from "./convert.js";
import { recordMessage } from "./dependency-service.js";
import { elementSize, measuredMessages, responseReserveBytes } from "./encoded-size.js";

/** Open waits listed per agent by GetCoordination at most (`open_wait_count` counts them all). */
export const maxListedWaitsPerAgent = 100;

/** A coordination's figures as its proto message. */
export function coordinationMessage(s: CoordinationSummary): Coordination {
  return create(CoordinationSchema, {
    coordinationId: s.coordinationId,
    createdAt: toTimestamp(s.createdAt),
    lastActivityAt: toTimestamp(s.lastActivityAt),
    epoch: s.epoch,
    headSequence: BigInt(s.headSequence),
    signalCount: BigInt(s.signalCount),
    agentsWithContext: s.agentsWithContext,
    openWaits: s.openWaits,
    openSubscriptions: s.openSubscriptions,
    openContextWatches: s.openContextWatches,
  });
}

/** An agent's status as its proto message, its open waits cut at {@link maxListedWaitsPerAgent}. */
export function agentStatusMessage(a: AgentStatusView): AgentStatus {
  return create(AgentStatusSchema, {
    agentId: a.agentId,
    hasContext: a.hasContext,
    contextVersion: BigInt(a.contextVersion),
    lastSentSequence: BigInt(a.lastSentSequence),
    openSubscriptions: a.openSubscriptions,
    openWaits: a.openWaits.slice(0, maxListedWaitsPerAgent).map(recordMessage),
    openWaitCount: a.openWaits.length,
  });
}

/** A change of the coordination feed as its proto message. */
export function coordinationChangeMessage(c: ChangeView): CoordinationChange {
  const revision = BigInt(c.revision);
  if (c.kind === "updated") return create(CoordinationChangeSchema, { revision, change: { case: "updated", value: coordinationMessage(c.coordination) } });
  const reason = c.reason === "deleted" ? CoordinationRemovalReason.DELETED : CoordinationRemovalReason.EXPIRED;
  return create(CoordinationChangeSchema, { revision, change: { case: "removed", value: { coordinationId: c.coordinationId, reason } } });
}

/**
 * Changes measured for a batch's byte budget in `format`, each made into its message once. A watch lives long: the
 * messages are held by their change (a WeakMap), not by the stream.
 */
function measuredChanges(format: WireFormat, maxBytes: number) {
  const built = new WeakMap<ChangeView, CoordinationChange>();
  const message = (c: ChangeView): CoordinationChange => {
    let m = built.get(c);
    if (m === undefined) built.set(c, (m = coordinationChangeMessage(c)));
    return m;
  };
  return { message, budget: { maxBytes, sizeOf: (c: ChangeView) => elementSize(CoordinationChangeSchema, message(c), format) } };
}

/** Options of {@link createCoordinationService}. */
export interface CoordinationServiceOptions {
  readonly engine: CoordinationEngine;
  /** What WatchCoordinations streams. */
  readonly feed: CoordinationFeed;
  /** Largest response message in bytes: pages and agent lists are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
  /** Agents GetCoordination lists at most (the server's page size limit). */
  readonly maxAgents: number;
  /** Changes one WatchCoordinations response holds at most (the server's page size limit). */
  readonly maxChanges: number;
  /**
   * Makes a coordination's signals ready before GetCoordination or DeleteCoordination reads or drops them (see
   * `SignalServiceOptions.prepare`); unset in memory. @default none
   */
  readonly prepare?: (coordinationId: string) => Promise<void> | undefined;
}

/** CoordinationService: proto messages ⇄ the coordination engine. Served by both transports. */
export function createCoordinationService(options: CoordinationServiceOptions): ServiceImpl<typeof CoordinationService> {
  const { engine, feed, maxAgents, maxChanges, prepare } = options;
  const pageBytes = options.maxMessageBytes - responseReserveBytes;
  return {
    async listCoordinations(req, ctx) {
      const m = measuredMessages(CoordinationSchema, coordinationMessage, wireFormatOf(ctx), pageBytes);
      const page = engine.list({ pageSize: req.pageSize, pageToken: req.pageToken, budget: m.budget });
      return create(ListCoordinationsResponseSchema, { coordinations: page.coordinations.map(m.message), nextPageToken: page.nextPageToken });
    },

    async getCoordination(req, ctx) {
      const ready = prepare?.(req.coordinationId);
      if (ready !== undefined) await ready;
      const { summary, agents } = engine.get(req.coordinationId);
      const coordination = coordinationMessage(summary);
      const format = wireFormatOf(ctx);
      // The agents that fit beside the coordination's figures, by id, at most maxAgents.
      const m = measuredMessages(AgentStatusSchema, agentStatusMessage, format, pageBytes - elementSize(CoordinationSchema, coordination, format));
      const listed: AgentStatus[] = [];
      let bytes = 0;
      for (const a of agents) {
        if (listed.length === maxAgents) break;
        bytes += m.budget.sizeOf(a);
        if (bytes > m.budget.maxBytes && listed.length > 0) break;
        listed.push(m.message(a));
      }
      return create(GetCoordinationResponseSchema, { coordination, agents: listed, agentCount: agents.length });
    },

    async *watchCoordinations(req, ctx) {
      const v = new Violations();
      const afterRevision = sequenceOf(v, "after_revision", req.afterRevision);
      v.throwIfAny();
      const m = measuredChanges(wireFormatOf(ctx), pageBytes);
      const watch = feed.watch({ watchEpoch: req.watchEpoch, afterRevision }, { signal: ctx.signal, budget: m.budget, maxChanges });
      try {
        for await (const b of watch.batches) {
          yield create(WatchCoordinationsResponseSchema, {
            watchEpoch: b.watchEpoch,
            headRevision: BigInt(b.headRevision),
            reset: b.reset,
            caughtUp: b.caughtUp,
            changes: b.changes.map(m.message),
          });
        }
        // Ended by the call's signal: a client cancel or deadline quietly, the server's shutdown with UNAVAILABLE.
        if (abortedByShutdown(ctx.signal)) throw coordinationWatchShuttingDown(feed.watchEpoch, watch.lastRevision);
      } finally {
        watch.close();
      }
    },

    async deleteCoordination(req) {
      // Served first, so a shared backend passes the delete to every replica.
      const ready = prepare?.(req.coordinationId);
      if (ready !== undefined) await ready;
      const before = engine.delete(req.coordinationId, req.allowMissing);
      return create(DeleteCoordinationResponseSchema, { deleted: before !== undefined, ...(before !== undefined && { coordination: coordinationMessage(before) }) });
    },
  };
}
