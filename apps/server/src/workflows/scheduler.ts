import type { NodeRunStatus, ParsedGraph } from '@runtools/spec';

/**
 * What runs next in a workflow run, decided from nothing but the graph and the node runs stored so far: a
 * pure function, so a control plane that restarts (or another one that takes the run over) decides exactly
 * what the first would have.
 *
 * The rules:
 * - A node runs once per iteration. Its iteration is how many times the loops it is in have gone round (a loop
 *   is an edge with `maxIterations` back to an earlier node; its body is every node from its target to its
 *   source).
 * - An edge is *taken* when its source completed and chose it (a condition's or approval's edges carry the
 *   result they follow; other nodes take all their edges), *skipped* when its source was skipped or did not
 *   choose it, and *pending* otherwise.
 * - A node starts when none of its incoming edges is pending and one is taken (a `join` in mode `any` or
 *   `first` starts at its first taken edge); when every one is skipped, the node is skipped too, and so on
 *   down the graph (dead-path elimination). Nodes with no incoming edge start the run.
 * - A `first` join cancels the branches still running into it.
 */

export interface NodeRunState {
  nodeId: string;
  iteration: number;
  status: NodeRunStatus;
  /** Edge indexes its completion took; null until it ends (and for one that did not complete). */
  taken: readonly number[] | null;
}

export type Decision =
  | { kind: 'start'; nodeId: string; iteration: number }
  | { kind: 'skip'; nodeId: string; iteration: number }
  | { kind: 'cancel'; nodeId: string; iteration: number };

const terminal: ReadonlySet<NodeRunStatus> = new Set(['completed', 'failed', 'skipped', 'cancelled', 'timed_out']);

export function isTerminal(status: NodeRunStatus): boolean {
  return terminal.has(status);
}

/** How many times the loop edge `edgeIndex` has been taken. */
export function loopTimes(graph: ParsedGraph, runs: readonly NodeRunState[], edgeIndex: number): number {
  const edge = graph.edges[edgeIndex];
  if (!edge) return 0;
  let times = 0;
  for (const run of runs)
    if (run.nodeId === edge.source && run.status === 'completed' && run.taken?.includes(edgeIndex)) times++;
  return times;
}

/** Each node's current iteration: the sum of the turns of the loops whose body holds it. */
export function iterations(graph: ParsedGraph, runs: readonly NodeRunState[]): Map<string, number> {
  const result = new Map<string, number>(graph.nodeOrder.map((id) => [id, 0]));
  for (const [edgeIndex, body] of graph.loopBodies) {
    const times = loopTimes(graph, runs, edgeIndex);
    if (!times) continue;
    for (const id of body) result.set(id, (result.get(id) ?? 0) + times);
  }
  return result;
}

/** Every node from which `target` can be reached along forward edges (not the target itself). */
function ancestors(graph: ParsedGraph, target: string): Set<string> {
  const seen = new Set<string>();
  const stack = [target];
  while (stack.length) {
    const id = stack.pop() as string;
    for (const edge of graph.incoming.get(id) ?? []) {
      if (edge.maxIterations !== undefined || seen.has(edge.source)) continue;
      seen.add(edge.source);
      stack.push(edge.source);
    }
  }
  return seen;
}

export function schedule(
  graph: ParsedGraph,
  runs: readonly NodeRunState[],
): { decisions: Decision[]; finished: boolean } {
  const byKey = new Map(runs.map((run) => [`${run.nodeId}#${run.iteration}`, run]));
  const current = iterations(graph, runs);
  const runOf = (id: string) => byKey.get(`${id}#${current.get(id) ?? 0}`);
  const decisions: Decision[] = [];
  const cancelled = new Set<string>();
  for (const id of graph.nodeOrder) {
    const node = graph.nodes.get(id);
    if (!node || runOf(id)) continue;
    const iteration = current.get(id) ?? 0;
    const forward = (graph.incoming.get(id) ?? []).filter((edge) => edge.maxIterations === undefined);
    if (!forward.length) {
      decisions.push({ kind: 'start', nodeId: id, iteration });
      continue;
    }
    let taken = 0;
    let pending = 0;
    for (const edge of forward) {
      const source = runOf(edge.source);
      if (!source || !isTerminal(source.status) || source.status === 'failed' || source.status === 'timed_out')
        pending++;
      else if (source.status === 'completed' && source.taken?.includes(edge.index)) taken++;
    }
    const mode = node.type === 'join' ? ((node.config.mode as string | undefined) ?? 'all') : 'all';
    if (mode === 'all' ? pending === 0 && taken > 0 : taken > 0) {
      decisions.push({ kind: 'start', nodeId: id, iteration });
      if (mode === 'first')
        for (const ancestor of ancestors(graph, id)) {
          const run = runOf(ancestor);
          if (run && !isTerminal(run.status) && !cancelled.has(ancestor)) {
            cancelled.add(ancestor);
            decisions.push({ kind: 'cancel', nodeId: ancestor, iteration: run.iteration });
          }
        }
    } else if (pending === 0) decisions.push({ kind: 'skip', nodeId: id, iteration });
  }
  const busy = runs.some((run) => !isTerminal(run.status) && !cancelled.has(run.nodeId));
  return { decisions, finished: !decisions.length && !busy };
}
