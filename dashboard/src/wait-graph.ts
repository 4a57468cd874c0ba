// Who waits on whom in one coordination, from DependencyService.ListDependencies records: agents and the resources
// and quality gates they wait for are nodes; each dependency is an edge from the waiting agent to its target,
// with the record's status. A wait cycle — agents waiting on each other's completion, which the server refuses as
// the wait that would close it (status failed, "would close a wait cycle") — is found and marked.
import { DependencyStatus, type DependencyRecord } from "../../gen/ts/consort/v1/dependency_pb.js";

/** A node: an agent, a resource or a quality gate. */
export interface GraphNode {
  /** Unique across kinds, e.g. `agent:coder`, `resource:gpu`, `gate:coverage`. */
  readonly key: string;
  readonly kind: "agent" | "resource" | "gate";
  readonly label: string;
  /** True when the node is on a wait cycle. */
  readonly onCycle: boolean;
}

/** Where a dependency stands, by the status's original name. */
export type EdgeStatus = "pending" | "in_progress" | "resolved" | "failed" | "timeout";

/** A dependency: `from` (the waiting agent) waits for `to`. */
export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /** The dependency id. */
  readonly dependencyId: string;
  readonly status: EdgeStatus;
  /** The record's message (why it failed or timed out). */
  readonly message: string;
  /** True when the edge is on a wait cycle. */
  readonly onCycle: boolean;
}

/** The graph, nodes in first-seen order. */
export interface WaitGraph {
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  /** Each wait cycle as agent ids in order (the first repeated at the end), e.g. `[a, b, a]`. */
  readonly cycles: readonly (readonly string[])[];
}

const statusNames: Record<number, EdgeStatus> = {
  [DependencyStatus.PENDING]: "pending",
  [DependencyStatus.IN_PROGRESS]: "in_progress",
  [DependencyStatus.RESOLVED]: "resolved",
  [DependencyStatus.FAILED]: "failed",
  [DependencyStatus.TIMEOUT]: "timeout",
};

/** What a dependency waits for, in words: "agent coder", "resource gpu-1", "gate coverage ≥ 0.8". */
export function targetLabel(r: DependencyRecord): string {
  const t = r.dependency?.target;
  if (t?.case === "agentCompletion") return `agent ${t.value.agentId}`;
  if (t?.case === "resource") return `resource ${t.value.resourceId}`;
  if (t?.case === "qualityGate") return `gate ${t.value.gateId} ≥ ${t.value.threshold}`;
  return "nothing known";
}

/** A record's status by its original name. */
export function edgeStatus(r: DependencyRecord): EdgeStatus {
  return statusNames[r.status] ?? "pending";
}

/** True for the failure the server gives the wait that would close a cycle. */
export function closesCycle(r: { status: EdgeStatus; message: string }): boolean {
  return r.status === "failed" && r.message.includes("would close a wait cycle");
}

/**
 * Builds the graph. Of several records of one (agent, dependency id) the newest counts (records come newest
 * first). Cycles are found among agent-completion edges still waiting (pending, in progress) together with the
 * edges the server refused for closing a cycle: the strongly connected components of that subgraph.
 */
export function buildWaitGraph(records: readonly DependencyRecord[]): WaitGraph {
  const nodes = new Map<string, { key: string; kind: GraphNode["kind"]; label: string }>();
  const node = (kind: GraphNode["kind"], label: string) => {
    const key = `${kind}:${label}`;
    if (!nodes.has(key)) nodes.set(key, { key, kind, label });
    return key;
  };
  const seen = new Set<string>();
  const raw: Omit<GraphEdge, "onCycle">[] = [];
  for (const r of records) {
    const id = `${r.agentId}\u0000${r.dependency?.dependencyId ?? ""}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const from = node("agent", r.agentId);
    const t = r.dependency?.target;
    let to: string;
    if (t?.case === "agentCompletion") to = node("agent", t.value.agentId);
    else if (t?.case === "resource") to = node("resource", t.value.resourceId);
    else if (t?.case === "qualityGate") to = node("gate", t.value.gateId);
    else continue;
    raw.push({ from, to, dependencyId: r.dependency?.dependencyId ?? "", status: edgeStatus(r), message: r.message });
  }
  // The waiting subgraph among agents.
  const waiting = raw.filter((e) => e.from.startsWith("agent:") && e.to.startsWith("agent:") && (e.status === "pending" || e.status === "in_progress" || closesCycle(e)));
  const components = stronglyConnected([...nodes.keys()], waiting);
  const cyclic = new Set<string>();
  const cycles: string[][] = [];
  for (const comp of components) {
    const selfLoop = comp.length === 1 && waiting.some((e) => e.from === comp[0] && e.to === comp[0]);
    if (comp.length < 2 && !selfLoop) continue;
    for (const k of comp) cyclic.add(k);
    cycles.push(cycleThrough(comp, waiting).map((k) => k.slice("agent:".length)));
  }
  return {
    nodes: [...nodes.values()].map((n) => ({ ...n, onCycle: cyclic.has(n.key) })),
    edges: raw.map((e) => ({ ...e, onCycle: cyclic.has(e.from) && cyclic.has(e.to) && waiting.includes(e) })),
    cycles,
  };
}

/** Tarjan's strongly connected components (iterative-free: graphs here are small). */
function stronglyConnected(keys: readonly string[], edges: readonly { from: string; to: string }[]): string[][] {
  const out = new Map<string, string[]>();
  for (const e of edges) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of out.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      result.push(comp.reverse());
    }
  };
  for (const k of keys) if (!idx.has(k)) visit(k);
  return result;
}

/** One cycle through a strongly connected component, as node keys, the first repeated at the end. */
function cycleThrough(comp: readonly string[], edges: readonly { from: string; to: string }[]): string[] {
  const inComp = new Set(comp);
  const start = [...comp].sort()[0]!;
  // Breadth-first from start back to start, inside the component: the shortest cycle through it.
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const e of edges) {
      if (e.from !== v || !inComp.has(e.to)) continue;
      if (e.to === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(e.to)) {
        prev.set(e.to, v);
        queue.push(e.to);
      }
    }
  }
  return [start, start];
}
