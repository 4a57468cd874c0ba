import { create, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { abortedByShutdown, interruptKey, wireFormatOf } from "../binding/call-context.js";
import { attachEncoding, encodeRepeatedMessages } from "../binding/pre-encoded.js";
import type { ContextMode } from "../core/context/context-backend.js";
import { streamContextWatch, watcherLagging, watchShuttingDown, type ContextEngine, type ContextWatchStream } from "../core/context/context-engine.js";
import { sharedIntelligenceParts, type AgentContextRecord } from "../core/context/types.js";
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
import { contextElementSize, contextEncodingParts, contextMessage, distributeInput } from "./context-messages.js";
import { sequenceOf } from "./convert.js";
import { responseReserveBytes } from "./encoded-size.js";

/** Options of {@link createContextService}. */
export interface ContextServiceOptions {
  /** The engine; with a shared backend its changes return promises, awaited here. */
  readonly engine: ContextEngine<ContextMode>;
  /** Largest response message in bytes: pages are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
  /**
   * A shared backend's "serve before use" (see `SignalServiceOptions.prepare`): awaited before each call touches a
   * coordination; `mayCreate` false for reads and clears. Unset in memory. @default none
   */
  readonly prepare?: (coordinationId: string, mayCreate: boolean) => Promise<void> | undefined;
}

/** The page budget of a response in the call's format. */
const budgetFor = (maxBytes: number, ctx: Parameters<typeof wireFormatOf>[0]) => ({ maxBytes, sizeOf: contextElementSize(wireFormatOf(ctx)) });

/** Where a response holds its contexts: a repeated `contexts`, a single `context`, or the `state` oneof's `context`. */
type ContextsField = "contexts" | "context" | "state";

/**
 * A response of `schema`: `rest` (its other fields) and `records`' contexts in field 1 (`field`). For the gRPC
 * bridge (`preEncode`, which sends attached bytes as they are), its encoding is attached, framed from each
 * context's cached parts — every agent's copy of a shared intelligence is encoded once, not once per agent — and
 * the context messages are made only if something reads them. Field 1 comes first in `toBinary`'s output, so the
 * bytes are exactly its own (a property test compares them).
 */
export function contextsResponse<Desc extends DescMessage>(
  schema: Desc,
  rest: MessageInitShape<Desc>,
  field: ContextsField,
  records: readonly AgentContextRecord[],
  preEncode: boolean,
): MessageShape<Desc> {
  const value = () => {
    if (field === "contexts") return records.map(contextMessage);
    const context = contextMessage(records[0] as AgentContextRecord);
    return field === "context" ? context : { case: "context", value: context };
  };
  if (!preEncode) return create(schema, { ...rest, [field]: value() } as MessageInitShape<Desc>);
  const message = create(schema, rest);
  const bytes = Buffer.concat([encodeRepeatedMessages(1, records.map(contextEncodingParts)), toBinary(schema, message)]);
  let made: unknown;
  Object.defineProperty(message, field, { get: () => (made ??= value()), enumerable: true, configurable: true });
  return attachEncoding(message, bytes);
}

/** ContextService: proto messages ⇄ the context engine. Served by both transports. */
export function createContextService(options: ContextServiceOptions): ServiceImpl<typeof ContextService> {
  const { engine, prepare } = options;
  const pageBytes = options.maxMessageBytes - responseReserveBytes;
  return {
    async distributeContext(req, ctx) {
      const input = distributeInput(req);
      if (prepare !== undefined) {
        // Refused before its coordination is served: a refused call brings nothing into being, here or shared.
        engine.checkDistribute(input, []);
        const ready = prepare(req.coordinationId, true);
        if (ready !== undefined) await ready;
      }
      const distributed = engine.distribute(input, [], budgetFor(pageBytes, ctx));
      const page = distributed instanceof Promise ? await distributed : distributed;
      const rest = { revision: BigInt(page.revision), nextPageToken: page.nextPageToken };
      return contextsResponse(DistributeContextResponseSchema, rest, "contexts", page.contexts, ctx.protocolName === "grpc");
    },

    async getAgentContext(req, ctx) {
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready;
      const record = engine.get(req.coordinationId, req.agentId);
      return contextsResponse(GetAgentContextResponseSchema, {}, "context", [record], ctx.protocolName === "grpc");
    },

    async listAgentContexts(req, ctx) {
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready;
      const page = engine.list({ coordinationId: req.coordinationId, pageSize: req.pageSize, pageToken: req.pageToken, budget: budgetFor(pageBytes, ctx) });
      const rest = { nextPageToken: page.nextPageToken, revision: BigInt(page.revision) };
      return contextsResponse(ListAgentContextsResponseSchema, rest, "contexts", page.contexts, ctx.protocolName === "grpc");
    },

    async updateSharedIntelligence(req) {
      // An unknown part changes nothing and reports false (SPEC.md §3), so the enum is not checked here.
      const part = sharedIntelligenceParts[req.updateType - 1] ?? "";
      const input = {
        coordinationId: req.coordinationId,
        part,
        data: req.updateData ?? {},
        targetAgentIds: req.targetAgentIds,
        ...(req.incrementVersion !== undefined && { incrementVersion: req.incrementVersion }),
      };
      if (prepare !== undefined) {
        engine.checkUpdate(input);
        // An update of a coordination that exists nowhere changes nothing and reports nothing, as in memory.
        const ready = prepare(req.coordinationId, false);
        if (ready !== undefined) await ready;
      }
      const updated = engine.update(input);
      const r = updated instanceof Promise ? await updated : updated;
      return create(UpdateSharedIntelligenceResponseSchema, { results: r.results, revision: BigInt(r.revision) });
    },

    async clearContexts(req) {
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready;
      const cleared = engine.clear(req.coordinationId);
      return create(ClearContextsResponseSchema, { cleared: cleared instanceof Promise ? await cleared : cleared });
    },

    async *watchAgentContext(req, ctx) {
      const v = new Violations();
      const afterRevision = req.afterRevision === undefined ? undefined : sequenceOf(v, "after_revision", req.afterRevision);
      v.throwIfAny();
      if (prepare !== undefined) {
        engine.checkWatch({ coordinationId: req.coordinationId, agentId: req.agentId, ...(afterRevision !== undefined && { afterRevision }) });
        // A resume needs a coordination with that revision: one that exists nowhere is refused, not brought into being.
        const ready = prepare(req.coordinationId, afterRevision === undefined || afterRevision === 0);
        if (ready !== undefined) await ready;
      }
      // A resume point made on another replica: applied here first (a shared backend only).
      const caughtUp = afterRevision === undefined ? undefined : engine.catchUp(req.coordinationId, afterRevision);
      if (caughtUp !== undefined) await caughtUp;
      // Where the transport supports it, a watcher that falls behind, or whose coordination is deleted, is ended at
      // once, even if the client's flow-control window is full (as Subscribe does).
      const interrupt = ctx.values.get(interruptKey);
      let stream: ContextWatchStream | undefined;
      const onOverflow = interrupt && (() => interrupt(watcherLagging(stream?.lastRevision ?? afterRevision ?? 0)));
      const watcher = engine.watch({ coordinationId: req.coordinationId, agentId: req.agentId, ...(afterRevision !== undefined && { afterRevision }) }, onOverflow, interrupt);
      stream = streamContextWatch(watcher, ctx.signal);
      try {
        const schema = WatchAgentContextResponseSchema;
        for await (const change of stream.changes) {
          const revision = BigInt(change.revision);
          if (change.context === null) yield create(schema, { state: { case: "absent", value: {} }, revision });
          else yield contextsResponse(schema, { revision }, "state", [change.context], ctx.protocolName === "grpc");
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
