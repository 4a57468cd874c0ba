// Routing policies: each policy's routers, its decision statistics and a chart of its decisions over the last ten
// minutes (from its history). Routing has no change stream: the view reloads every 5 seconds while it is open, and
// on demand.
import { useEffect, useState } from "preact/hooks";
import { ConnectError } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { RoutingPolicy, RoutingResult, RoutingStats } from "../../../gen/ts/consort/v1/routing_pb.js";
import type { Clients } from "../clients.js";
import { bucketDecisions, decisionNames, type DecisionBucket } from "../decision-buckets.js";
import { count } from "../format.js";

const SPAN_MS = 10 * 60_000;
const BUCKETS = 30;
const RELOAD_MS = 5000;
/** History results read for the chart at most. */
const MAX_RESULTS = 5000;

async function loadPolicies(clients: Clients): Promise<RoutingPolicy[]> {
  const out: RoutingPolicy[] = [];
  let pageToken = "";
  for (let i = 0; i < 10; i++) {
    const res = await clients.routing.listRoutingPolicies({ pageSize: 1000, pageToken });
    out.push(...res.policies);
    pageToken = res.nextPageToken;
    if (pageToken === "") break;
  }
  return out;
}

async function loadHistory(clients: Clients, policyId: string, since: number): Promise<RoutingResult[]> {
  const out: RoutingResult[] = [];
  let pageToken = "";
  while (out.length < MAX_RESULTS) {
    const res = await clients.routing.listRoutingHistory({ policyId, pageSize: 1000, pageToken });
    out.push(...res.results);
    pageToken = res.nextPageToken;
    const oldest = res.results.at(-1);
    if (pageToken === "" || oldest?.createdAt === undefined || timestampMs(oldest.createdAt) < since) break;
  }
  return out;
}

function routerNames(p: RoutingPolicy): string {
  return p.routers.map((r) => r.kind.case ?? "?").join(" → ") || "no routers (default: continue)";
}

/** Stacked bars of decisions per bucket. */
function DecisionChart({ buckets }: { buckets: readonly DecisionBucket[] }) {
  const w = 720;
  const h = 200;
  const pad = { l: 36, r: 8, t: 8, b: 24 };
  const max = Math.max(1, ...buckets.map((b) => b.total));
  const bw = (w - pad.l - pad.r) / buckets.length;
  const y = (v: number) => pad.t + (h - pad.t - pad.b) * (1 - v / max);
  const ticks = [0, Math.ceil(max / 2), max];
  return (
    <svg class="chart" viewBox={`0 0 ${w} ${h}`} role="img" aria-label="Decisions over the last ten minutes" data-testid="decision-chart">
      {ticks.map((t) => (
        <g key={t}>
          <line x1={pad.l} x2={w - pad.r} y1={y(t)} y2={y(t)} class="grid" />
          <text x={pad.l - 6} y={y(t) + 4} text-anchor="end" class="axis">
            {t}
          </text>
        </g>
      ))}
      {buckets.map((b, i) => {
        let acc = 0;
        return (
          <g key={i}>
            {decisionNames.map(([, name]) => {
              const n = b.counts[name] ?? 0;
              if (n === 0) return null;
              const y0 = y(acc);
              acc += n;
              const y1 = y(acc);
              return (
                <rect key={name} x={pad.l + i * bw + 1} width={Math.max(1, bw - 2)} y={y1} height={y0 - y1} class={`bar decision-${name}`}>
                  <title>{`${n} × ${name}`}</title>
                </rect>
              );
            })}
          </g>
        );
      })}
      <text x={pad.l} y={h - 6} class="axis">
        −10 min
      </text>
      <text x={w - pad.r} y={h - 6} text-anchor="end" class="axis">
        now
      </text>
    </svg>
  );
}

/** The routing view. */
export function RoutingView({ clients, now }: { clients: Clients; now: number }) {
  const [policies, setPolicies] = useState<RoutingPolicy[] | undefined>(undefined);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [stats, setStats] = useState<RoutingStats | undefined>(undefined);
  const [history, setHistory] = useState<RoutingResult[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const t = setInterval(() => setReload((n) => n + 1), RELOAD_MS);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      try {
        const ps = await loadPolicies(clients);
        if (cancelled) return;
        setPolicies(ps);
        const id = selected ?? ps[0]?.policyId;
        if (id === undefined) return;
        if (selected === undefined) setSelected(id);
        const [s, h] = await Promise.all([clients.routing.getRoutingStats({ policyId: id }), loadHistory(clients, id, Date.now() - SPAN_MS)]);
        if (cancelled) return;
        setStats(s.stats);
        setHistory(h);
        setError(undefined);
      } catch (e) {
        if (!cancelled) setError(ConnectError.from(e).rawMessage);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [clients, selected, reload]);

  const buckets = bucketDecisions(
    history.map((r) => ({ at: r.createdAt ? timestampMs(r.createdAt) : 0, decision: r.decision })),
    now,
    SPAN_MS,
    BUCKETS,
  );
  const policy = policies?.find((p) => p.policyId === selected);
  return (
    <div class="routing">
      <div class="page-head">
        <div>
          <div class="eyebrow">Routing</div>
          <h1 class="page-title">Policies</h1>
        </div>
        <div class="actions">
          <button onClick={() => setReload((n) => n + 1)}>Reload</button>
        </div>
      </div>
      {error !== undefined && <p class="note">{error}</p>}
      {policies === undefined ? (
        <p class="muted pad">Loading…</p>
      ) : policies.length === 0 ? (
        <div class="empty-state">
          <h2>No routing policy</h2>
          <p>Store one with RoutingService.PutRoutingPolicy; its decisions show here.</p>
        </div>
      ) : (
        <div class="routing-grid">
          <section class="card">
            <div class="card-head">
              <h3>
                Policies <span class="muted">{policies.length}</span>
              </h3>
            </div>
            <ul class="rows" data-testid="policies">
              {policies.map((p) => (
                <li key={p.policyId}>
                  <button class={`row ${p.policyId === selected ? "selected" : ""}`} onClick={() => setSelected(p.policyId)} data-testid="policy-row" data-id={p.policyId}>
                    <span class="row-title">{p.policyId}</span>
                    <span class="row-meta">{routerNames(p)}</span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
          {policy !== undefined && (
            <section class="card">
              <div class="card-head">
                <h3>{policy.policyId}</h3>
                <span class="muted small">{routerNames(policy)}</span>
              </div>
              {stats !== undefined && (
                <div class="figures">
                  <div class="figure">
                    <div class="figure-value" data-testid="total-routings">
                      {count(stats.totalRoutings)}
                    </div>
                    <div class="figure-label">decisions</div>
                  </div>
                  <div class="figure">
                    <div class="figure-value">{stats.avgRoutingTimeMs.toFixed(3)} ms</div>
                    <div class="figure-label">mean time</div>
                  </div>
                  {decisionNames
                    .filter(([, n]) => (stats.decisions[n] ?? 0n) > 0n)
                    .map(([, n]) => (
                      <div class="figure" key={n} data-testid="decision-count" data-decision={n}>
                        <div class="figure-value">{count(stats.decisions[n] ?? 0n)}</div>
                        <div class="figure-label">
                          <span class={`swatch decision-${n}`} /> {n}
                        </div>
                      </div>
                    ))}
                </div>
              )}
              <h4 class="subhead">Decisions, last ten minutes</h4>
              <DecisionChart buckets={buckets} />
            </section>
          )}
        </div>
      )}
    </div>
  );
}
