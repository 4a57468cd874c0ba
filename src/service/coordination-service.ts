import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { wireFormatOf } from "../binding/call-context.js";
import type { AgentStatus as AgentStatusView, CoordinationEngine, CoordinationSummary } from "../core/coordinations/coordination-engine.js";
import {
  AgentStatusSchema,
  CoordinationSchema,
  DeleteCoordinationResponseSchema,
  GetCoordinationResponseSchema,
  ListCoordinationsResponseSchema,
  type AgentStatus,
  type Coordination,
  type CoordinationService,
} from "../../gen/ts/consort/v1/coordination_pb.js";
import { ConsortError } from "../core/errors.js";
import { toTimestamp } from "./convert.js";
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

/** Options of {@link createCoordinationService}. */
export interface CoordinationServiceOptions {
  readonly engine: CoordinationEngine;
  /** Largest response message in bytes: pages and agent lists are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
  /** Agents GetCoordination lists at most (the server's page size limit). */
  readonly maxAgents: number;
}

/** CoordinationService: proto messages ⇄ the coordination engine. Served by both transports. */
export function createCoordinationService(options: CoordinationServiceOptions): ServiceImpl<typeof CoordinationService> {
  const { engine, maxAgents } = options;
  const pageBytes = options.maxMessageBytes - responseReserveBytes;
  return {
    async listCoordinations(req, ctx) {
      const m = measuredMessages(CoordinationSchema, coordinationMessage, wireFormatOf(ctx), pageBytes);
      const page = engine.list({ pageSize: req.pageSize, pageToken: req.pageToken, budget: m.budget });
      return create(ListCoordinationsResponseSchema, { coordinations: page.coordinations.map(m.message), nextPageToken: page.nextPageToken });
    },

    async getCoordination(req, ctx) {
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

    // Landing in the next step (issue 11): the proto and generated clients come first so the dashboard and the
    // server side of the watch are built against one contract.
    // eslint-disable-next-line require-yield
    async *watchCoordinations() {
      throw new ConsortError("unimplemented", "WatchCoordinations is not served yet", { reason: "UNIMPLEMENTED" });
    },

    async deleteCoordination(req) {
      const before = engine.delete(req.coordinationId, req.allowMissing);
      return create(DeleteCoordinationResponseSchema, { deleted: before !== undefined, ...(before !== undefined && { coordination: coordinationMessage(before) }) });
    },
  };
}
