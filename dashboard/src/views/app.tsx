// The dashboard's frame: a top bar, the live list of coordinations on the side, and the selected view — one
// coordination, or the routing policies — chosen by the URL's hash (#/c/<id>, #/routing) so a view can be
// bookmarked and reloaded.
import { useEffect, useState } from "preact/hooks";
import type { Clients } from "../clients.js";
import { followCoordinations, type WatchStatus } from "../watch-feed.js";
import { emptyWatchList, type WatchListState } from "../watch-list.js";
import { CoordinationList } from "./coordination-list.js";
import { CoordinationPage } from "./coordination-page.js";
import { RoutingView } from "./routing-view.js";

type Route = { readonly view: "home" } | { readonly view: "coordination"; readonly id: string } | { readonly view: "routing" };

function parseHash(hash: string): Route {
  if (hash.startsWith("#/c/")) return { view: "coordination", id: decodeURIComponent(hash.slice(4)) };
  if (hash === "#/routing") return { view: "routing" };
  return { view: "home" };
}

/** The URL hash as a route, following the browser's navigation. */
function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** The coordinations, kept current by one WatchCoordinations stream for the page's lifetime. */
function useCoordinations(clients: Clients): [WatchListState, WatchStatus] {
  const [state, setState] = useState<WatchListState>(emptyWatchList);
  const [status, setStatus] = useState<WatchStatus>({ state: "connecting" });
  useEffect(() => {
    const ac = new AbortController();
    void followCoordinations({ client: clients.coordinations, onState: setState, onStatus: setStatus, signal: ac.signal });
    return () => ac.abort();
  }, [clients]);
  return [state, status];
}

/** A clock that ticks every `ms`, for "… ago" labels. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function StatusPill({ status }: { status: WatchStatus }) {
  const label = status.state === "live" ? "Live" : status.state === "connecting" ? "Connecting…" : "Reconnecting…";
  return (
    <span class={`pill pill-${status.state}`} data-testid="connection" data-state={status.state} title={status.state === "retrying" ? status.reason : undefined}>
      <span class="dot" />
      <span class="pill-label">{label}</span>
    </span>
  );
}

/** The whole page. */
export function App({ clients }: { clients: Clients }) {
  const route = useRoute();
  const [list, status] = useCoordinations(clients);
  const now = useNow();
  const selected = route.view === "coordination" ? route.id : undefined;
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/">
          <span class="logo" aria-hidden="true" />
          Consort
        </a>
        <nav class="nav">
          <a href="#/" class={route.view !== "routing" ? "active" : ""}>
            Coordinations
          </a>
          <a href="#/routing" class={route.view === "routing" ? "active" : ""}>
            Routing
          </a>
        </nav>
        <StatusPill status={status} />
      </header>
      <div class={`layout ${route.view === "home" ? "layout-home" : ""}`}>
        <aside class="sidebar">
          <CoordinationList state={list} selected={selected} now={now} />
        </aside>
        <main class="content">
          {route.view === "coordination" ? (
            <CoordinationPage key={route.id} clients={clients} id={route.id} row={list.rows.get(route.id)} removed={list.removed.find((r) => r.id === route.id)} caughtUp={list.caughtUp} now={now} />
          ) : route.view === "routing" ? (
            <RoutingView clients={clients} now={now} />
          ) : (
            <div class="empty-state">
              <h2>Select a coordination</h2>
              <p>Every coordination on this server is listed as it is created, changes and goes. Pick one to follow its signals, agents and waits.</p>
            </div>
          )}
        </main>
      </div>
    </div>
  );
}
