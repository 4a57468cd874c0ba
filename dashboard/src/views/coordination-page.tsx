// One coordination: its figures, its signal timeline, its agents and its dependency graph, and the delete action.
// The timeline follows Subscribe for as long as the page shows the coordination; agents and waits are fetched
// again whenever WatchCoordinations reports the coordination changed (no polling).
import { useEffect, useRef, useState } from "preact/hooks";
import { ConnectError } from "@connectrpc/connect";
import type { GetCoordinationResponse } from "../../../gen/ts/consort/v1/coordination_pb.js";
import type { DependencyRecord } from "../../../gen/ts/consort/v1/dependency_pb.js";
import type { Clients } from "../clients.js";
import { ago, count } from "../format.js";
import { followTimeline, type FeedStatus, type TimelineEntry } from "../timeline-feed.js";
import type { CoordinationRow, RemovedRow } from "../watch-list.js";
import { AgentsView } from "./agents-view.js";
import { DependencyGraphView } from "./dependency-graph-view.js";
import { Timeline } from "./timeline.js";

/** Timeline entries the page keeps at most; older ones leave the view (the count says how many). */
export const maxTimelineEntries = 5000;

type Tab = "timeline" | "agents" | "dependencies";

/** The timeline of `id`, followed while mounted. */
function useTimeline(clients: Clients, id: string): { entries: TimelineEntry[]; dropped: number; status: FeedStatus } {
  const [state, setState] = useState<{ entries: TimelineEntry[]; dropped: number }>({ entries: [], dropped: 0 });
  const [status, setStatus] = useState<FeedStatus>({ state: "connecting" });
  useEffect(() => {
    const ac = new AbortController();
    // Entries arrive in bursts (a replay, a batch): gather them and render once per frame.
    let pending: TimelineEntry[] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      const add = pending;
      pending = [];
      setState((s) => {
        const all = s.entries.concat(add);
        const cut = Math.max(0, all.length - maxTimelineEntries);
        return { entries: cut > 0 ? all.slice(cut) : all, dropped: s.dropped + cut };
      });
    };
    void followTimeline({
      client: clients.signals,
      coordinationId: id,
      signal: ac.signal,
      onStatus: setStatus,
      onEntry: (e) => {
        pending.push(e);
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(flush);
        }
      },
    });
    return () => ac.abort();
  }, [clients, id]);
  return { ...state, status };
}

/** GetCoordination and ListDependencies of `id`, fetched again when `revision` moves. */
function useDetails(clients: Clients, id: string, revision: bigint | undefined) {
  const [details, setDetails] = useState<{ coordination?: GetCoordinationResponse; records: DependencyRecord[]; error?: string }>({ records: [] });
  const inFlight = useRef(false);
  const again = useRef(false);
  useEffect(() => {
    if (revision === undefined) return;
    let cancelled = false;
    const load = async () => {
      if (inFlight.current) {
        again.current = true;
        return;
      }
      inFlight.current = true;
      try {
        do {
          again.current = false;
          const [coordination, records] = await Promise.all([clients.coordinations.getCoordination({ coordinationId: id }), listAllDependencies(clients, id)]);
          if (!cancelled) setDetails({ coordination, records });
        } while (again.current && !cancelled);
      } catch (e) {
        if (!cancelled) setDetails((d) => ({ ...d, error: ConnectError.from(e).rawMessage }));
      } finally {
        inFlight.current = false;
      }
    };
    void load();
    return () => {
      cancelled = true;
    };
  }, [clients, id, revision]);
  return details;
}

/** Every dependency record of a coordination, newest first, at most 5 pages of 1,000. */
async function listAllDependencies(clients: Clients, id: string): Promise<DependencyRecord[]> {
  const out: DependencyRecord[] = [];
  let pageToken = "";
  for (let page = 0; page < 5; page++) {
    const res = await clients.dependencies.listDependencies({ coordinationId: id, pageSize: 1000, pageToken });
    out.push(...res.records);
    pageToken = res.nextPageToken;
    if (pageToken === "") break;
  }
  return out;
}

function Figure({ label, value, tone }: { label: string; value: string; tone?: "warn" | undefined }) {
  return (
    <div class={`figure ${tone ?? ""}`}>
      <div class="figure-value">{value}</div>
      <div class="figure-label">{label}</div>
    </div>
  );
}

/** The coordination view. */
export function CoordinationPage(props: { clients: Clients; id: string; row: CoordinationRow | undefined; removed: RemovedRow | undefined; caughtUp: boolean; now: number }) {
  const { clients, id, row, now } = props;
  const [tab, setTab] = useState<Tab>("timeline");
  const timeline = useTimeline(clients, id);
  const details = useDetails(clients, id, row?.revision);
  const [deleting, setDeleting] = useState<string | undefined>(undefined);

  const onDelete = async () => {
    if (!window.confirm(`Delete coordination “${id}”? Its signals, contexts and waits go; open streams and waits end.`)) return;
    setDeleting("Deleting…");
    try {
      await clients.coordinations.deleteCoordination({ coordinationId: id, allowMissing: true });
      setDeleting(undefined);
    } catch (e) {
      setDeleting(`Delete failed: ${ConnectError.from(e).rawMessage}`);
    }
  };

  const gone = row === undefined && props.caughtUp;
  return (
    <div class="coordination-page" data-testid="coordination-page" data-id={id}>
      <div class="page-head">
        <div>
          <div class="eyebrow">Coordination</div>
          <h1 class="page-title">{id}</h1>
          <div class="muted small">
            {row !== undefined ? (
              <>
                created {ago(row.createdAt, now)} · active {ago(row.lastActivityAt, now)} · epoch <code>{row.epoch || "—"}</code>
              </>
            ) : props.removed !== undefined ? (
              <span data-testid="removed-banner">This coordination was {props.removed.reason}.</span>
            ) : gone ? (
              "Not on the server."
            ) : (
              "Loading…"
            )}
          </div>
        </div>
        <div class="actions">
          {deleting !== undefined && <span class="muted small">{deleting}</span>}
          <button class="danger" onClick={onDelete} disabled={row === undefined} data-testid="delete">
            Delete
          </button>
        </div>
      </div>
      {row !== undefined && (
        <div class="figures">
          <Figure label="newest sequence" value={count(row.headSequence)} />
          <Figure label="signals retained" value={count(row.signalCount)} />
          <Figure label="agents with context" value={count(row.agentsWithContext)} />
          <Figure label="open waits" value={count(row.openWaits)} tone={row.openWaits > 0 ? "warn" : undefined} />
          <Figure label="subscriptions" value={count(row.openSubscriptions)} />
          <Figure label="context watches" value={count(row.openContextWatches)} />
        </div>
      )}
      <div class="tabs" role="tablist">
        {(["timeline", "agents", "dependencies"] as const).map((t) => (
          <button role="tab" aria-selected={tab === t} class={tab === t ? "tab active" : "tab"} onClick={() => setTab(t)} data-testid={`tab-${t}`}>
            {t === "timeline" ? "Signals" : t === "agents" ? `Agents${details.coordination ? ` (${details.coordination.agentCount})` : ""}` : `Dependencies${details.records.length > 0 ? ` (${details.records.length})` : ""}`}
          </button>
        ))}
      </div>
      {details.error !== undefined && <p class="note">{details.error}</p>}
      <div class="tab-body">
        {tab === "timeline" && <Timeline entries={timeline.entries} dropped={timeline.dropped} status={timeline.status} />}
        {tab === "agents" && <AgentsView details={details.coordination} entries={timeline.entries} />}
        {tab === "dependencies" && <DependencyGraphView records={details.records} now={now} />}
      </div>
    </div>
  );
}
