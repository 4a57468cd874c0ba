import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { abortedByShutdown, interruptKey, wireFormatOf, type WireFormat } from "../binding/call-context.js";
import { encodeRepeatedMessages, preEncoded } from "../binding/pre-encoded.js";
import { LRUCache } from "lru-cache";
import { ConsortError, isConsortError, Violations } from "../core/errors.js";
import { encodePublishStreamResponse, encodeSignal, type OutcomeFields } from "./signal-codec.js";
import { StatusSchema } from "../../gen/ts/google/rpc/status_pb.js";
import type { PublishReturn, SignalEngine } from "../core/signals/signal-engine.js";
import { streamSubscription } from "../core/signals/subscription-stream.js";
import { signalTypes, type PublishResult, type SignalRecord } from "../core/signals/types.js";
import {
  type Signal,
  SignalSchema,
  type SignalService,
  SignalType,
  SignalTypeSchema,
  SubscribeResponseSchema,
  PublishResponseSchema,
  PublishRequestSchema,
  type PublishRequest,
  type PublishStreamRequest,
  PublishOutcomeSchema,
  type PublishOutcome,
  ListSignalsResponseSchema,
  GetSignalMetricsResponseSchema,
  ClearSignalsResponseSchema,
} from "../../gen/ts/consort/v1/signal_pb.js";
import { checkedEnum, durationMs, enumValue, sequenceOf, toTimestamp } from "./convert.js";
import { binaryElementSize, jsonBytes, jsonElementSize, responseReserveBytes } from "./encoded-size.js";

/** Options of {@link createSignalService}. */
export interface SignalServiceOptions {
  /** The engine, whatever its backend: a publish's result is awaited only when it is a promise. */
  readonly engine: SignalEngine<PublishReturn>;
  /** Largest response message in bytes: batches and pages are cut to fit it, as encoded. */
  readonly maxMessageBytes: number;
  /** Signals per Subscribe response. @default 256 */
  readonly maxBatch?: number;
  /** Bytes per Subscribe response while catching up (encoded; at most the message limit). @default 1048576 */
  readonly maxBatchBytes?: number;
  /**
   * Bytes of recent signals' encodings kept for fan-out and resumed reads (older ones are encoded again when
   * read). @default 16777216 (16 MiB)
   */
  readonly encodingCacheBytes?: number;
  /**
   * The encoded google.rpc.Status a call refused with `err` ends with (code, message, ErrorInfo, BadRequest): what
   * a PublishStream outcome carries in-band for a refused request. The composition root passes the transports'
   * own, so an in-band refusal is the very status the call would have ended with.
   */
  readonly statusBytes: (err: ConsortError) => Uint8Array;
  /**
   * Makes a coordination ready before a call touches its signals: a shared backend serves it on this replica
   * (loads its view, follows it). Returns `undefined` when it is ready already, so only a coordination's first
   * call here waits; a rejection (a `ConsortError`) is the call's. `mayCreate` is false for the calls that only
   * read or clear (ListSignals, GetSignalMetrics, ClearSignals): as in memory, they do not bring an unknown
   * coordination into being. Unset for the in-memory backend: no await at all.
   * @default none
   */
  readonly prepare?: (coordinationId: string, mayCreate: boolean) => Promise<void> | undefined;
}

/**
 * The proto message of a stored signal, built on demand: retained signals are kept once, as records (a million of
 * them within 1 GiB), and the gRPC port sends their cached bytes without building messages at all.
 */
export function toSignalMessage(s: SignalRecord): Signal {
  return create(SignalSchema, {
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
}

/**
 * The encodings of recently used signals, bounded in bytes: a signal fanned out to many subscribers, and read back
 * by a resuming one, is encoded once while it is recent; an old one is encoded again when read.
 */
interface SignalEncodings {
  /** The signal's protobuf encoding. */
  binary(s: SignalRecord): Uint8Array;
  /** What the signal adds to a response's `signals` in `format`, framing included. */
  sizeOf(format: WireFormat): (s: SignalRecord) => number;
}

function createSignalEncodings(maxBytes: number): SignalEncodings {
  const encodings = new LRUCache<SignalRecord, Uint8Array>({ maxSize: maxBytes, sizeCalculation: (b) => Math.max(1, b.byteLength) });
  // Connect JSON clients are measured as JSON; the size of a recent signal is kept (a number, not its text).
  const jsonSizes = new LRUCache<SignalRecord, number>({ max: Math.max(1, Math.floor(maxBytes / 256)) });
  const binary = (s: SignalRecord): Uint8Array => {
    let b = encodings.get(s);
    if (b === undefined) {
      b = encodeSignal(s);
      // One larger than the whole cache is sent, not kept.
      if (b.byteLength <= maxBytes) encodings.set(s, b);
    }
    return b;
  };
  const binarySize = (s: SignalRecord) => binaryElementSize(binary(s).byteLength);
  const jsonSize = (s: SignalRecord) => {
    let n = jsonSizes.get(s);
    if (n === undefined) jsonSizes.set(s, (n = jsonBytes(SignalSchema, toSignalMessage(s))));
    return jsonElementSize(n);
  };
  return { binary, sizeOf: (format) => (format === "binary" ? binarySize : jsonSize) };
}

/**
 * A response whose repeated field 1 holds signals (SubscribeResponse, ListSignalsResponse), carrying its wire
 * encoding framed from each signal's cached bytes, then field 2 (`next_page_token`) when there is one. The messages are
 * built only if a transport reads `signals` (the gRPC bridge sends the bytes). A class: an object literal with a
 * getter would make a new hidden class per call.
 */
class EncodedSignalsResponse {
  readonly [preEncoded]: Uint8Array;
  readonly #signals: readonly SignalRecord[];
  constructor(signals: readonly SignalRecord[], encodings: SignalEncodings, readonly nextPageToken = "") {
    this.#signals = signals;
    const body = encodeRepeatedMessages(1, signals.map(encodings.binary));
    this[preEncoded] =
      nextPageToken === "" ? body : Buffer.concat([body, new BinaryWriter().tag(2, WireType.LengthDelimited).string(nextPageToken).finish()]);
  }
  get signals(): Signal[] {
    return this.#signals.map(toSignalMessage);
  }
}

/** A PublishResponse carrying its wire encoding, framed from the signal's cached bytes; its message built on demand. */
class EncodedPublishResponse {
  readonly [preEncoded]: Uint8Array;
  readonly #signal: SignalRecord;
  constructor(signal: SignalRecord, encodings: SignalEncodings, readonly duplicate: boolean) {
    this.#signal = signal;
    const body = encodeRepeatedMessages(1, [encodings.binary(signal)]);
    this[preEncoded] = duplicate ? Buffer.concat([body, Uint8Array.of(2 << 3, 1)]) : body;
  }
  get signal(): Signal {
    return toSignalMessage(this.#signal);
  }
}

/** The stream's end on server shutdown: UNAVAILABLE with the point to resume after. */
function shuttingDown(lastDelivered: number): ConsortError {
  return new ConsortError("unavailable", `server is shutting down; resume with after_sequence=${lastDelivered}`, {
    reason: "SHUTTING_DOWN",
    metadata: { last_delivered_sequence: String(lastDelivered) },
  });
}

const emptyPublish = create(PublishRequestSchema);

/** An outcome as a message, for the ports that serialize messages themselves. */
function outcomeMessage(o: OutcomeFields): MessageInitShape<typeof PublishOutcomeSchema> {
  if ("ack" in o) return { outcome: { case: "ack", value: { ...o.ack, sequence: BigInt(o.ack.sequence) } } };
  return { outcome: { case: "error", value: fromBinary(StatusSchema, o.errorBytes) } };
}

/** A PublishStreamResponse carrying its wire encoding; its message built only if a transport reads `outcomes`. */
class EncodedPublishStreamResponse {
  readonly [preEncoded]: Uint8Array;
  readonly #outcomes: readonly OutcomeFields[];
  constructor(outcomes: readonly OutcomeFields[]) {
    this.#outcomes = outcomes;
    this[preEncoded] = encodePublishStreamResponse(outcomes);
  }
  get outcomes(): PublishOutcome[] {
    return this.#outcomes.map((o) => create(PublishOutcomeSchema, outcomeMessage(o)));
  }
}

/** Outcomes per PublishStream response at most, and the bytes they may take (an ack is ~70 bytes encoded). */
const maxOutcomes = 1024;
const maxOutcomeBytes = 256 * 1024;
const ackBytes = 96;

/** SignalService: proto messages ⇄ the signal engine. Served by both transports. */
export function createSignalService(options: SignalServiceOptions): ServiceImpl<typeof SignalService> {
  const { engine, prepare } = options;
  /** A Publish request as the engine takes it, with the violations found decoding it. */
  const publishInputOf = (req: PublishRequest) => {
    const v = new Violations();
    const type = checkedEnum(v, "type", SignalTypeSchema, signalTypes, req.type, true);
    const input = {
      coordinationId: req.coordinationId,
      type,
      senderAgentId: req.senderAgentId,
      recipientAgentIds: req.recipientAgentIds,
      ...(req.data !== undefined && { data: req.data }),
      ...(req.metadata !== undefined && { metadata: req.metadata }),
      idempotencyKey: req.idempotencyKey,
    };
    return { input, found: v.list };
  };
  /** Publish's work, for Publish and for each PublishStream request. */
  const publishOne = (req: PublishRequest) => {
    const { input, found } = publishInputOf(req);
    return engine.publish(input, found);
  };
  /**
   * With a shared backend, serves the coordination of a publish the engine will not refuse outright (invalid,
   * shutting down): a refused publish brings no coordination into being here or in the backend, as in memory.
   */
  const preparePublish = (req: PublishRequest): Promise<void> | undefined => {
    if (prepare === undefined) return undefined;
    const { input, found } = publishInputOf(req);
    engine.checkPublish(input, found);
    return prepare(req.coordinationId, true);
  };
  /** An applied request's ack. */
  const ackOf = ({ signal, duplicate }: PublishResult): OutcomeFields => ({
    ack: { signalId: signal.signalId, sequence: signal.sequence, epoch: signal.epoch, duplicate },
  });
  /** A refused request's outcome: the status Publish would have ended with. */
  const refusalOf = (e: unknown): OutcomeFields => {
    if (isConsortError(e)) return { errorBytes: options.statusBytes(e) };
    throw e; // not the request's fault: the stream ends INTERNAL
  };
  /**
   * One PublishStream request's outcome: its ack, or the status Publish would have ended with; a promise of it only
   * when the engine's backend appends asynchronously.
   */
  const outcomeOf = (req: PublishRequest | undefined): OutcomeFields | Promise<OutcomeFields> => {
    // Requests to a coordination not yet served wait on its one load, in arrival order.
    let ready: Promise<void> | undefined;
    try {
      ready = preparePublish(req ?? emptyPublish);
    } catch (e) {
      return refusalOf(e);
    }
    return ready === undefined ? outcomeNow(req) : ready.then(() => outcomeNow(req), refusalOf);
  };
  const outcomeNow = (req: PublishRequest | undefined): OutcomeFields | Promise<OutcomeFields> => {
    try {
      const r = publishOne(req ?? emptyPublish);
      return r instanceof Promise ? r.then(ackOf, refusalOf) : ackOf(r);
    } catch (e) {
      return refusalOf(e);
    }
  };
  const pageBytes = options.maxMessageBytes - responseReserveBytes;
  const batchBytes = Math.min(options.maxBatchBytes ?? 1024 * 1024, pageBytes);
  const encodings = createSignalEncodings(options.encodingCacheBytes ?? 16 * 1024 * 1024);
  const sizeFor = (ctx: HandlerContext) => encodings.sizeOf(wireFormatOf(ctx));
  const typesOf = (v: Violations, field: string, types: readonly SignalType[]) =>
    types.map((t, i) => checkedEnum(v, `${field}[${i}]`, SignalTypeSchema, signalTypes, t, true));

  return {
    async publish(req, ctx) {
      const ready = preparePublish(req);
      if (ready !== undefined) await ready; // a shared backend serving it here first; in memory, no await
      const r = publishOne(req);
      // Awaited only when the backend appends asynchronously: in memory, the result is there.
      const { signal, duplicate } = r instanceof Promise ? await r : r;
      // The gRPC port sends the signal's bytes, cached for its fan-out too; Connect serializes the message.
      if (ctx.protocolName === "grpc") return new EncodedPublishResponse(signal, encodings, duplicate);
      return create(PublishResponseSchema, { signal: toSignalMessage(signal), duplicate });
    },

    async *publishStream(requests, ctx) {
      const it = requests[Symbol.asyncIterator]();
      // Each request is applied as it arrives; its outcome waits for the others that arrived in the same turn of
      // the event loop, and they go out together in one response (one message per burst, not per signal). Only the
      // gRPC port serves this method (HTTP/1.1 cannot stream both ways): the response carries its bytes.
      // With an asynchronous backend, an outcome may still be a promise: the batch keeps request order and its
      // response waits for all of them (appends are acknowledged in the order made). Only validation refusals have
      // sizes worth counting, and those are known at once; a backend's refusal (unavailable) is small.
      let outcomes: (OutcomeFields | Promise<OutcomeFields>)[] = [];
      let pending = false;
      let bytes = 0;
      const flush = () => {
        const batch = outcomes;
        outcomes = [];
        bytes = 0;
        if (!pending) return new EncodedPublishStreamResponse(batch as OutcomeFields[]);
        pending = false;
        return Promise.all(batch).then((settled) => new EncodedPublishStreamResponse(settled));
      };
      // What the loop waits for — the next request (or the requests' end or failure), the call's abort, the end of
      // the turn — each wakes one pending wait. No promise is raced per request: a Promise.race against a
      // promise that stays pending for the whole stream (the abort) would keep a reaction per request until the
      // stream ends.
      let wake: (() => void) | undefined;
      const wakeUp = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      let read: IteratorResult<PublishStreamRequest> | undefined;
      let readFailed: { error: unknown } | undefined;
      const pull = () => {
        it.next().then(
          (r) => {
            read = r;
            wakeUp();
          },
          (error: unknown) => {
            readFailed = { error };
            wakeUp();
          },
        );
      };
      let turnScheduled = false;
      let turnPassed = false;
      const onTurn = () => {
        turnScheduled = false;
        turnPassed = true;
        wakeUp();
      };
      ctx.signal.addEventListener("abort", wakeUp);
      try {
        pull();
        for (;;) {
          if (read === undefined && readFailed === undefined && !turnPassed && !ctx.signal.aborted) {
            if (outcomes.length > 0 && !turnScheduled) {
              turnScheduled = true;
              setImmediate(onTurn);
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
          if (ctx.signal.aborted) break;
          // A request that arrived comes before the end of the turn: it joins the batch.
          if (read !== undefined) {
            const r = read;
            read = undefined;
            if (r.done === true) break;
            pull();
            const outcome = outcomeOf(r.value.publish);
            outcomes.push(outcome);
            if (outcome instanceof Promise) {
              pending = true;
              bytes += ackBytes;
            } else {
              bytes += "ack" in outcome ? ackBytes : outcome.errorBytes.byteLength + 16;
            }
            if (outcomes.length >= maxOutcomes || bytes >= maxOutcomeBytes) yield flush();
            continue;
          }
          if (readFailed !== undefined) {
            // A request that cannot be decoded ends the stream; the outcomes of those applied before it go first.
            if (outcomes.length > 0) yield flush();
            throw readFailed.error;
          }
          turnPassed = false;
          if (outcomes.length > 0) yield flush();
        }
        if (outcomes.length > 0) yield flush();
        // Ended by the call's signal: a client cancel quietly; the server's shutdown with UNAVAILABLE, after the
        // outcome of every request applied.
        if (abortedByShutdown(ctx.signal)) {
          throw new ConsortError("unavailable", "server is shutting down; publish the signals not acknowledged to a running server", { reason: "SHUTTING_DOWN" });
        }
      } finally {
        ctx.signal.removeEventListener("abort", wakeUp);
        // Outcomes never sent (the call went away first) must not fail later unheard.
        for (const o of outcomes) if (o instanceof Promise) o.catch(() => {});
        // Not awaited: with a read pending it would wait for the client's next request. The read settles when the
        // transport ends the call.
        it.return?.(undefined).catch(() => {});
      }
    },

    async *subscribe(req, ctx) {
      const v = new Violations();
      const heartbeatMs = durationMs(v, "heartbeat_interval", req.heartbeatInterval);
      if (heartbeatMs !== undefined && heartbeatMs !== 0 && (heartbeatMs < 100 || heartbeatMs > 3_600_000)) {
        v.add("heartbeat_interval", `must be between 100ms and 1h (or unset), got ${heartbeatMs}ms`);
      }
      const types = typesOf(v, "types", req.types);
      const afterSequence = req.afterSequence === undefined ? undefined : sequenceOf(v, "after_sequence", req.afterSequence);
      const input = {
        coordinationId: req.coordinationId,
        agentId: req.agentId,
        types,
        senderAgentIds: req.senderAgentIds,
        ...(afterSequence !== undefined && { afterSequence }),
        epoch: req.epoch,
        observer: req.observer,
      };
      if (prepare !== undefined) {
        // A shared backend serves the coordination here first, but not for a subscription the engine refuses
        // outright (invalid, at the limit), nor creates it for a resume (after_sequence past 0, or an epoch): one
        // of a coordination that exists nowhere is refused against an empty log, OUT_OF_RANGE or EPOCH_CHANGED,
        // as in memory. Either way a refused Subscribe brings no coordination into being.
        engine.checkSubscribe(input, v.list);
        const resumes = afterSequence !== undefined && (afterSequence > 0 || req.epoch !== "");
        const ready = prepare(req.coordinationId, !resumes);
        if (ready !== undefined) await ready;
      }
      const { subscription, headSequence, oldestSequence, epoch } = engine.subscribe(input, v.list);
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
            yield preEncode ? new EncodedSignalsResponse(ev.signals, encodings) : create(SubscribeResponseSchema, { signals: ev.signals.map(toSignalMessage) });
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
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready; // a shared backend serving it here first; in memory, no await
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
      // The page's signals were encoded to be measured: the gRPC response is framed from those bytes.
      if (ctx.protocolName === "grpc") return new EncodedSignalsResponse(page.signals, encodings, page.nextPageToken);
      return create(ListSignalsResponseSchema, { signals: page.signals.map(toSignalMessage), nextPageToken: page.nextPageToken });
    },

    async getSignalMetrics(req) {
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready; // a shared backend serving it here first; in memory, no await
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
      const ready = prepare?.(req.coordinationId, false);
      if (ready !== undefined) await ready; // a shared backend serving it here first; in memory, no await
      const r = await engine.clear(req.coordinationId);
      return create(ClearSignalsResponseSchema, { clearedSignals: BigInt(r.cleared), headSequence: BigInt(r.headSequence) });
    },
  };
}
