import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "nats";
import { apiErrorCode, callerMsgId, consortSequenceHeader, consortSequenceOf, type Head, noMessageFoundCode, readHead } from "./signal-head.js";

/**
 * Following one coordination's signals with one ordered consumer (a pull consumer the client recreates at the
 * right place when deliveries skip, e.g. after a reconnect), verified record by record.
 *
 * **Where it starts.** It reads the subject's head first. Following from the head (`after` = head) starts the
 * consumer at the head's stream sequence + 1: live only. Following from further back starts it at the subject's
 * first retained message and skips, verified, the records up to `after` (at most the history limit): a Consort
 * sequence cannot be turned into a stream sequence without reading.
 *
 * **From what is retained.** `"retained"` instead of a sequence follows from the subject's oldest retained record,
 * whatever its sequence (the first record delivered tells it): how a replica loads a coordination's view.
 *
 * **Out of range.** Asked to start before the oldest retained message, JetStream starts the consumer at the oldest
 * one without a word; so the first record is checked: a Consort sequence beyond `after + 1` means the records
 * between were trimmed (history limit), and the follow ends `out_of_range` without applying it. `after` beyond
 * the head ends it `out_of_range` too.
 *
 * **Verification.** The server checks only that an append follows the subject's last message, never its header:
 * each record must carry `Consort-Sequence` = its predecessor's + 1 (the first: `after + 1` when starting at the
 * head), or the follow ends without applying it: `out_of_range` when the records between were trimmed before this
 * consumer read them (it lagged more than the history limit: the last record applied is gone too, since the
 * oldest go first), `invalid_record` otherwise (a message published bypassing Consort, a sequence going back).
 */

/** One signal as the stream holds it. */
export interface SignalLogRecord {
  readonly coordinationId: string;
  /** Its Consort sequence: gap-free per coordination, from the `Consort-Sequence` header, verified. */
  readonly consortSequence: number;
  /** Its stream sequence. */
  readonly streamSequence: number;
  /** The payload as appended (a copy: it does not hold on to the connection's read buffer). */
  readonly payload: Uint8Array;
  /** The msg id it was appended with, if any. */
  readonly msgId: string | undefined;
}

/** Receives each verified record, in order, synchronously; a throw ends the follow (`failed`). */
export type FollowRecordHandler = (record: SignalLogRecord) => void;

/**
 * Why a follow ended:
 * - `stopped`: {@link Follow.stop} was called.
 * - `out_of_range`: the records after `requestedAfter` are no longer (or not yet) in the stream; `oldest` is the
 *   oldest retained Consort sequence when known, `head` the subject's head when the follow started.
 * - `invalid_record`: a record's `Consort-Sequence` is missing or not `expected`; it was not applied.
 * - `failed`: the consumer could not be created or stopped delivering, or `onRecord` threw.
 */
export type FollowEnd =
  | { readonly reason: "stopped" }
  | { readonly reason: "out_of_range"; readonly requestedAfter: number; readonly oldest: number | undefined; readonly head: number; readonly message: string }
  | { readonly reason: "invalid_record"; readonly streamSequence: number; readonly expected: number | undefined; readonly found: string | undefined; readonly message: string }
  | { readonly reason: "failed"; readonly message: string; readonly cause?: unknown };

/** The follower delivered every record up to the subject's head as read when it started (`head`; 0: none). */
export interface CaughtUp {
  readonly reason: "caught_up";
  readonly head: number;
}

/** A running follow of one coordination. */
export interface Follow {
  readonly coordinationId: string;
  /**
   * Resolves once the records up to the head read at start have been handed to `onRecord` (at once when there
   * are none to replay), or with how the follow ended if it ended first: what a replica waits for before it
   * serves the coordination's reads.
   */
  readonly caughtUp: Promise<CaughtUp | FollowEnd>;
  /** Resolves once, when the follow ends, saying why; its consumer is deleted by then. */
  readonly ended: Promise<FollowEnd>;
  /** Ends the follow (`stopped`) and deletes its consumer; resolves when `ended` has. */
  stop(): Promise<FollowEnd>;
}

/** What {@link startFollow} needs from the log. */
export interface FollowContext {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly subject: string;
  /** The coordination's subject token. */
  readonly token: string;
  readonly coordinationId: string;
  /** The Consort sequence to follow after, or `"retained"`: from the oldest retained record, whatever it is. */
  readonly after: number | "retained";
  readonly onRecord: FollowRecordHandler;
  /** Settles when the connection closes (the consumer's own iterator does not end then). */
  readonly connectionClosed: Promise<unknown>;
  /** Told each verified record's place, so appends start from the freshest head. */
  readonly onVerified: (head: Head) => void;
  /**
   * The coordination's cleared-through as this replica knows it: a record just past it, after a gap that it covers,
   * follows records a clear purged before this consumer read them. @default none (0)
   */
  readonly clearedThrough?: () => number;
}

/** Starts following (see the module comment); the returned handle is live at once, the consumer soon after. */
export function startFollow(c: FollowContext): Follow {
  let consumer: Consumer | undefined;
  let messages: ConsumerMessages | undefined;
  let done = false;
  let resolveEnded!: (end: FollowEnd) => void;
  const ended = new Promise<FollowEnd>((resolve) => (resolveEnded = resolve));
  let resolveCaughtUp!: (r: CaughtUp | FollowEnd) => void;
  const caughtUp = new Promise<CaughtUp | FollowEnd>((resolve) => (resolveCaughtUp = resolve));

  // Settles once the consumer is set up or its setup failed: only then is there surely nothing left to release.
  let setUp: Promise<unknown> = Promise.resolve();
  const end = (e: FollowEnd) => {
    if (done) return;
    done = true;
    resolveCaughtUp(e);
    void setUp
      .catch(() => undefined)
      .then(release)
      .finally(() => resolveEnded(e));
  };
  const release = async () => {
    try {
      messages?.stop();
      await consumer?.delete();
    } catch {
      // Gone already (connection closed, or the server removed it): its inactive threshold reaps it otherwise.
    }
  };

  const after = c.after === "retained" ? undefined : c.after;
  // The Consort sequence the next record must carry (undefined until the first record when replaying), and the
  // stream sequence of the last verified one (0 before it).
  let expected: number | undefined;
  let lastStream = 0;
  let head = 0;
  // Set while a gap is examined: nothing more is applied.
  let halted = false;
  const invalid = (m: JsMsg, found: string | undefined) =>
    end({ reason: "invalid_record", streamSequence: m.seq, expected, found, message: `stream sequence ${m.seq} on ${c.subject} carries ${consortSequenceHeader} ${JSON.stringify(found ?? null)}, expected ${expected ?? "a sequence"}` });
  /**
   * A record beyond the expected one: trimmed while this consumer lagged, or published bypassing Consort. The
   * history limit discards the oldest first, so if the records between were trimmed, the last one applied is gone
   * too; if it is still there, nothing was trimmed.
   */
  const examineGap = async (m: JsMsg, sequence: number, found: string) => {
    halted = true;
    try {
      await c.jsm.streams.getMessage(c.stream, { seq: lastStream });
      invalid(m, found);
    } catch (err) {
      if (apiErrorCode(err) !== noMessageFoundCode) return end({ reason: "failed", message: `examining a gap on ${c.subject} failed: ${String(err)}`, cause: err });
      const after = (expected ?? 1) - 1;
      end({ reason: "out_of_range", requestedAfter: after, oldest: sequence, head, message: `the records after ${after} of ${c.subject} were trimmed before this follower read them; the next retained is ${sequence}` });
    }
  };
  const onMessage = (m: JsMsg) => {
    if (done || halted) return;
    const sequence = consortSequenceOf(m.headers);
    // Records purged by a clear before they were read: the next one follows the cleared-through.
    const purgedBefore = expected !== undefined && sequence !== undefined && sequence > expected && sequence - 1 <= (c.clearedThrough?.() ?? 0);
    if (sequence === undefined || (expected !== undefined && sequence !== expected && !purgedBefore)) {
      const found = m.headers?.get(consortSequenceHeader) || undefined;
      if (sequence !== undefined && expected !== undefined && sequence > expected && lastStream > 0) void examineGap(m, sequence, found ?? "");
      else invalid(m, found);
      return;
    }
    if (expected === undefined && after !== undefined && sequence > after + 1) {
      end({ reason: "out_of_range", requestedAfter: after, oldest: sequence, head, message: `the records after ${after} of ${c.subject} are trimmed: the oldest retained is ${sequence}` });
      return;
    }
    expected = sequence + 1;
    lastStream = m.seq;
    c.onVerified({ consortSequence: sequence, streamSequence: m.seq });
    if (after !== undefined && sequence <= after) return;
    try {
      c.onRecord({ coordinationId: c.coordinationId, consortSequence: sequence, streamSequence: m.seq, payload: m.data.slice(), msgId: callerMsgId(c.token, m.headers?.get("Nats-Msg-Id")) });
    } catch (err) {
      end({ reason: "failed", message: `onRecord threw: ${String(err)}`, cause: err });
      return;
    }
    if (sequence >= head) resolveCaughtUp({ reason: "caught_up", head });
  };

  const setUpConsumer = async (): Promise<ConsumerMessages | undefined> => {
    const read = await readHead(c.jsm, c.stream, c.subject);
    if (!read.ok) {
      end({ reason: "invalid_record", streamSequence: read.streamSequence, expected: undefined, found: read.header, message: `the last message of ${c.subject} carries no valid ${consortSequenceHeader}` });
      return undefined;
    }
    head = read.head.consortSequence;
    if (after !== undefined && after > head) {
      end({ reason: "out_of_range", requestedAfter: after, oldest: undefined, head, message: `${c.subject} has no record after ${after}: its head is ${head}` });
      return undefined;
    }
    const fromHead = after === head && head > 0;
    // Nothing to replay: caught up already (`head` is set before any record can be delivered).
    if (head === 0 || fromHead) resolveCaughtUp({ reason: "caught_up", head });
    if (fromHead) {
      expected = head + 1;
      lastStream = read.head.streamSequence;
    }
    if (done) return undefined;
    consumer = await c.js.consumers.get(c.stream, fromHead ? { filterSubjects: c.subject, opt_start_seq: read.head.streamSequence + 1 } : { filterSubjects: c.subject });
    if (done) return undefined;
    // A deleted stream ends the follow rather than being waited for.
    messages = await consumer.consume({ callback: onMessage, abort_on_missing_resource: true });
    return messages;
  };
  void c.connectionClosed.then(() => end({ reason: "failed", message: `the connection following ${c.subject} closed` }));
  const starting = setUpConsumer();
  setUp = starting;
  starting
    .then(async (m) => {
      if (m === undefined) return;
      const closed = await m.closed();
      end({ reason: "failed", message: `the consumer of ${c.subject} stopped delivering${closed ? `: ${closed.message}` : ""}`, cause: closed });
    })
    .catch((err: unknown) => end({ reason: "failed", message: `following ${c.subject} failed: ${String(err)}`, cause: err }));

  return {
    coordinationId: c.coordinationId,
    caughtUp,
    ended,
    stop() {
      end({ reason: "stopped" });
      return ended;
    },
  };
}
