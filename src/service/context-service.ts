import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { abortedByShutdown, wireFormatOf } from "../binding/call-context.js";
import { streamContextWatch, watchShuttingDown, type ContextEngine } from "../core/context/context-engine.js";
import { sharedIntelligenceParts } from "../core/context/types.js";
import { Violations } from "../core/errors.js";
import {
  ClearContextsResponseSchema,
  DistributeContextResponseSchema,
  GetAgentContextResponseSchema,
  ListAgentContextsResponseSchema,
  UpdateSharedIntelligenceResponseSchema,
  WatchAgentContextResponseSchema,
  type ContextService,
} from "../../gen/ts/consort/v1/context_pb.js";
import { contextElementSize, contextMessage, distributeInput } from "./context-messages.js";
import { sequenceOf } from "./convert.js";
import { responseReserveBytes } from "./encoded-size.js";

/** Options of {@link createContextService}. */
export interface ContextServiceOptions {
  readonly engine: ContextEngine;
  /** Largest response message in bytes: pages are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
}

/** The page budget of a response in the call's format. */
const budgetFor = (maxBytes: number, ctx: Parameters<typeof wireFormatOf>[0]) => ({ maxBytes, sizeOf: contextElementSize(wireFormatOf(ctx)) });

/** ContextService: proto messages ⇄ the context engine. Served by both transports. */
export function createContextService(options: ContextServiceOptions): ServiceImpl<typeof ContextService> {
  const { engine } = options;
  const pageBytes = options.maxMessageBytes - responseReserveBytes;
  return {
    async distributeContext(req, ctx) {
      const page = engine.distribute(distributeInput(req), [], budgetFor(pageBytes, ctx));
      return create(DistributeContextResponseSchema, {
        contexts: page.contexts.map(contextMessage),
        revision: BigInt(page.revision),
        nextPageToken: page.nextPageToken,
      });
    },

    async getAgentContext(req) {
      return create(GetAgentContextResponseSchema, { context: contextMessage(engine.get(req.coordinationId, req.agentId)) });
    },

    async listAgentContexts(req, ctx) {
      const page = engine.list({ coordinationId: req.coordinationId, pageSize: req.pageSize, pageToken: req.pageToken, budget: budgetFor(pageBytes, ctx) });
      return create(ListAgentContextsResponseSchema, {
        contexts: page.contexts.map(contextMessage),
        nextPageToken: page.nextPageToken,
        revision: BigInt(page.revision),
      });
    },

    async updateSharedIntelligence(req) {
      // An unknown part changes nothing and reports false (SPEC.md §3), so the enum is not checked here.
      const part = sharedIntelligenceParts[req.updateType - 1] ?? "";
      const r = engine.update({
        coordinationId: req.coordinationId,
        part,
        data: req.updateData ?? {},
        targetAgentIds: req.targetAgentIds,
        ...(req.incrementVersion !== undefined && { incrementVersion: req.incrementVersion }),
      });
      return create(UpdateSharedIntelligenceResponseSchema, { results: r.results, revision: BigInt(r.revision) });
    },

    async clearContexts(req) {
      return create(ClearContextsResponseSchema, { cleared: engine.clear(req.coordinationId) });
    },

    async *watchAgentContext(req, ctx) {
      const v = new Violations();
      const afterRevision = req.afterRevision === undefined ? undefined : sequenceOf(v, "after_revision", req.afterRevision);
      v.throwIfAny();
      const watcher = engine.watch({ coordinationId: req.coordinationId, agentId: req.agentId, ...(afterRevision !== undefined && { afterRevision }) });
      const stream = streamContextWatch(watcher, ctx.signal);
      try {
        for await (const change of stream.changes) {
          yield create(WatchAgentContextResponseSchema, {
            state: change.context === null ? { case: "absent", value: {} } : { case: "context", value: contextMessage(change.context) },
            revision: BigInt(change.revision),
          });
        }
        // Ended by the call's signal: a client cancel or deadline quietly, the server's shutdown with UNAVAILABLE
        // and the resume point.
        if (abortedByShutdown(ctx.signal)) throw watchShuttingDown(stream.lastRevision);
      } finally {
        watcher.close();
      }
    },
  };
}
