// Who waits on whom: the coordination's dependency graph (agents, resources and quality gates on a circle, one
// arrow per dependency coloured by status), a banner naming each wait cycle, and the records as a table.
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { DependencyRecord } from "../../../gen/ts/consort/v1/dependency_pb.js";
import { duration } from "../format.js";
import { buildWaitGraph, edgeStatus, targetLabel, type GraphEdge, type GraphNode } from "../wait-graph.js";

const W = 760;
const NODE_R = 24;

const statusLabel: Record<GraphEdge["status"], string> = {
  pending: "pending",
  in_progress: "in progress",
  resolved: "resolved",
  failed: "failed",
  timeout: "timeout",
};

function NodeShape({ n, x, y }: { n: GraphNode; x: number; y: number }) {
  const cls = `node node-${n.kind} ${n.onCycle ? "on-cycle" : ""}`;
  const label = n.label.length > 16 ? `${n.label.slice(0, 15)}…` : n.label;
  return (
    <g class={cls} data-testid="graph-node" data-key={n.key} data-on-cycle={String(n.onCycle)}>
      {n.kind === "agent" ? (
        <circle cx={x} cy={y} r={NODE_R} />
      ) : n.kind === "resource" ? (
        <rect x={x - NODE_R} y={y - NODE_R * 0.75} width={NODE_R * 2} height={NODE_R * 1.5} rx={6} />
      ) : (
        <polygon points={`${x},${y - NODE_R} ${x + NODE_R},${y} ${x},${y + NODE_R} ${x - NODE_R},${y}`} />
      )}
      <text x={x} y={y + NODE_R + 16} text-anchor="middle">
        {label}
      </text>
      <title>{`${n.kind} ${n.label}`}</title>
    </g>
  );
}

/** The dependency view. */
export function DependencyGraphView({ records, now }: { records: readonly DependencyRecord[]; now: number }) {
  const graph = buildWaitGraph(records);
  if (graph.nodes.length === 0) return <p class="muted pad">No dependency recorded.</p>;
  // Nodes on an ellipse, the first on the left: two nodes side by side, more around; the drawing is as tall as
  // the nodes need.
  const count = graph.nodes.length;
  const H = count <= 2 ? 200 : count <= 4 ? 320 : 420;
  const cx = W / 2;
  const cy = H / 2 - 8;
  const rx = W / 2 - NODE_R - 70;
  const ry = count <= 2 ? 0 : H / 2 - NODE_R - 30;
  const pos = new Map(graph.nodes.map((n, i) => [n.key, { x: cx - rx * Math.cos((2 * Math.PI * i) / count), y: cy - ry * Math.sin((2 * Math.PI * i) / count) }]));
  return (
    <section class="card">
      <div class="card-head">
        <h3>Dependencies</h3>
        <div class="legend small">
          {(["in_progress", "resolved", "failed", "timeout"] as const).map((s) => (
            <span key={s} class={`legend-item edge-${s}`}>
              <span class="swatch" />
              {statusLabel[s]}
            </span>
          ))}
        </div>
      </div>
      {graph.cycles.map((c) => (
        <div class="alert" data-testid="cycle" key={c.join(">")}>
          <strong>Wait cycle:</strong> {c.join(" → ")} — these agents wait on each other's completion; the wait that would close the cycle failed.
        </div>
      ))}
      <svg class="graph" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Dependency graph" data-testid="graph">
        <defs>
          {(["pending", "in_progress", "resolved", "failed", "timeout", "cycle"] as const).map((s) => (
            <marker id={`arrow-${s}`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class={`arrowhead edge-${s}`} />
            </marker>
          ))}
        </defs>
        {graph.edges.map((e) => {
          const a = pos.get(e.from)!;
          const b = pos.get(e.to)!;
          const dx = b.x - a.x;
          const dy = b.y - a.y;
          const len = Math.hypot(dx, dy) || 1;
          // A slight bend, so that a → b and b → a do not overlap.
          const mx = (a.x + b.x) / 2 - (dy / len) * 28;
          const my = (a.y + b.y) / 2 + (dx / len) * 28;
          const ux = (mx - a.x) / Math.hypot(mx - a.x, my - a.y);
          const uy = (my - a.y) / Math.hypot(mx - a.x, my - a.y);
          const vx = (b.x - mx) / Math.hypot(b.x - mx, b.y - my);
          const vy = (b.y - my) / Math.hypot(b.x - mx, b.y - my);
          const kind = e.onCycle ? "cycle" : e.status;
          return (
            <path
              key={`${e.from}-${e.dependencyId}`}
              d={`M${a.x + ux * NODE_R},${a.y + uy * NODE_R} Q${mx},${my} ${b.x - vx * (NODE_R + 2)},${b.y - vy * (NODE_R + 2)}`}
              class={`edge edge-${kind}`}
              marker-end={`url(#arrow-${kind})`}
              data-testid="graph-edge"
              data-from={e.from}
              data-to={e.to}
              data-status={e.status}
              data-on-cycle={String(e.onCycle)}
            >
              <title>{`${e.from} waits for ${e.to} (${e.dependencyId}): ${statusLabel[e.status]}${e.message ? ` — ${e.message}` : ""}`}</title>
            </path>
          );
        })}
        {graph.nodes.map((n) => {
          const p = pos.get(n.key)!;
          return <NodeShape key={n.key} n={n} x={p.x} y={p.y} />;
        })}
      </svg>
      <div class="scroll-x">
        <table class="table" data-testid="dependencies">
          <thead>
            <tr>
              <th>agent</th>
              <th>dependency</th>
              <th>waits for</th>
              <th>status</th>
              <th class="num">waited</th>
              <th>message</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => {
              const status = edgeStatus(r);
              const waited = r.finishedAt !== undefined && r.startedAt !== undefined ? timestampMs(r.finishedAt) - timestampMs(r.startedAt) : r.startedAt !== undefined ? now - timestampMs(r.startedAt) : 0;
              return (
                <tr key={`${r.agentId}-${r.dependency?.dependencyId}-${r.startedAt?.seconds}-${r.startedAt?.nanos}`} data-testid="dependency-row" data-agent={r.agentId} data-dependency={r.dependency?.dependencyId} data-status={status}>
                  <td class="mono">{r.agentId}</td>
                  <td class="mono">{r.dependency?.dependencyId}</td>
                  <td class="mono">{targetLabel(r)}</td>
                  <td>
                    <span class={`tag status-${status}`}>{statusLabel[status]}</span>
                  </td>
                  <td class="num">{duration(Math.max(0, waited))}</td>
                  <td class="small">{r.message}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
