// A coordination's agents: context version, last signal sent (its type from the timeline), subscriptions, and
// what each is waiting for.
import type { GetCoordinationResponse } from "../../../gen/ts/consort/v1/coordination_pb.js";
import { count } from "../format.js";
import type { TimelineEntry } from "../timeline-feed.js";
import { targetLabel } from "../wait-graph.js";

/** The status an operator reads first: derived from open waits, the last signal type and subscriptions. */
function statusOf(a: { openWaitCount: number; openSubscriptions: number }, lastType: string | undefined): [string, string] {
  if (a.openWaitCount > 0) return ["waiting", "warn"];
  if (lastType === "agent_completed") return ["completed", "ok"];
  if (lastType !== undefined) return ["active", "info"];
  if (a.openSubscriptions > 0) return ["listening", "info"];
  return ["idle", "muted"];
}

/** The agents table. */
export function AgentsView({ details, entries }: { details: GetCoordinationResponse | undefined; entries: readonly TimelineEntry[] }) {
  if (details === undefined) return <p class="muted pad">Loading…</p>;
  const lastType = new Map<string, string>();
  for (const e of entries) if (e.kind === "signal") lastType.set(e.sender, e.type);
  return (
    <section class="card">
      <div class="card-head">
        <h3>
          Agents <span class="muted">{count(details.agentCount)}</span>
        </h3>
        {details.agents.length < details.agentCount && <span class="muted small">showing {count(details.agents.length)}</span>}
      </div>
      {details.agents.length === 0 ? (
        <p class="muted pad">No agent yet.</p>
      ) : (
        <div class="scroll-x">
          <table class="table" data-testid="agents">
            <thead>
              <tr>
                <th>agent</th>
                <th>status</th>
                <th class="num">context version</th>
                <th class="num">last signal</th>
                <th class="num">subscriptions</th>
                <th>waiting for</th>
              </tr>
            </thead>
            <tbody>
              {details.agents.map((a) => {
                const [status, tone] = statusOf(a, lastType.get(a.agentId));
                return (
                  <tr key={a.agentId} data-testid="agent-row" data-agent={a.agentId} data-status={status}>
                    <td class="mono">{a.agentId}</td>
                    <td>
                      <span class={`tag tag-${tone}`}>{status}</span>
                    </td>
                    <td class="num mono">{a.hasContext ? `v${a.contextVersion}` : "—"}</td>
                    <td class="num mono">{a.lastSentSequence > 0n ? `#${a.lastSentSequence}` : "—"}</td>
                    <td class="num">{a.openSubscriptions}</td>
                    <td class="mono small">
                      {a.openWaits.map((w) => {
                        return <div key={w.dependency?.dependencyId}>{targetLabel(w)}</div>;
                      })}
                      {a.openWaitCount > a.openWaits.length && <div class="muted">and {a.openWaitCount - a.openWaits.length} more</div>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
