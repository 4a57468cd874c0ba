import { create, toBinary } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { invalidField } from "../core/errors.js";
import type { SignalEngine } from "../core/signals/signal-engine.js";
import { streamSubscription } from "../core/signals/subscription-stream.js";
import { signalTypes, type SignalRecord } from "../core/signals/types.js";
import {
  type Signal,
  SignalSchema,
  type SignalService,
  SignalType,
  SubscribeResponseSchema,
  PublishResponseSchema,
  ListSignalsResponseSchema,
  GetSignalMetricsResponseSchema,
  ClearSignalsResponseSchema,
} from "../../gen/ts/consort/v1/signal_pb.js";
import { durationMs, sequenceOf, toTimestamp } from "./convert.js";
import { attachEncoding, encodeRepeatedMessages } from "./pre-encoded.js";

/** Options of {@link createSignalService}. */
export interface SignalServiceOptions {
  readonly engine: SignalEngine;
  /** Signals per Subscribe response. @default 256 */
  readonly maxBatch?: number;
  /** Approximate bytes per Subscribe response. @default 1048576 */
  readonly maxBatchBytes?: number;
}

/** Type name of an enum value (SIGNAL_TYPE_AGENT_COMPLETED → agent_completed); "" for unspecified or unknown. */
export function signalTypeName(t: SignalType): string {
  return t >= 1 && t <= signalTypes.length ? (signalTypes[t - 1] as string) : "";
}

/** The enum value of a type name. */
export function signalTypeValue(name: string): SignalType {
  return (signalTypes.indexOf(name as (typeof signalTypes)[number]) + 1) as SignalType;
}

const specifiedTypes = signalTypes.map((_, i) => SignalType[i + 1]).join(", ");

function typeNames(field: string, types: readonly SignalType[]): string[] {
  return types.map((t, i) => {
    const name = signalTypeName(t);
    if (name === "") throw invalidField(`${field}[${i}]`, `must be a specified signal type (${specifiedTypes}), got ${SignalType[t] ?? t}`);
    return name;
  });
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
      type: signalTypeValue(s.type),
      senderAgentId: s.senderAgentId,
      recipientAgentIds: s.recipientAgentIds as string[],
      createdAt: toTimestamp(s.createdAt),
      data: s.data,
      metadata: s.metadata,
      idempotencyKey: s.idempotencyKey,
    });
    messages.set(s, m);
  }
  return m;
}

// …and encoded once: `SubscribeResponse.signals` is field 1, so a batch's bytes are its signals' bytes, framed.
const encodings = new WeakMap<SignalRecord, Uint8Array>();

function encodedSignal(s: SignalRecord): Uint8Array {
  let b = encodings.get(s);
  if (b === undefined) {
    b = toBinary(SignalSchema, toSignalMessage(s));
    encodings.set(s, b);
  }
  return b;
}

/** A Subscribe response carrying `signals`, with its wire encoding attached (see pre-encoded.ts). */
function signalsResponse(signals: readonly SignalRecord[]) {
  const msg = create(SubscribeResponseSchema, { signals: signals.map(toSignalMessage) });
  return attachEncoding(msg, encodeRepeatedMessages(1, signals.map(encodedSignal)));
}

/** SignalService: proto messages ⇄ the signal engine. Served by both transports. */
export function createSignalService(options: SignalServiceOptions): ServiceImpl<typeof SignalService> {
  const { engine } = options;
  return {
    async publish(req) {
      const type = signalTypeName(req.type);
      if (type === "") throw invalidField("type", `must be a specified signal type (${specifiedTypes}), got ${SignalType[req.type] ?? req.type}`);
      const { signal, duplicate } = engine.publish({
        coordinationId: req.coordinationId,
        type,
        senderAgentId: req.senderAgentId,
        recipientAgentIds: req.recipientAgentIds,
        ...(req.data !== undefined && { data: req.data }),
        ...(req.metadata !== undefined && { metadata: req.metadata }),
        idempotencyKey: req.idempotencyKey,
      });
      return create(PublishResponseSchema, { signal: toSignalMessage(signal), duplicate });
    },

    async *subscribe(req, ctx) {
      const heartbeatMs = durationMs("heartbeat_interval", req.heartbeatInterval);
      if (heartbeatMs !== undefined && heartbeatMs !== 0 && (heartbeatMs < 100 || heartbeatMs > 3_600_000)) {
        throw invalidField("heartbeat_interval", `must be between 100ms and 1h (or unset), got ${heartbeatMs}ms`);
      }
      const { subscription, headSequence, oldestSequence } = engine.subscribe({
        coordinationId: req.coordinationId,
        agentId: req.agentId,
        types: typeNames("types", req.types),
        senderAgentIds: req.senderAgentIds,
        ...(req.afterSequence !== undefined && { afterSequence: sequenceOf("after_sequence", req.afterSequence) }),
      });
      // Where the transport supports it, a lag cut or shutdown ends the stream at once, even if the client's
      // flow-control window is full.
      const interrupt = (ctx as { interrupt?: (err: unknown) => void }).interrupt;
      if (interrupt !== undefined) subscription.onEnd(interrupt);
      const events = streamSubscription(subscription, {
        signal: ctx.signal,
        ...(heartbeatMs !== undefined && heartbeatMs > 0 && { heartbeatMs }),
        ...(options.maxBatch !== undefined && { maxBatch: options.maxBatch }),
        ...(options.maxBatchBytes !== undefined && { maxBatchBytes: options.maxBatchBytes }),
      });
      try {
        yield create(SubscribeResponseSchema, {
          subscribed: {
            subscriptionId: subscription.id,
            headSequence: BigInt(headSequence),
            oldestSequence: BigInt(oldestSequence),
          },
        });
        for await (const ev of events) {
          if (ev.kind === "signals") {
            yield signalsResponse(ev.signals);
          } else {
            const head = engine.headSequence(req.coordinationId);
            yield create(SubscribeResponseSchema, {
              heartbeat: { headSequence: BigInt(head), sentAt: toTimestamp(Date.now()) },
            });
          }
        }
      } finally {
        // A generator never pulled runs no `finally`: close here too, so every ending unregisters (idempotent).
        subscription.close();
      }
    },

    async listSignals(req) {
      const page = engine.list({
        coordinationId: req.coordinationId,
        types: typeNames("types", req.types),
        senderAgentId: req.senderAgentId,
        ...(req.dataEquals !== undefined && { dataEquals: req.dataEquals }),
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return create(ListSignalsResponseSchema, {
        signals: page.signals.map(toSignalMessage),
        nextPageToken: page.nextPageToken,
      });
    },

    async getSignalMetrics(req) {
      const m = engine.metrics(req.coordinationId);
      return create(GetSignalMetricsResponseSchema, {
        totalSignalsSent: BigInt(m.totalSignalsSent),
        totalSignalsReceived: BigInt(m.totalSignalsReceived),
        averagePropagationMs: m.averagePropagationMs,
        maxPropagationMs: m.maxPropagationMs,
        signalsByType: Object.fromEntries(Object.entries(m.signalsByType).map(([k, v]) => [k, BigInt(v)])),
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
