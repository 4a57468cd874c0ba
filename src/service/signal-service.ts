import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { abortedByShutdown, interruptKey, wireFormatOf, type WireFormat } from "../binding/call-context.js";
import { attachEncoding, encodeRepeatedMessages } from "../binding/pre-encoded.js";
import { ConsortError, Violations } from "../core/errors.js";
import type { SignalEngine } from "../core/signals/signal-engine.js";
import { streamSubscription } from "../core/signals/subscription-stream.js";
import { signalTypes, type SignalRecord } from "../core/signals/types.js";
import {
  type Signal,
  SignalSchema,
  type SignalService,
  SignalType,
  SignalTypeSchema,
  SubscribeResponseSchema,
  PublishResponseSchema,
  ListSignalsResponseSchema,
  GetSignalMetricsResponseSchema,
  ClearSignalsResponseSchema,
} from "../../gen/ts/consort/v1/signal_pb.js";
import { checkedEnum, durationMs, enumValue, sequenceOf, toTimestamp } from "./convert.js";
import { binaryElementSize, jsonBytes, jsonElementSize, responseReserveBytes } from "./encoded-size.js";

/** Options of {@link createSignalService}. */
export interface SignalServiceOptions {
  readonly engine: SignalEngine;
  /** Largest response message in bytes: batches and pages are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
  /** Signals per Subscribe response. @default 256 */
  readonly maxBatch?: number;
  /** Bytes per Subscribe response while catching up (encoded; at most the message limit). @default 1048576 */
  readonly maxBatchBytes?: number;
}

// A signal is converted to its message once, however many subscribers receive it.
const messages = new WeakMap<SignalRecord, Signal>();

/** The proto message of a stored signal (cached per signal). */
export function toSignalMessage(s: SignalRecord): Signal {
  let m = messages.get(s);
  if (m === undefined) {
    m = create(SignalSchema, {
      signalId: s.signalId,
      coordinationId: s.coordinationId,
      sequence: BigInt(s.sequence),
      type: enumValue(signalTypes, s.type) as SignalType,
      senderAgentId: s.senderAgentId,
      recipientAgentIds: s.recipientAgentIds as string[],
      createdAt: toTimestamp(s.createdAt),
      data: s.data,
      metadata: s.metadata,
      idempotencyKey: s.idempotencyKey,
      epoch: s.epoch,
    });
    messages.set(s, m);
  }
  return m;
}

// …encoded once (`SubscribeResponse.signals` and `ListSignalsResponse.signals` are field 1, so a batch's bytes
// are its signals' bytes, framed)…
const encodings = new WeakMap<SignalRecord, Uint8Array>();

function encodedSignal(s: SignalRecord): Uint8Array {
  let b = encodings.get(s);
  if (b === undefined) {
    b = toBinary(SignalSchema, toSignalMessage(s));
    encodings.set(s, b);
  }
  return b;
}

// …and measured once as JSON, for Connect JSON clients.
const jsonSizes = new WeakMap<SignalRecord, number>();

/** What a signal adds to a response's `signals` in `format`, framing included. */
function signalSize(format: WireFormat): (s: SignalRecord) => number {
  if (format === "binary") return (s) => binaryElementSize(encodedSignal(s).byteLength);
  return (s) => {
    let n = jsonSizes.get(s);
    if (n === undefined) jsonSizes.set(s, (n = jsonBytes(SignalSchema, toSignalMessage(s))));
    return jsonElementSize(n);
  };
}
const binarySize = signalSize("binary");
const jsonSize = signalSize("json");

/**
 * A Subscribe response carrying `signals`; with `preEncode` (the gRPC bridge, which sends attached bytes as they
 * are), its wire encoding attached, framed from each signal's cached encoding (see pre-encoded.ts).
 */
function signalsResponse(signals: readonly SignalRecord[], preEncode: boolean) {
  const msg = create(SubscribeResponseSchema, { signals: signals.map(toSignalMessage) });
  return preEncode ? attachEncoding(msg, encodeRepeatedMessages(1, signals.map(encodedSignal))) : msg;
}

/** The stream's end on server shutdown: UNAVAILABLE with the point to resume after. */
function shuttingDown(lastDelivered: number): ConsortError {
  return new ConsortError("unavailable", `server is shutting down; resume with after_sequence=${lastDelivered}`, {
    reason: "SHUTTING_DOWN",
    metadata: { last_delivered_sequence: String(lastDelivered) },
  });
}

/** SignalService: proto messages ⇄ the signal engine. Served by both transports. */
export function createSignalService(options: SignalServiceOptions): ServiceImpl<typeof SignalService> {
  const { engine } = options;
  const pageBytes = options.maxMessageBytes - responseReserveBytes;
  const batchBytes = Math.min(options.maxBatchBytes ?? 1024 * 1024, pageBytes);
  const sizeFor = (ctx: HandlerContext) => (wireFormatOf(ctx) === "json" ? jsonSize : binarySize);
  const typesOf = (v: Violations, field: string, types: readonly SignalType[]) =>
    types.map((t, i) => checkedEnum(v, `${field}[${i}]`, SignalTypeSchema, signalTypes, t, true));

  return {
    async publish(req) {
      const v = new Violations();
      const type = checkedEnum(v, "type", SignalTypeSchema, signalTypes, req.type, true);
      const { signal, duplicate } = engine.publish(
        {
          coordinationId: req.coordinationId,
          type,
          senderAgentId: req.senderAgentId,
          recipientAgentIds: req.recipientAgentIds,
          ...(req.data !== undefined && { data: req.data }),
          ...(req.metadata !== undefined && { metadata: req.metadata }),
          idempotencyKey: req.idempotencyKey,
        },
        v.list,
      );
      return create(PublishResponseSchema, { signal: toSignalMessage(signal), duplicate });
    },

    async *subscribe(req, ctx) {
      const v = new Violations();
      const heartbeatMs = durationMs(v, "heartbeat_interval", req.heartbeatInterval);
      if (heartbeatMs !== undefined && heartbeatMs !== 0 && (heartbeatMs < 100 || heartbeatMs > 3_600_000)) {
        v.add("heartbeat_interval", `must be between 100ms and 1h (or unset), got ${heartbeatMs}ms`);
      }
      const types = typesOf(v, "types", req.types);
      const afterSequence = req.afterSequence === undefined ? undefined : sequenceOf(v, "after_sequence", req.afterSequence);
      const { subscription, headSequence, oldestSequence, epoch } = engine.subscribe(
        {
          coordinationId: req.coordinationId,
          agentId: req.agentId,
          types,
          senderAgentIds: req.senderAgentIds,
          ...(afterSequence !== undefined && { afterSequence }),
          epoch: req.epoch,
        },
        v.list,
      );
      // Where the transport supports it, a lag cut ends the stream at once, even if the client's flow-control
      // window is full.
      // connect serializes the message itself: bytes attached for it would be framed for nothing.
      const preEncode = ctx.protocolName === "grpc";
      const interrupt = ctx.values.get(interruptKey);
      if (interrupt !== undefined) subscription.onEnd(interrupt);
      const events = streamSubscription(subscription, {
        signal: ctx.signal,
        ...(heartbeatMs !== undefined && heartbeatMs > 0 && { heartbeatMs }),
        ...(options.maxBatch !== undefined && { maxBatch: options.maxBatch }),
        maxBatchBytes: batchBytes,
        sizeOf: sizeFor(ctx),
        // On shutdown (publishes stopped first) the stream delivers what it holds, then ends UNAVAILABLE.
        flushOnAbort: () => abortedByShutdown(ctx.signal),
      });
      try {
        yield create(SubscribeResponseSchema, {
          subscribed: {
            subscriptionId: subscription.id,
            headSequence: BigInt(headSequence),
            oldestSequence: BigInt(oldestSequence),
            epoch,
          },
        });
        for await (const ev of events) {
          if (ev.kind === "signals") {
            yield signalsResponse(ev.signals, preEncode);
          } else {
            const head = engine.headSequence(req.coordinationId);
            yield create(SubscribeResponseSchema, {
              heartbeat: { headSequence: BigInt(head), sentAt: toTimestamp(Date.now()) },
            });
          }
        }
        // The stream ended because the call's signal aborted: a client cancel or deadline ends it quietly, the
        // server's shutdown with UNAVAILABLE and the resume point.
        if (abortedByShutdown(ctx.signal)) throw shuttingDown(subscription.lastDelivered);
      } finally {
        // A generator never pulled runs no `finally`: close here too, so every ending unregisters (idempotent).
        subscription.close();
      }
    },

    async listSignals(req, ctx) {
      const v = new Violations();
      const types = typesOf(v, "types", req.types);
      const page = engine.list(
        {
          coordinationId: req.coordinationId,
          types,
          senderAgentId: req.senderAgentId,
          ...(req.dataEquals !== undefined && { dataEquals: req.dataEquals }),
          pageSize: req.pageSize,
          pageToken: req.pageToken,
          budget: { maxBytes: pageBytes, sizeOf: sizeFor(ctx) },
        },
        v.list,
      );
      const msg = create(ListSignalsResponseSchema, { signals: page.signals.map(toSignalMessage), nextPageToken: page.nextPageToken });
      if (ctx.protocolName !== "grpc") return msg;
      // The page's signals were encoded to be measured: the response is framed from those bytes, not encoded again.
      const token = page.nextPageToken === "" ? new Uint8Array(0) : new BinaryWriter().tag(2, WireType.LengthDelimited).string(page.nextPageToken).finish();
      return attachEncoding(msg, Buffer.concat([encodeRepeatedMessages(1, page.signals.map(encodedSignal)), token]));
    },

    async getSignalMetrics(req) {
      const m = engine.metrics(req.coordinationId);
      return create(GetSignalMetricsResponseSchema, {
        totalSignalsSent: BigInt(m.totalSignalsSent),
        totalSignalsReceived: BigInt(m.totalSignalsReceived),
        averagePropagationMs: m.averagePropagationMs,
        maxPropagationMs: m.maxPropagationMs,
        signalsByType: Object.fromEntries(Object.entries(m.signalsByType).map(([k, n]) => [k, BigInt(n)])),
        headSequence: BigInt(m.headSequence),
        oldestSequence: BigInt(m.oldestSequence),
        activeSubscriptions: m.activeSubscriptions,
      });
    },

    async clearSignals(req) {
      const r = engine.clear(req.coordinationId);
      return create(ClearSignalsResponseSchema, { clearedSignals: BigInt(r.cleared), headSequence: BigInt(r.headSequence) });
    },
  };
}
