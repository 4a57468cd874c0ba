/** Cycles and paths in small directed graphs of ids, given by a successor function. */

/**
 * A path `from → … → to` following `next`, as the list of its nodes (both ends included); `undefined` when there is
 * none. `from === to` is the one-node path. Depth-first, each node visited once: linear in the edges reached.
 */
export function findPath(from: string, to: string, next: (node: string) => Iterable<string>): string[] | undefined {
  if (from === to) return [from];
  const parent = new Map<string, string>([[from, from]]);
  const stack = [from];
  while (stack.length > 0) {
    const node = stack.pop() as string;
    for (const n of next(node)) {
      if (parent.has(n)) continue;
      parent.set(n, node);
      if (n === to) {
        const path = [n];
        for (let p = node; p !== from; p = parent.get(p) as string) path.push(p);
        path.push(from);
        return path.reverse();
      }
      stack.push(n);
    }
  }
  return undefined;
}

/**
 * A cycle among `nodes` following `next` (edges to nodes outside `nodes` are ignored), as its nodes with the first
 * repeated at the end (`a → b → a`, `a → a`); `undefined` when the graph is acyclic. Nodes are tried in the given
 * order, so the reported cycle is stable for a given input. Linear in nodes plus edges.
 */
export function findCycle(nodes: readonly string[], next: (node: string) => readonly string[]): string[] | undefined {
  const inGraph = new Set(nodes);
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  const path: string[] = [];
  for (const root of nodes) {
    if (state.has(root)) continue;
    // Iterative DFS: each frame is a node and the index of its next successor.
    const frames: [string, number][] = [[root, 0]];
    state.set(root, 1);
    path.push(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as [string, number];
      const succ = next(frame[0]);
      if (frame[1] >= succ.length) {
        state.set(frame[0], 2);
        path.pop();
        frames.pop();
        continue;
      }
      const n = succ[frame[1]++] as string;
      if (!inGraph.has(n)) continue;
      const s = state.get(n);
      if (s === 1) return [...path.slice(path.indexOf(n)), n];
      if (s === 2) continue;
      state.set(n, 1);
      path.push(n);
      frames.push([n, 0]);
    }
  }
  return undefined;
}
