import { Events, type JetStreamClient, type NatsConnection, headers } from "nats";
import type { SignalStreamMismatchError } from "./errors.js";
import { apiErrorCode, consortSequenceHeader, consortSequenceOf, emptyHead, type Head, lastSequenceOfConflict, noMessageFoundCode, readHead, streamMsgId, wrongLastSequenceCode } from "./signal-head.js";
import { type Follow, type FollowRecordHandler, startFollow } from "./signal-follow.js";
import { ensureStream, normalize } from "./signal-stream.js";
import { coordinationToken, signalSubject } from "./subject.js";

/**
 * The signal log of the JetStream backend (DESIGN.md §8, issue 12): every coordination's signals in one stream,
 * one subject per coordination (`consort.sig.<token>`, see `subject.ts`), bounded per subject by the history limit
 * (`max_msgs_per_subject`, oldest discarded).
 *
 * **Consort sequence and stream sequence.** A coordination's signals are numbered 1, 2, 3… without gap (the
 * *Consort sequence*, carried in the `Consort-Sequence` header); the stream numbers every message of every
 * coordination (the *stream sequence*: increasing, with gaps where other coordinations' messages fall). On one
 * subject both increase together: Consort sequence c+1 is the subject's next message after the one holding c. The
 * log keeps, per coordination, the *head* as known — the Consort and stream sequences of the subject's last
 * message — and appends c+1 with `Nats-Expected-Last-Subject-Sequence` set to the head's stream sequence, so the
 * server stores it only if nothing came in between: whoever wins writes c+1, the others are told "wrong last
 * sequence", read the real head (`last_by_subj`) and try again with its successor (bounded by `maxAttempts`).
 * `Nats-Msg-Id` (the caller's msg id, scoped to the coordination: the server deduplicates stream-wide) makes a
 * retried append return the original within the duplicate window.
 *
 * **What the server does not check.** It compares the predecessor only, never the header: a message published on
 * the subject without Consort (plain NATS or JetStream) is stored all the same. The appender refuses to number
 * after a last message without a valid header (`head_invalid`); a follower verifies that each record is its
 * predecessor + 1 and reports anything else instead of applying it. Plain NATS subscribers on the subject also
 * see publishes the stream rejected (the losers of a conflict): signals are read only through JetStream.
 *
 * **Purge.** Purging a subject (ClearHistory, DeleteCoordination) drops its head with its messages: the next
 * append would find an empty subject and number from 1 again. The coordination's meta in JetStream KV
 * (`coordination-meta.ts`) keeps a *cleared-through* figure — the Consort sequence a purge reached, written with a
 * revision-checked update before the purge — and the head of an empty subject is read as that figure once the
 * log is told it ({@link JetStreamSignalLog.purge} on the replica that clears, {@link JetStreamSignalLog.clearedThrough}
 * on the others, and when a replica serves a coordination). Told nothing, it refuses an append whose head went back
 * (`head_lost`) rather than number from 1 again; the meta is not read here, so a replica that has not yet heard of
 * a clear fails such an append until it does.
 */

/** Options of {@link createJetStreamSignalLog}. */
export interface JetStreamSignalLogOptions {
  /** The connection to publish, read and consume on (the caller owns it: the log never closes it). */
  readonly connection: NatsConnection;
  /** The stream's name. @default "CONSORT_SIGNALS" */
  readonly streamName?: string;
  /** The subjects' prefix: the stream holds `<prefix>.>`. @default "consort.sig" */
  readonly subjectPrefix?: string;
  /**
   * Where the stream keeps messages. Memory suits tests: on nats-server 2.9.10 a memory stream's check of the
   * expected last subject sequence slows with the subject's length (measured: ≈4,500 publishes/s at 2,000 messages,
   * ≈1,350 at 10,000), a file stream's does not (≈6,000).
   * @default "file"
   */
  readonly storage?: "file" | "memory";
  /** Signals kept per coordination (the history limit): the stream's `max_msgs_per_subject`. @default 10_000 */
  readonly historyLimit?: number;
  /** How long the server remembers a `Nats-Msg-Id` to answer a retried append with the original. @default 120_000 */
  readonly duplicateWindowMs?: number;
  /**
   * Publishes one append makes at most when other writers keep winning. A writer that just won appends again in
   * one round trip, one that lost needs two (read the head, publish), so under sustained contention some appends
   * lose many times in a row: measured with 2–3 writers flat out on one coordination, ~1–2% needed more than 10
   * publishes, the worst a few hundred (bench/README).
   * @default 100
   */
  readonly maxAttempts?: number;
  /** How long one publish waits for the server's acknowledgement. @default 5_000 */
  readonly timeoutMs?: number;
}

/** Options of one {@link JetStreamSignalLog.append}. */
export interface AppendOptions {
  /**
   * The append's id, unique within its coordination (1 to 1,000 characters, no line break): an append retried
   * with the same id within the duplicate window returns the original instead of a copy (`Nats-Msg-Id`, prefixed
   * with the coordination's token, so two coordinations may use the same ids).
   */
  readonly msgId: string;
}

/** An append that is in the log. */
export interface Appended {
  readonly ok: true;
  /** Its Consort sequence. */
  readonly consortSequence: number;
  /** Its stream sequence. */
  readonly streamSequence: number;
  /** Whether the server already held this msg id: the sequences are the original's. */
  readonly duplicate: boolean;
  /** Publishes it took. */
  readonly attempts: number;
}

/**
 * Why an append is not in the log:
 * - `conflict`: other writers won every one of `maxAttempts` publishes; nothing was written; try again later.
 * - `unavailable`: no acknowledgement (timeout, no responders, connection closed); it may or may not be written:
 *   try again with the same msg id, which returns the original if it was.
 * - `head_invalid`: the subject's last message has no valid `Consort-Sequence` (published bypassing Consort); the
 *   coordination cannot be numbered on.
 * - `head_lost`: the subject's head went back (it was purged): numbering on would reuse sequences.
 * - `rejected`: the server refused the message for another reason (too large, stream gone…), or the msg id
 *   belongs to a record no longer retained or to no signal; see `message`.
 */
export type AppendFailureReason = "conflict" | "unavailable" | "head_invalid" | "head_lost" | "rejected";

/** An append that is not in the log (or may not be: `unavailable`), with why. */
export interface AppendFailure {
  readonly ok: false;
  readonly reason: AppendFailureReason;
  /** A sentence for the log. */
  readonly message: string;
  /** Publishes it made. */
  readonly attempts: number;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/** What {@link JetStreamSignalLog.append} returns. */
export type AppendResult = Appended | AppendFailure;

/** The JetStream side of the signal log: appends numbered across replicas, and ordered followers. */
export interface JetStreamSignalLog {
  /** The stream's name. */
  readonly streamName: string;
  /** The subject of a coordination's signals. */
  subjectOf(coordinationId: string): string;
  /**
   * Appends a signal's payload as the coordination's next Consort sequence. Appends to one coordination through
   * one log go one at a time, in call order (each needs its predecessor's stream sequence); appends to different
   * coordinations run concurrently. Never rejects: failures are an {@link AppendFailure}.
   */
  append(coordinationId: string, payload: Uint8Array, options: AppendOptions): Promise<AppendResult>;
  /**
   * Follows a coordination with one ordered consumer, from the record after `afterConsortSequence` (0: from the
   * first; `"retained"`: from the oldest retained, whatever its sequence), calling `onRecord` with each verified
   * record in order, then live. See {@link Follow} for how it ends. Throws if this log already follows that
   * coordination: one consumer per coordination, never one per reader.
   */
  follow(coordinationId: string, afterConsortSequence: number | "retained", onRecord: FollowRecordHandler): Follow;
  /** The head this log knows for a coordination (from its appends, head reads and followers), if any. */
  knownHead(coordinationId: string): Head | undefined;
  /** Forgets a coordination's known head (it is read again before the next append) and its cleared-through. */
  forget(coordinationId: string): void;
  /**
   * Records that the coordination was cleared through Consort sequence `sequence` (the meta's cleared-through):
   * its subject, found empty, has that head, and a known head at or below it is forgotten (the purge removed it).
   * Never lowers what it was told.
   */
  clearedThrough(coordinationId: string, sequence: number): void;
  /**
   * Purges the coordination's records up to stream sequence `throughStreamSequence` (the record holding Consort
   * sequence `throughConsortSequence`), keeping any appended after it, and records the cleared-through
   * ({@link clearedThrough}). Write the meta's cleared-through first: a purge loses the subject's head. Rejects
   * when the server refuses or does not answer.
   */
  purge(coordinationId: string, throughConsortSequence: number, throughStreamSequence: number): Promise<void>;
  /**
   * Purges every record of the coordination and forgets it (DeleteCoordination: its next use begins a new epoch,
   * numbered from 1). Rejects when the server refuses or does not answer.
   */
  purgeAll(coordinationId: string): Promise<void>;
}

/**
 * Connects the signal log to JetStream: creates its stream, or checks that the one there has the same subjects,
 * storage, history limit and duplicate window (every replica must agree: a mismatch throws
 * {@link SignalStreamMismatchError} rather than reconfigure what other replicas rely on).
 *
 * @example
 * const log = await createJetStreamSignalLog({ connection: await connect({ servers: "nats://127.0.0.1:4222" }) });
 * const r = await log.append("review-42", payload, { msgId: signalId });
 * if (r.ok) console.log(r.consortSequence);
 */
export async function createJetStreamSignalLog(options: JetStreamSignalLogOptions): Promise<JetStreamSignalLog> {
  const n = normalize(options);
  const nc = options.connection;
  const jsm = await nc.jetstreamManager();
  const js: JetStreamClient = nc.jetstream({ timeout: n.timeoutMs });
  await ensureStream(jsm, n);

  const heads = new Map<string, Head>();
  // The last append queued per coordination: the next one starts when it settles.
  const tails = new Map<string, Promise<unknown>>();
  const following = new Set<string>();
  // Coordination → cleared-through: the head of its subject found empty.
  const floors = new Map<string, number>();
  const clearedThrough = (id: string, sequence: number) => {
    if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError(`a cleared-through sequence is a non-negative integer, got ${sequence}`);
    if (sequence <= (floors.get(id) ?? 0)) return;
    floors.set(id, sequence);
    const known = heads.get(id);
    if (known !== undefined && known.consortSequence <= sequence) heads.delete(id);
  };
  const connectionClosed = nc.closed();
  // While the connection is down (the client reconnects on its own), an append is refused at once rather than
  // after the publish timeout: nothing is sent, so nothing is written.
  let disconnected = false;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect) disconnected = true;
      else if (s.type === Events.Reconnect) disconnected = false;
    }
  })();

  /** Records a head, never going back on one this log knows further on (followers and appends race). */
  const learn = (id: string, head: Head) => {
    const known = heads.get(id);
    if (known === undefined || head.streamSequence > known.streamSequence) heads.set(id, head);
  };

  const failure = (reason: AppendFailureReason, message: string, attempts: number, cause?: unknown): AppendFailure =>
    cause === undefined ? { ok: false, reason, message, attempts } : { ok: false, reason, message, attempts, cause };

  /**
   * Reads the subject's head into `heads`, or says why it cannot be numbered on. Returns the fresher of the read
   * and what this log's follower learned meanwhile (its delivery may overtake the read's reply).
   */
  const refreshHead = async (id: string, subject: string, attempts: number): Promise<Head | AppendFailure> => {
    let read;
    try {
      read = await readHead(jsm, n.streamName, subject);
    } catch (err) {
      return failure("unavailable", `reading the head of ${subject} failed: ${String(err)}`, attempts, err);
    }
    if (!read.ok) {
      return failure("head_invalid", `the last message of ${subject} (stream sequence ${read.streamSequence}) has no valid ${consortSequenceHeader} (${JSON.stringify(read.header ?? null)})`, attempts);
    }
    const head = read.head.streamSequence === 0 ? { consortSequence: floors.get(id) ?? 0, streamSequence: 0 } : read.head;
    learn(id, head);
    return heads.get(id) ?? head;
  };

  /** The original of a duplicate append: its Consort sequence, read back from the stream. */
  const original = async (subject: string, streamSequence: number, attempts: number): Promise<AppendResult> => {
    try {
      const m = await jsm.streams.getMessage(n.streamName, { seq: streamSequence });
      const consortSequence = consortSequenceOf(m.header);
      if (m.subject !== subject || consortSequence === undefined) {
        return failure("rejected", `the msg id was used for stream sequence ${streamSequence} on ${m.subject}, not a signal of ${subject}`, attempts);
      }
      return { ok: true, consortSequence, streamSequence, duplicate: true, attempts };
    } catch (err) {
      if (apiErrorCode(err) === noMessageFoundCode) {
        return failure("rejected", `the msg id was used for stream sequence ${streamSequence}, which is no longer retained`, attempts, err);
      }
      return failure("unavailable", `the original of a duplicate append (stream sequence ${streamSequence}) could not be read: ${String(err)}`, attempts, err);
    }
  };

  const appendNow = async (id: string, subject: string, payload: Uint8Array, natsMsgId: string): Promise<AppendResult> => {
    if (disconnected) return failure("unavailable", `not connected to the NATS server (reconnecting): nothing was published to ${subject}`, 0);
    let head = heads.get(id) ?? emptyHead;
    if (!heads.has(id)) {
      const read = await refreshHead(id, subject, 0);
      if ("ok" in read) return read;
      head = read;
    }
    for (let attempt = 1; ; attempt++) {
      const h = headers();
      h.set(consortSequenceHeader, String(head.consortSequence + 1));
      try {
        const ack = await js.publish(subject, payload, { headers: h, msgID: natsMsgId, expect: { lastSubjectSequence: head.streamSequence } });
        if (ack.duplicate) return await original(subject, ack.seq, attempt);
        const appended = { consortSequence: head.consortSequence + 1, streamSequence: ack.seq };
        learn(id, appended);
        return { ok: true, ...appended, duplicate: false, attempts: attempt };
      } catch (err) {
        const code = apiErrorCode(err);
        if (code === undefined) {
          heads.delete(id); // it may have been written: read the head before the next append
          return failure("unavailable", `publishing to ${subject} failed: ${String(err)}`, attempt, err);
        }
        if (code !== wrongLastSequenceCode) return failure("rejected", `the stream refused a signal of ${subject}: ${String(err)}`, attempt, err);
        // The subject's last message is older than one it held: messages were removed (the history limit drops
        // the oldest, never the last), so its numbering is lost with them.
        const last = lastSequenceOfConflict(err);
        if (last !== undefined && last < head.streamSequence) {
          return failure("head_lost", `the last message of ${subject} went back from stream sequence ${head.streamSequence} to ${last} (purged?)`, attempt, err);
        }
        const read = await refreshHead(id, subject, attempt);
        if ("ok" in read) return read;
        head = read;
        // Out of attempts, with the head read all the same: the next append starts from it.
        if (attempt >= n.maxAttempts) return failure("conflict", `other writers won ${attempt} publishes to ${subject}`, attempt, err);
      }
    }
  };

  return {
    streamName: n.streamName,
    subjectOf: (id) => signalSubject(n.subjectPrefix, id),
    append(id, payload, { msgId }) {
      if (msgId.length === 0 || msgId.length > 1_000 || /[\r\n]/.test(msgId)) {
        return Promise.resolve(failure("rejected", `a msg id is 1 to 1,000 characters without line breaks, got ${JSON.stringify(msgId.slice(0, 40))}`, 0));
      }
      let subject: string;
      let token: string;
      try {
        token = coordinationToken(id);
        subject = `${n.subjectPrefix}.${token}`;
      } catch (err) {
        return Promise.resolve(failure("rejected", String(err), 0, err));
      }
      const previous = tails.get(id) ?? Promise.resolve();
      const run = () => appendNow(id, subject, payload, streamMsgId(token, msgId));
      const result = previous.then(run, run);
      tails.set(id, result);
      void result.finally(() => {
        if (tails.get(id) === result) tails.delete(id);
      });
      return result;
    },
    follow(id, after, onRecord) {
      if (following.has(id)) throw new Error(`coordination ${JSON.stringify(id)} is already followed by this log`);
      if (after !== "retained" && (!Number.isSafeInteger(after) || after < 0)) throw new RangeError(`afterConsortSequence must be a non-negative integer, got ${after}`);
      following.add(id);
      const f = startFollow({ js, jsm, stream: n.streamName, subject: signalSubject(n.subjectPrefix, id), token: coordinationToken(id), coordinationId: id, after, onRecord, connectionClosed, onVerified: (h) => learn(id, h), clearedThrough: () => floors.get(id) ?? 0 });
      void f.ended.then(() => following.delete(id));
      return f;
    },
    knownHead: (id) => heads.get(id),
    forget(id) {
      heads.delete(id);
      floors.delete(id);
    },
    clearedThrough,
    async purge(id, throughConsortSequence, throughStreamSequence) {
      if (!Number.isSafeInteger(throughStreamSequence) || throughStreamSequence < 0) throw new RangeError(`throughStreamSequence must be a non-negative integer, got ${throughStreamSequence}`);
      if (throughStreamSequence > 0) await jsm.streams.purge(n.streamName, { filter: signalSubject(n.subjectPrefix, id), seq: throughStreamSequence + 1 });
      clearedThrough(id, throughConsortSequence);
    },
    async purgeAll(id) {
      await jsm.streams.purge(n.streamName, { filter: signalSubject(n.subjectPrefix, id) });
      heads.delete(id);
      floors.delete(id);
    },
  };
}
