import type { JetStreamManager, MsgHdrs, NatsError } from "nats";

/**
 * The headers a Consort signal carries in the stream, and the head of a coordination's subject: what the appender
 * and the follower read to place a message in Consort's numbering.
 */

/** Consort's gap-free per-coordination sequence, in decimal. The server never reads it: followers verify it. */
export const consortSequenceHeader = "Consort-Sequence";

/**
 * The `Nats-Msg-Id` of an append: the server deduplicates across the whole stream, so the caller's id, unique
 * within its coordination, is prefixed with the coordination's subject token (which holds no `:`).
 */
export function streamMsgId(token: string, msgId: string): string {
  return `${token}:${msgId}`;
}

/** The caller's msg id in a stored `Nats-Msg-Id` of that coordination, or `undefined`. */
export function callerMsgId(token: string, stored: string | undefined): string | undefined {
  return stored?.startsWith(`${token}:`) ? stored.slice(token.length + 1) : undefined;
}

/** JetStream API error: the subject's last message is not the one the publish expected. */
export const wrongLastSequenceCode = 10071;
/** JetStream API error: no message matches (`last_by_subj` of an empty subject, a trimmed `seq`). */
export const noMessageFoundCode = 10037;

/** The last message of a coordination's subject as Consort numbers it. */
export interface Head {
  /** Its Consort sequence; 0 for a subject without messages. */
  readonly consortSequence: number;
  /** Its stream sequence; 0 for a subject without messages (what `Nats-Expected-Last-Subject-Sequence` expects then). */
  readonly streamSequence: number;
}

/** The head of a subject without messages. */
export const emptyHead: Head = { consortSequence: 0, streamSequence: 0 };

/** The Consort sequence a message's headers carry, or `undefined` when missing or not a positive decimal integer. */
export function consortSequenceOf(headers: MsgHdrs | undefined): number | undefined {
  const text = headers?.get(consortSequenceHeader) ?? "";
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The JetStream API error code an error carries, if any. */
export function apiErrorCode(err: unknown): number | undefined {
  return (err as Partial<NatsError> | undefined)?.api_error?.err_code;
}

/** What {@link readHead} found: the head, or the stream sequence of a last message Consort did not number. */
export type ReadHead = { readonly ok: true; readonly head: Head } | { readonly ok: false; readonly streamSequence: number; readonly header: string | undefined };

/**
 * Reads the last message of `subject` (one `STREAM.MSG.GET` with `last_by_subj`): its Consort and stream
 * sequences, {@link emptyHead} when the subject holds none. Other errors (unavailable server…) are thrown.
 *
 * After a conflict this read, not a read of the message at the stream sequence the error names, gives the head
 * to retry from: that message is one round trip older, and a writer retrying from it stays a step behind one that
 * just won and appends again at once (measured: 1,000 conflicts in a row with two writers).
 */
export async function readHead(jsm: JetStreamManager, stream: string, subject: string): Promise<ReadHead> {
  try {
    const last = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    const consortSequence = consortSequenceOf(last.header);
    if (consortSequence === undefined) return { ok: false, streamSequence: last.seq, header: last.header?.get(consortSequenceHeader) || undefined };
    return { ok: true, head: { consortSequence, streamSequence: last.seq } };
  } catch (err) {
    if (apiErrorCode(err) === noMessageFoundCode) return { ok: true, head: emptyHead };
    throw err;
  }
}


/** The subject's last stream sequence a "wrong last sequence: N" error names (N is 0 for an empty subject), if any. */
export function lastSequenceOfConflict(err: unknown): number | undefined {
  const match = /wrong last sequence: (\d+)/.exec((err as Partial<NatsError> | undefined)?.api_error?.description ?? "");
  const n = Number(match?.[1]);
  return match !== null && Number.isSafeInteger(n) ? n : undefined;
}
