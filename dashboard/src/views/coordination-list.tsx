// The live list of coordinations: most recently active first, filterable by id, with the figures an operator
// scans for (signals, agents with context, open waits, subscribers) and the coordinations removed meanwhile.
import { useState } from "preact/hooks";
import { ago, count } from "../format.js";
import { rowsByActivity, type WatchListState } from "../watch-list.js";

/** Rows the list renders at most; the filter narrows the rest. */
export const maxRowsShown = 500;

/** The sidebar list. */
export function CoordinationList({ state, selected, now }: { state: WatchListState; selected: string | undefined; now: number }) {
  const [filter, setFilter] = useState("");
  const matching = rowsByActivity(state).filter((r) => r.id.includes(filter));
  const rows = matching.slice(0, maxRowsShown);
  return (
    <div class="coordination-list">
      <div class="list-head">
        <h2>
          Coordinations <span class="muted" data-testid="coordination-count">{count(state.rows.size)}</span>
        </h2>
        <input class="filter" type="search" placeholder="Filter by id" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} aria-label="Filter coordinations by id" />
      </div>
      {state.resets > 0 && <p class="note">The server restarted: the list was reloaded.</p>}
      {!state.caughtUp && state.rows.size === 0 ? (
        <p class="muted pad">Loading…</p>
      ) : rows.length === 0 ? (
        <p class="muted pad">{filter === "" ? "No coordination yet. One is created by its first publish, subscription, context or wait." : "No coordination matches."}</p>
      ) : (
        <ul class="rows" data-testid="coordination-list">
          {rows.map((r) => (
            <li key={r.id}>
              <a href={`#/c/${encodeURIComponent(r.id)}`} class={`row ${selected === r.id ? "selected" : ""}`} data-testid="coordination-row" data-id={r.id}>
                <span class="row-title">{r.id}</span>
                <span class="row-meta">
                  <span title="Newest signal sequence">#{count(r.headSequence)}</span>
                  <span title="Agents with a context">{r.agentsWithContext} ctx</span>
                  <span class={r.openWaits > 0 ? "warn" : ""} title="Open waits">
                    {r.openWaits} waiting
                  </span>
                  <span title="Open subscriptions">{r.openSubscriptions} subs</span>
                  <span class="muted">{ago(r.lastActivityAt, now)}</span>
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
      {matching.length > rows.length && (
        <p class="muted pad small">
          Showing the {count(rows.length)} most recently active of {count(matching.length)}; filter by id to find others.
        </p>
      )}
      {state.removed.length > 0 && (
        <details class="removed">
          <summary>Removed ({state.removed.length})</summary>
          <ul>
            {state.removed.map((r) => (
              <li key={`${r.id}-${r.revision}`} data-testid="removed-row" data-id={r.id}>
                {r.id} <span class="muted">{r.reason}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
    </div>
  );
}
