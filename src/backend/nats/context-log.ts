import { type JetStreamClient, type NatsConnection, headers } from "nats";
import type { SignalStreamMismatchError } from "./errors.js";
import { apiErrorCode, consortSequenceHeader, consortSequenceOf, type Head, noMessageFoundCode, readHead, streamMsgId, wrongLastSequenceCode } from "./signal-head.js";
import { type Follow, type FollowEnd, startFollow } from "./signal-follow.js";
import { ensureStream, normalize } from "./signal-stream.js";
import { coordinationToken, isSubjectPrefix } from "./subject.js";

/**
 * The context log of the JetStream backend (DESIGN.md §8, issue 12): every change of a coordination's contexts —
 * a distribution, a shared-intelligence update, a clear — is ONE message on the coordination's subject
 * (`consort.ctx.<token>`, see `subject.ts`) of one stream, holding the whole change as one document. A
 * distribution to 1,000 agents is thus one write: atomic (a follower sees all of it or none) and, measured on this
 * machine (bench/nats-context-shape.ts), ~6 ms to durable with file storage, encoding included, where 1,000 KV
 * puts take ~110 ms and are not atomic.
 *
 * **Revisions.** A coordination's context revision (the engine's per-coordination revision: 1, 2, 3… without gap)
 * travels in the `Consort-Sequence` header, so the signal log's head reading and verified following serve here
 * unchanged: `append` takes the revision the caller's change was computed against (`expectedRevision`) and
 * publishes revision `expectedRevision + 1` with `Nats-Expected-Last-Subject-Sequence` set to the stream sequence
 * of that revision's message. Unlike the signal log it never retries a lost race: a change computed against an
 * older revision must be computed again by the engine, so a loser is told `conflict` with the head's revision.
 *
 * **Verification.** The server checks the predecessor only, never the header, so a follower verifies that each
 * document's revision is its predecessor's + 1 and ends (`invalid_record`) rather than apply one that is not; an
 * appender refuses to number after a last message without a valid header (`head_invalid`). The documents
 * themselves are opaque bytes here: decoding them, and refusing one that does not decode, is the caller's.
 *
 * **Size.** A document must fit the server's `max_payload` (1 MiB by default; a 1,000-agent distribution of
 * ~500 B assignments is ~0.6 MB). A larger one is refused (`too_large`) before publishing: the engine allows up to
 * 10,000 agents (~6.4 MB), which needs the server's `max_payload` raised (nats-server accepts up to 64 MB and
 * warns above 8 MB); splitting one change over several messages would lose the one-write atomicity.
 *
 * **History.** The stream keeps the last `historyLimit` documents per coordination: a follower resuming after a
 * revision no longer retained ends `out_of_range` (JetStream would silently start at the oldest retained).
 */

/** Options of {@link createJetStreamContextLog}. */
export interface JetStreamContextLogOptions {
  /** The connection to publish, read and consume on (the caller owns it: the log never closes it). */
  readonly connection: NatsConnection;
  /** The stream's name. @default "CONSORT_CONTEXTS" */
  readonly streamName?: string;
  /** The subjects' prefix: the stream holds `<prefix>.>`. @default "consort.ctx" */
  readonly subjectPrefix?: string;
  /** Where the stream keeps documents (memory suits tests). @default "file" */
  readonly storage?: "file" | "memory";
  /** Documents kept per coordination: the stream's `max_msgs_per_subject`. @default 64 */
  readonly historyLimit?: number;
  /** How long the server remembers a `Nats-Msg-Id` to answer a retried append with the original. @default 120_000 */
  readonly duplicateWindowMs?: number;
  /** How long one publish waits for the server's acknowledgement. @default 5_000 */
  readonly timeoutMs?: number;
}

/** Options of one {@link JetStreamContextLog.append}. */
export interface ContextAppendOptions {
  /** The revision the change was computed against: the document becomes revision `expectedRevision + 1`. */
  readonly expectedRevision: number;
  /**
   * The append's id, unique within its coordination (1 to 1,000 characters, no line break), so an append retried
   * after `unavailable` returns the original instead of a copy: retried with the same `expectedRevision`, it finds
   * its own document as the head (read back by msg id) and returns it with `duplicate`; a publish the server saw
   * twice is deduplicated within the duplicate window. Two writers racing for one revision must not share one.
   * @default none (a retry after `unavailable` may then be told `conflict` by its own document)
   */
  readonly msgId?: string;
}

/** A document that is in the log. */
export interface ContextAppended {
  readonly ok: true;
  /** Its revision: `expectedRevision + 1`. */
  readonly revision: number;
  /** Its stream sequence. */
  readonly streamSequence: number;
  /** Whether the server already held this msg id: the sequences are the original's. */
  readonly duplicate: boolean;
}

/**
 * Why a document is not in the log:
 * - `conflict`: the coordination's revision is not `expectedRevision` (another writer appended first);
 *   `headRevision` says what it is when known. Nothing was written: compute the change again and retry.
 * - `unavailable`: no acknowledgement (timeout, no responders, connection closed); it may or may not be written.
 * - `head_invalid`: the subject's last message has no valid `Consort-Sequence` (published bypassing Consort).
 * - `too_large`: the document (with its headers) exceeds the server's `max_payload`; nothing was sent.
 * - `rejected`: the server refused it for another reason, or the arguments are invalid; see `message`.
 */
export type ContextAppendFailureReason = "conflict" | "unavailable" | "head_invalid" | "too_large" | "rejected";

/** A document that is not in the log (or may not be: `unavailable`), with why. */
export interface ContextAppendFailure {
  readonly ok: false;
  readonly reason: ContextAppendFailureReason;
  /** A sentence for the log. */
  readonly message: string;
  /** With `conflict`: the coordination's revision as read, if it could be. */
  readonly headRevision?: number;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/** What {@link JetStreamContextLog.append} returns. */
export type ContextAppendResult = ContextAppended | ContextAppendFailure;

/** One change of a coordination's contexts as the stream holds it, verified. */
export interface ContextDocument {
  readonly coordinationId: string;
  /** Its revision: gap-free per coordination, verified to follow its predecessor. */
  readonly revision: number;
  /** Its stream sequence. */
  readonly streamSequence: number;
  /** The document as appended (a copy). */
  readonly document: Uint8Array;
}

/** Receives each verified document, in order, synchronously; a throw ends the follow (`failed`). */
export type ContextDocumentHandler = (document: ContextDocument) => void;

/** The JetStream side of contexts: one document per change, numbered by revision, and ordered followers. */
export interface JetStreamContextLog {
  /** The stream's name. */
  readonly streamName: string;
  /** The largest document the server accepts (its `max_payload` less room for headers). */
  readonly maxDocumentBytes: number;
  /** The subject of a coordination's context documents. */
  subjectOf(coordinationId: string): string;
  /**
   * Appends `document` as revision `expectedRevision + 1` of the coordination, atomically: it is stored whole or
   * not at all, and only if the coordination's revision is still `expectedRevision`. Appends to one coordination
   * through one log go one at a time, in call order. Never rejects: failures are a {@link ContextAppendFailure}.
   */
  append(coordinationId: string, document: Uint8Array, options: ContextAppendOptions): Promise<ContextAppendResult>;
  /**
   * Follows a coordination with one ordered consumer, from the document after `afterRevision` (0: from the first;
   * `"retained"`: from the oldest retained), calling `onDocument` with each verified document in order, then live.
   * See {@link Follow} and {@link FollowEnd} for how it ends (`out_of_range` when the documents after
   * `afterRevision` are no longer retained or `afterRevision` is beyond the head). Throws if this log already
   * follows that coordination: one consumer per coordination.
   */
  follow(coordinationId: string, afterRevision: number | "retained", onDocument: ContextDocumentHandler): Follow;
  /** The head this log knows for a coordination (its revision as `consortSequence`), if any. */
  knownHead(coordinationId: string): Head | undefined;
  /**
   * Reads the coordination's head revision from the server (0 when its subject holds no document). Rejects when
   * the server does not answer or the last document has no valid revision.
   */
  readHead(coordinationId: string): Promise<number>;
  /**
   * Purges the coordination's documents up to stream sequence `throughStreamSequence` (0: none), keeping any
   * stored after it, and forgets its known head (read again before the next append): DeleteCoordination. A subject
   * left empty numbers from revision 1 again. Rejects when the server refuses or does not answer.
   */
  purge(coordinationId: string, throughStreamSequence: number): Promise<void>;
  /**
   * Purges every document of the coordination and forgets its known head: what idle expiry everywhere (and a
   * delete, before its meta goes) leaves of it, so the id begun again numbers from revision 1. Rejects when the
   * server refuses or does not answer.
   */
  purgeAll(coordinationId: string): Promise<void>;
}

/** Room left in `max_payload` for the headers of a document (revision, msg id, expected sequence). */
const headerRoom = 4 * 1024;

/**
 * Connects the context log to JetStream: creates its stream, or checks that the one there has the same subjects,
 * storage, history limit and duplicate window (a mismatch throws {@link SignalStreamMismatchError}).
 *
 * @example
 * const log = await createJetStreamContextLog({ connection: nc });
 * const r = await log.append("review-42", encode(distribution), { expectedRevision: 3 });
 * if (!r.ok && r.reason === "conflict") recompute(r.headRevision);
 */
export async function createJetStreamContextLog(options: JetStreamContextLogOptions): Promise<JetStreamContextLog> {
  const subjectPrefix = options.subjectPrefix ?? "consort.ctx";
  if (!isSubjectPrefix(subjectPrefix)) throw new RangeError(`subjectPrefix must be a literal subject, got ${JSON.stringify(subjectPrefix)}`);
  const n = normalize({ ...options, streamName: options.streamName ?? "CONSORT_CONTEXTS", subjectPrefix, historyLimit: options.historyLimit ?? 64, maxAttempts: 1 });
  const nc = options.connection;
  const jsm = await nc.jetstreamManager();
  const js: JetStreamClient = nc.jetstream({ timeout: n.timeoutMs });
  await ensureStream(jsm, n);
  const maxDocumentBytes = (nc.info?.max_payload ?? 1024 * 1024) - headerRoom;

  const heads = new Map<string, Head>();
  const tails = new Map<string, Promise<unknown>>();
  const following = new Set<string>();
  const connectionClosed = nc.closed();

  const learn = (id: string, head: Head) => {
    const known = heads.get(id);
    if (known === undefined || head.streamSequence > known.streamSequence) heads.set(id, head);
  };
  const failure = (reason: ContextAppendFailureReason, message: string, extra: { headRevision?: number; cause?: unknown } = {}): ContextAppendFailure => ({ ok: false, reason, message, ...extra });

  /** Reads the subject's head into `heads`; the fresher of the read and what a follower learned meanwhile. */
  const refreshHead = async (id: string, subject: string): Promise<Head | ContextAppendFailure> => {
    let read;
    try {
      read = await readHead(jsm, n.streamName, subject);
    } catch (err) {
      return failure("unavailable", `reading the head of ${subject} failed: ${String(err)}`, { cause: err });
    }
    if (!read.ok) return failure("head_invalid", `the last message of ${subject} (stream sequence ${read.streamSequence}) has no valid ${consortSequenceHeader} (${JSON.stringify(read.header ?? null)})`);
    learn(id, read.head);
    return heads.get(id) ?? read.head;
  };

  const conflict = (subject: string, expected: number, head: number | undefined, cause?: unknown) =>
    failure("conflict", `${subject} is at revision ${head ?? "unknown"}, not ${expected}`, { ...(head === undefined ? {} : { headRevision: head }), ...(cause === undefined ? {} : { cause }) });

  /** The original of a duplicate append, read back from the stream. */
  const original = async (subject: string, streamSequence: number): Promise<ContextAppendResult> => {
    try {
      const m = await jsm.streams.getMessage(n.streamName, { seq: streamSequence });
      const revision = consortSequenceOf(m.header);
      if (m.subject !== subject || revision === undefined) return failure("rejected", `the msg id was used for stream sequence ${streamSequence} on ${m.subject}, not a document of ${subject}`);
      return { ok: true, revision, streamSequence, duplicate: true };
    } catch (err) {
      if (apiErrorCode(err) === noMessageFoundCode) return failure("rejected", `the msg id was used for stream sequence ${streamSequence}, which is no longer retained`, { cause: err });
      return failure("unavailable", `the original of a duplicate append (stream sequence ${streamSequence}) could not be read: ${String(err)}`, { cause: err });
    }
  };

  /** The head at `streamSequence` as the original of this append if it carries `natsMsgId`, else `undefined`. */
  const ownHead = async (subject: string, streamSequence: number, natsMsgId: string): Promise<ContextAppendResult | undefined> => {
    try {
      const m = await jsm.streams.getMessage(n.streamName, { seq: streamSequence });
      return m.header?.get("Nats-Msg-Id") === natsMsgId ? await original(subject, streamSequence) : undefined;
    } catch {
      return undefined; // trimmed or unreadable: report the conflict
    }
  };

  const appendNow = async (id: string, subject: string, document: Uint8Array, expected: number, natsMsgId: string | undefined): Promise<ContextAppendResult> => {
    let head = heads.get(id);
    // A known head further on is not read again (heads only go forward); one behind (or none) may be stale.
    if (head === undefined || head.consortSequence < expected) {
      const read = await refreshHead(id, subject);
      if ("ok" in read) return read;
      head = read;
    }
    if (head.consortSequence !== expected) {
      // A retry of an append whose outcome was unknown finds its own document as the head: the original.
      if (natsMsgId !== undefined && head.consortSequence === expected + 1) {
        const own = await ownHead(subject, head.streamSequence, natsMsgId);
        if (own !== undefined) return own;
      }
      return conflict(subject, expected, head.consortSequence);
    }
    const h = headers();
    h.set(consortSequenceHeader, String(expected + 1));
    try {
      const ack = await js.publish(subject, document, { headers: h, expect: { lastSubjectSequence: head.streamSequence }, ...(natsMsgId === undefined ? {} : { msgID: natsMsgId }) });
      if (ack.duplicate) return await original(subject, ack.seq);
      learn(id, { consortSequence: expected + 1, streamSequence: ack.seq });
      return { ok: true, revision: expected + 1, streamSequence: ack.seq, duplicate: false };
    } catch (err) {
      const code = apiErrorCode(err);
      if (code === undefined) {
        heads.delete(id); // it may have been written: read the head before the next append
        return failure("unavailable", `publishing to ${subject} failed: ${String(err)}`, { cause: err });
      }
      if (code !== wrongLastSequenceCode) return failure("rejected", `the stream refused a document of ${subject}: ${String(err)}`, { cause: err });
      const read = await refreshHead(id, subject);
      return conflict(subject, expected, "ok" in read ? undefined : read.consortSequence, err);
    }
  };

  return {
    streamName: n.streamName,
    maxDocumentBytes,
    subjectOf: (id) => `${n.subjectPrefix}.${coordinationToken(id)}`,
    append(id, document, { expectedRevision, msgId }) {
      if (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0) {
        return Promise.resolve(failure("rejected", `expectedRevision must be a non-negative integer, got ${expectedRevision}`));
      }
      if (msgId !== undefined && (msgId.length === 0 || msgId.length > 1_000 || /[\r\n]/.test(msgId))) {
        return Promise.resolve(failure("rejected", `a msg id is 1 to 1,000 characters without line breaks, got ${JSON.stringify(msgId.slice(0, 40))}`));
      }
      if (document.length > maxDocumentBytes) {
        return Promise.resolve(failure("too_large", `a document of ${document.length} bytes exceeds the ${maxDocumentBytes} bytes the server's max_payload leaves for one`));
      }
      let token: string;
      try {
        token = coordinationToken(id);
      } catch (err) {
        return Promise.resolve(failure("rejected", String(err), { cause: err }));
      }
      const subject = `${n.subjectPrefix}.${token}`;
      const previous = tails.get(id) ?? Promise.resolve();
      const run = () => appendNow(id, subject, document, expectedRevision, msgId === undefined ? undefined : streamMsgId(token, msgId));
      const result = previous.then(run, run);
      tails.set(id, result);
      void result.finally(() => {
        if (tails.get(id) === result) tails.delete(id);
      });
      return result;
    },
    follow(id, after, onDocument) {
      if (following.has(id)) throw new Error(`coordination ${JSON.stringify(id)} is already followed by this log`);
      if (after !== "retained" && (!Number.isSafeInteger(after) || after < 0)) throw new RangeError(`afterRevision must be a non-negative integer, got ${after}`);
      const token = coordinationToken(id);
      following.add(id);
      const f = startFollow({
        js,
        jsm,
        stream: n.streamName,
        subject: `${n.subjectPrefix}.${token}`,
        token,
        coordinationId: id,
        after,
        onRecord: (r) => onDocument({ coordinationId: id, revision: r.consortSequence, streamSequence: r.streamSequence, document: r.payload }),
        connectionClosed,
        onVerified: (h) => learn(id, h),
      });
      void f.ended.then(() => following.delete(id));
      return f;
    },
    knownHead: (id) => heads.get(id),
    async readHead(id) {
      const read = await refreshHead(id, `${n.subjectPrefix}.${coordinationToken(id)}`);
      if ("ok" in read) throw new Error(read.message, { cause: read.cause });
      return read.consortSequence;
    },
    async purge(id, throughStreamSequence) {
      heads.delete(id);
      if (throughStreamSequence > 0) await jsm.streams.purge(n.streamName, { filter: `${n.subjectPrefix}.${coordinationToken(id)}`, seq: throughStreamSequence + 1 });
      heads.delete(id);
    },
    async purgeAll(id) {
      heads.delete(id);
      await jsm.streams.purge(n.streamName, { filter: `${n.subjectPrefix}.${coordinationToken(id)}` });
      heads.delete(id);
    },
  };
}

export type { Follow, FollowEnd };
