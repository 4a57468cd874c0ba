import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { SignalType, SubscribeResponseSchema, type SubscribeRequestSchema, type SubscribeResponse } from "../../gen/ts/consort/v1/signal_pb.js";
import { ErrorInfoSchema } from "../../gen/ts/google/rpc/error_details_pb.js";
import { followTimeline, type FeedStatus, type TimelineEntry } from "../../dashboard/src/timeline-feed.js";

type Request = MessageInitShape<typeof SubscribeRequestSchema>;
/** What one Subscribe call does: send these responses, then fail with `error` (without one, the page closes the view). */
interface Script {
  readonly responses: SubscribeResponse[];
  readonly error?: ConnectError;
}

const subscribed = (epoch: string) => create(SubscribeResponseSchema, { subscribed: { epoch, headSequence: 0n } });
const signals = (epoch: string, ...seqs: number[]) =>
  create(SubscribeResponseSchema, { signals: seqs.map((s) => ({ epoch, sequence: BigInt(s), type: SignalType.INTER_AGENT_MESSAGE, senderAgentId: "a", data: { n: s } })) });
const failure = (code: Code, reason: string, metadata: Record<string, string> = {}) =>
  new ConnectError("ended", code, undefined, [{ desc: ErrorInfoSchema, value: { reason, domain: "consort.v1", metadata } }]);

/** Runs the feed over `scripts` (one per Subscribe call); stops when they are used up. */
async function run(scripts: Script[]): Promise<{ requests: Request[]; entries: TimelineEntry[]; statuses: FeedStatus[] }> {
  const requests: Request[] = [];
  const entries: TimelineEntry[] = [];
  const statuses: FeedStatus[] = [];
  const ac = new AbortController();
  const client = {
    async *subscribe(req: Request, options: { signal: AbortSignal }): AsyncIterable<SubscribeResponse> {
      requests.push(req);
      const script = scripts[requests.length - 1];
      if (script === undefined) {
        ac.abort();
        return;
      }
      for (const r of script.responses) yield r;
      if (script.error !== undefined) throw script.error;
      ac.abort();
      if (!options.signal.aborted) throw new Error("the feed's signal is not the one it was given");
    },
  };
  await followTimeline({ client, coordinationId: "c", signal: ac.signal, onEntry: (e) => entries.push(e), onStatus: (s) => statuses.push(s), retryMs: 1, maxRetryMs: 2 });
  return { requests, entries, statuses };
}

const shown = (entries: TimelineEntry[]) => entries.map((e) => (e.kind === "signal" ? `${e.epoch}#${e.sequence}` : "reset"));

describe("the dashboard's signal timeline", () => {
  it("resumes after a dropped stream from the last sequence shown, in its epoch, and shows no row twice", async () => {
    const { requests, entries } = await run([
      { responses: [subscribed("e1"), signals("e1", 1, 2, 3)], error: new ConnectError("network", Code.Unavailable) },
      { responses: [subscribed("e1"), signals("e1", 3, 4)], error: new ConnectError("network", Code.Unknown) },
      { responses: [subscribed("e1"), signals("e1", 5)] },
    ]);
    expect(requests.map((r) => [r.afterSequence, r.epoch])).toEqual([
      [0n, ""],
      [3n, "e1"],
      [4n, "e1"],
    ]);
    expect(shown(entries)).toEqual(["e1#1", "e1#2", "e1#3", "e1#4", "e1#5"]);
  });

  it("says the history was reset when the log is another one, and starts from its beginning", async () => {
    const { requests, entries } = await run([
      { responses: [subscribed("e1"), signals("e1", 1, 2)], error: new ConnectError("restart", Code.Unavailable) },
      { responses: [], error: failure(Code.FailedPrecondition, "EPOCH_CHANGED", { epoch: "e2" }) },
      { responses: [subscribed("e2"), signals("e2", 1)] },
    ]);
    expect(requests.slice(1, 3).map((r) => [r.afterSequence, r.epoch])).toEqual([
      [2n, "e1"],
      [0n, ""],
    ]);
    expect(shown(entries)).toEqual(["e1#1", "e1#2", "reset", "e2#1"]);
  });

  it("says which signals are no longer retained and continues from the oldest", async () => {
    const { requests, entries } = await run([
      { responses: [subscribed("e1"), signals("e1", 1)], error: new ConnectError("drop", Code.Unavailable) },
      { responses: [], error: failure(Code.OutOfRange, "HISTORY_TRIMMED", { oldest_sequence: "40", head_sequence: "50" }) },
      { responses: [subscribed("e1"), signals("e1", 40)] },
    ]);
    expect(requests[2]?.afterSequence).toBe(39n);
    expect(entries[1]).toMatchObject({ kind: "reset", message: expect.stringContaining("Signals 2 to 39") });
    expect(shown(entries)).toEqual(["e1#1", "reset", "e1#40"]);
  });

  it("stops when the coordination is deleted, without subscribing again", async () => {
    const { requests, entries, statuses } = await run([
      { responses: [subscribed("e1"), signals("e1", 1)], error: failure(Code.Aborted, "COORDINATION_DELETED", { coordination_id: "c" }) },
      { responses: [subscribed("e2")] },
    ]);
    expect(requests).toHaveLength(1);
    expect(shown(entries)).toEqual(["e1#1", "reset"]);
    expect(statuses.at(-1)).toEqual({ state: "deleted" });
  });
});
