// The signal timeline: one row per signal in sequence order, a marked row where history was reset, and the feed's
// connection state. Follows the newest row while the reader is at the bottom.
import { useEffect, useRef } from "preact/hooks";
import { brief, clock, count } from "../format.js";
import type { FeedStatus, TimelineEntry } from "../timeline-feed.js";

function FeedState({ status }: { status: FeedStatus }) {
  const text =
    status.state === "live"
      ? `Live · epoch ${status.epoch}`
      : status.state === "connecting"
        ? "Connecting…"
        : status.state === "retrying"
          ? `Reconnecting in ${Math.round(status.inMs)} ms — ${status.reason}`
          : status.state === "deleted"
            ? "Deleted"
            : "Stopped";
  return (
    <span class={`feed-state feed-${status.state}`} data-testid="timeline-state" data-state={status.state}>
      {text}
    </span>
  );
}

/** The timeline view. */
export function Timeline({ entries, dropped, status }: { entries: readonly TimelineEntry[]; dropped: number; status: FeedStatus }) {
  const box = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  useEffect(() => {
    const el = box.current;
    if (el !== null && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [entries]);
  const signals = entries.filter((e) => e.kind === "signal").length;
  return (
    <section class="card">
      <div class="card-head">
        <h3>
          Signals <span class="muted">{count(signals)}</span>
        </h3>
        <FeedState status={status} />
      </div>
      {dropped > 0 && <p class="note">{count(dropped)} older rows left this view (the page keeps the newest 5,000).</p>}
      <div
        class="timeline"
        ref={box}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {entries.length === 0 ? (
          <p class="muted pad">No signal yet.</p>
        ) : (
          <table class="table">
            <thead>
              <tr>
                <th class="num">#</th>
                <th class="hide-narrow">time</th>
                <th>type</th>
                <th>from → to</th>
                <th>data</th>
              </tr>
            </thead>
            <tbody data-testid="timeline">
              {entries.map((e, i) =>
                e.kind === "reset" ? (
                  <tr key={`reset-${i}`} class="reset-row" data-testid="timeline-reset">
                    <td colSpan={5}>{e.message}</td>
                  </tr>
                ) : (
                  <tr key={`${e.epoch}-${e.sequence}`} data-testid="signal-row" data-sequence={String(e.sequence)} data-epoch={e.epoch}>
                    <td class="num mono">{String(e.sequence)}</td>
                    <td class="mono muted hide-narrow">{clock(e.createdAt)}</td>
                    <td>
                      <span class={`badge badge-${e.type}`}>{e.type}</span>
                    </td>
                    <td class="mono nowrap">
                      {e.sender}
                      {e.recipients.length > 0 ? ` → ${e.recipients.join(", ")}` : " → all"}
                    </td>
                    <td class="mono data" title={JSON.stringify(e.data, null, 2)}>
                      {brief(e.data)}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}
