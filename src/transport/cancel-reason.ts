import { Code, ConnectError } from "@connectrpc/connect";

/**
 * A call cancelled this close to its deadline ended by the deadline: a client library cancels the call when its
 * own deadline passes, which reaches the server a transit time before the server's copy of the deadline does.
 */
const deadlineSlackMs = 50;

/**
 * Why a call whose client went away ended: DEADLINE_EXCEEDED when that happened at (or just before) the call's
 * deadline (`deadlineAt`, ms since the epoch), CANCELED otherwise. Both transports give it to handlers as their
 * context signal's reason, so a handler tells a deadline from a cancel whatever the client.
 */
export function clientGoneReason(deadlineAt: number | undefined): ConnectError {
  return deadlineAt !== undefined && deadlineAt - Date.now() <= deadlineSlackMs
    ? new ConnectError("the operation timed out", Code.DeadlineExceeded)
    : new ConnectError("the client cancelled the call", Code.Canceled);
}
