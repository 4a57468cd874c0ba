// Keeps a WatchListState current with CoordinationService.WatchCoordinations: one stream, resumed after a dropped
// connection or a server restart from the last epoch and revision received (the server sends a reset snapshot
// when it cannot resume), never polled.
import { ConnectError, Code } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WatchCoordinationsRequestSchema, WatchCoordinationsResponse } from "../../gen/ts/consort/v1/coordination_pb.js";
import { applyWatchResponse, emptyWatchList, type WatchListState } from "./watch-list.js";
import { sleep } from "./sleep.js";

/** How the watch's connection stands. */
export type WatchStatus = { readonly state: "connecting" } | { readonly state: "live" } | { readonly state: "retrying"; readonly reason: string };

/** The one method of CoordinationService the feed calls. */
export interface WatchClient {
  watchCoordinations(request: MessageInitShape<typeof WatchCoordinationsRequestSchema>, options: { signal: AbortSignal }): AsyncIterable<WatchCoordinationsResponse>;
}

/** Options of {@link followCoordinations}. */
export interface WatchFeedOptions {
  readonly client: WatchClient;
  /** Called with the new state after each response. */
  readonly onState: (state: WatchListState) => void;
  readonly onStatus: (status: WatchStatus) => void;
  readonly signal: AbortSignal;
  /** @default 250 */
  readonly retryMs?: number;
  /** @default 4000 */
  readonly maxRetryMs?: number;
}

/** Follows the coordinations until `signal` aborts. */
export async function followCoordinations(o: WatchFeedOptions): Promise<void> {
  const retryMs = o.retryMs ?? 250;
  const maxRetryMs = o.maxRetryMs ?? 4000;
  let state = emptyWatchList;
  let delay = retryMs;
  while (!o.signal.aborted) {
    o.onStatus({ state: "connecting" });
    try {
      for await (const res of o.client.watchCoordinations({ watchEpoch: state.epoch, afterRevision: state.headRevision }, { signal: o.signal })) {
        state = applyWatchResponse(state, res);
        o.onState(state);
        if (res.caughtUp) o.onStatus({ state: "live" });
        delay = retryMs;
      }
      if (o.signal.aborted) break;
      o.onStatus({ state: "retrying", reason: "the stream ended" });
    } catch (e) {
      if (o.signal.aborted) break;
      const err = ConnectError.from(e);
      if (err.code === Code.OutOfRange) {
        // The page is ahead of the server: start over with a full snapshot.
        state = { ...emptyWatchList, resets: state.resets + 1 };
        o.onState(state);
        continue;
      }
      o.onStatus({ state: "retrying", reason: err.rawMessage || Code[err.code] });
    }
    await sleep(delay, o.signal);
    delay = Math.min(delay * 2, maxRetryMs);
  }
}
