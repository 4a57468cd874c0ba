// A coordination's signal timeline, followed with SignalService.Subscribe and resumed by sequence: after a dropped
// connection or a server restart the feed subscribes again from the last sequence it showed, in the epoch it
// showed it, so no row is lost or repeated. When the server's log is another one (a restart of an in-memory
// server, a deleted coordination) or older signals are no longer retained, the feed says so with a `reset` entry
// instead of silently starting over.
import { Code, ConnectError } from "@connectrpc/connect";
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { SignalType, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import type { SubscribeRequestSchema } from "../../gen/ts/consort/v1/signal_pb.js";
import { sleep } from "./sleep.js";

/** One signal as the timeline shows it. */
export interface SignalRow {
  readonly kind: "signal";
  readonly epoch: string;
  readonly sequence: bigint;
  /** The type's original name, e.g. `agent_completed`. */
  readonly type: string;
  readonly sender: string;
  readonly recipients: readonly string[];
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly data: JsonValue;
}

/** Where the timeline could not continue where it was. */
export interface ResetRow {
  readonly kind: "reset";
  /** What happened, for the operator. */
  readonly message: string;
  /** The epoch the timeline continues in (empty when not known yet). */
  readonly epoch: string;
}

/** An entry of the timeline. */
export type TimelineEntry = SignalRow | ResetRow;

/** How the feed's connection stands. */
export type FeedStatus =
  | { readonly state: "connecting" }
  | { readonly state: "live"; readonly epoch: string; readonly headSequence: bigint }
  | { readonly state: "retrying"; readonly reason: string; readonly inMs: number }
  | { readonly state: "deleted" }
  | { readonly state: "stopped" };

/** The one method of SignalService the feed calls. */
export interface SubscribeClient {
  subscribe(request: MessageInitShape<typeof SubscribeRequestSchema>, options: { signal: AbortSignal }): AsyncIterable<SubscribeResponse>;
}

/** Options of {@link followTimeline}. */
export interface TimelineOptions {
  readonly client: SubscribeClient;
  readonly coordinationId: string;
  /** The agent id the page subscribes as. @default "consort-dashboard" */
  readonly agentId?: string;
  /** Called with each new entry, in order. */
  readonly onEntry: (entry: TimelineEntry) => void;
  /** Called when the connection's state changes. */
  readonly onStatus: (status: FeedStatus) => void;
  /** Ends the feed. */
  readonly signal: AbortSignal;
  /** First wait before a new attempt, doubled per failure up to `maxRetryMs`. @default 250 */
  readonly retryMs?: number;
  /** @default 4000 */
  readonly maxRetryMs?: number;
}

const typeNames: Record<number, string> = {
  [SignalType.AGENT_INITIALIZED]: "agent_initialized",
  [SignalType.AGENT_COMPLETED]: "agent_completed",
  [SignalType.DEPENDENCY_RESOLVED]: "dependency_resolved",
  [SignalType.INTER_AGENT_MESSAGE]: "inter_agent_message",
  [SignalType.STAGE_COMPLETED]: "stage_completed",
  [SignalType.ERROR_RECOVERY_COMPLETED]: "error_recovery_completed",
};

/** The ErrorInfo reason and metadata of an error, when it carries one. */
export function errorInfoOf(e: ConnectError): { reason: string; metadata: Record<string, string> } | undefined {
  const info = e.findDetails(ErrorInfoSchema)[0];
  return info === undefined ? undefined : { reason: info.reason, metadata: info.metadata };
}

/**
 * Follows a coordination's signals until `signal` aborts or the coordination is deleted (the feed then stops: it
 * does not subscribe again, which would create the coordination anew). Resolves when it stops.
 */
export async function followTimeline(o: TimelineOptions): Promise<void> {
  const agentId = o.agentId ?? "consort-dashboard";
  const retryMs = o.retryMs ?? 250;
  const maxRetryMs = o.maxRetryMs ?? 4000;
  let epoch = "";
  let last = 0n;
  let delay = retryMs;
  while (!o.signal.aborted) {
    o.onStatus({ state: "connecting" });
    try {
      const stream = o.client.subscribe(
        { coordinationId: o.coordinationId, agentId, observer: true, afterSequence: last, epoch, heartbeatInterval: durationFromMs(15_000) },
        { signal: o.signal },
      );
      for await (const res of stream) {
        if (res.subscribed !== undefined) {
          epoch = res.subscribed.epoch;
          o.onStatus({ state: "live", epoch, headSequence: res.subscribed.headSequence });
          delay = retryMs;
        }
        for (const s of res.signals) {
          // Defensive: never show a sequence twice in one log.
          if (s.epoch === epoch && s.sequence <= last) continue;
          epoch = s.epoch;
          last = s.sequence;
          o.onEntry({
            kind: "signal",
            epoch: s.epoch,
            sequence: s.sequence,
            type: typeNames[s.type] ?? `type ${s.type}`,
            sender: s.senderAgentId,
            recipients: s.recipientAgentIds,
            createdAt: s.createdAt ? timestampMs(s.createdAt) : 0,
            data: s.data ?? {},
          });
        }
      }
      // The server ended the stream without an error (it does not, but a proxy may): resume.
      if (o.signal.aborted) break;
      o.onStatus({ state: "retrying", reason: "the stream ended", inMs: delay });
    } catch (e) {
      if (o.signal.aborted) break;
      const err = ConnectError.from(e);
      const info = errorInfoOf(err);
      if (err.code === Code.Aborted && info?.reason === "COORDINATION_DELETED") {
        o.onEntry({ kind: "reset", message: "The coordination was deleted: its signals, contexts and waits are gone.", epoch: "" });
        o.onStatus({ state: "deleted" });
        return;
      }
      if (err.code === Code.FailedPrecondition && info?.reason === "EPOCH_CHANGED") {
        o.onEntry({
          kind: "reset",
          message: "History was reset: the server's log for this coordination is a new one (the server restarted, or the coordination was deleted and used again). The rows above are from the old log.",
          epoch: info.metadata["epoch"] ?? "",
        });
        epoch = "";
        last = 0n;
        continue;
      }
      if (err.code === Code.OutOfRange && info?.reason === "HISTORY_TRIMMED") {
        const oldest = BigInt(info.metadata["oldest_sequence"] ?? "0");
        o.onEntry({ kind: "reset", message: `Signals ${last + 1n} to ${oldest - 1n} are no longer retained by the server (history limit or ClearSignals).`, epoch });
        last = oldest - 1n;
        continue;
      }
      if (err.code === Code.OutOfRange && info?.reason === "SEQUENCE_AHEAD") {
        // The log is behind what the page showed under the same epoch: it cannot be, but never loop on it.
        o.onEntry({ kind: "reset", message: "History was reset: the server's log is behind what this page showed.", epoch });
        last = BigInt(info.metadata["head_sequence"] ?? "0");
        continue;
      }
      o.onStatus({ state: "retrying", reason: err.rawMessage || Code[err.code], inMs: delay });
    }
    await sleep(delay, o.signal);
    delay = Math.min(delay * 2, maxRetryMs);
  }
  o.onStatus({ state: "stopped" });
}

