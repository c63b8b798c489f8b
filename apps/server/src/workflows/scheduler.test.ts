import { type ParsedGraph, parseGraph, type WorkflowGraph } from '@runtools/spec';
import { describe, expect, it } from 'vitest';
import { type Decision, iterations, type NodeRunState, schedule } from './scheduler.js';

function graphOf(graph: WorkflowGraph): ParsedGraph {
  const parsed = parseGraph(graph);
  if (!parsed.graph) throw new Error(JSON.stringify(parsed.problems));
  return parsed.graph;
}

const t = (id: string) => ({ id, type: 'transform', config: { expression: '1' } });

/** Runs a graph to its end, completing each started node with the edges the `choose` function picks. */
function drive(
  graph: ParsedGraph,
  choose: (nodeId: string, iteration: number) => boolean | undefined = () => undefined,
): { order: string[]; runs: NodeRunState[] } {
  const runs: NodeRunState[] = [];
  const order: string[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const { decisions, finished } = schedule(graph, runs);
    if (finished) return { order, runs };
    const decision = decisions[0] as Decision;
    if (decision.kind === 'skip') {
      runs.push({ nodeId: decision.nodeId, iteration: decision.iteration, status: 'skipped', taken: [] });
      order.push(`-${decision.nodeId}`);
      continue;
    }
    if (decision.kind === 'cancel') throw new Error('unexpected cancel');
    const node = graph.nodes.get(decision.nodeId);
    const branch = choose(decision.nodeId, decision.iteration);
    const taken = (graph.outgoing.get(decision.nodeId) ?? [])
      .filter((edge) => (node?.type === 'condition' ? edge.condition === branch : true))
      .map((edge) => edge.index);
    runs.push({ nodeId: decision.nodeId, iteration: decision.iteration, status: 'completed', taken });
    order.push(`${decision.nodeId}#${decision.iteration}`);
  }
  throw new Error('did not finish');
}

describe('the workflow scheduler', () => {
  it('starts the nodes with no incoming edge and runs a chain in order', () => {
    const graph = graphOf({
      nodes: [t('a'), t('b'), t('c')],
      edges: [
        { source: 'a', target: 'b' },
        { source: 'b', target: 'c' },
      ],
    });
    expect(schedule(graph, []).decisions).toEqual([{ kind: 'start', nodeId: 'a', iteration: 0 }]);
    expect(drive(graph).order).toEqual(['a#0', 'b#0', 'c#0']);
  });

  it('waits for every branch before a node with two incoming edges (all join)', () => {
    const graph = graphOf({
      nodes: [t('a'), t('b'), t('c'), t('d')],
      edges: [
        { source: 'a', target: 'b' },
        { source: 'a', target: 'c' },
        { source: 'b', target: 'd' },
        { source: 'c', target: 'd' },
      ],
    });
    const runs: NodeRunState[] = [
      { nodeId: 'a', iteration: 0, status: 'completed', taken: [0, 1] },
      { nodeId: 'b', iteration: 0, status: 'completed', taken: [2] },
      { nodeId: 'c', iteration: 0, status: 'running', taken: null },
    ];
    expect(schedule(graph, runs)).toEqual({ decisions: [], finished: false });
  });

  it('skips the branch a condition did not take, and everything only it leads to', () => {
    const graph = graphOf({
      nodes: [
        { id: 'if', type: 'condition', config: { expression: 'true' } },
        t('yes'),
        t('no'),
        t('after_no'),
        t('end'),
      ],
      edges: [
        { source: 'if', target: 'yes', condition: true },
        { source: 'if', target: 'no', condition: false },
        { source: 'no', target: 'after_no' },
        { source: 'yes', target: 'end' },
        { source: 'after_no', target: 'end' },
      ],
    });
    expect(drive(graph, () => true).order).toEqual(['if#0', 'yes#0', '-no', '-after_no', 'end#0']);
    expect(drive(graph, () => false).order).toEqual(['if#0', '-yes', 'no#0', 'after_no#0', 'end#0']);
  });

  it('goes round a bounded loop with a new iteration of its body each time, then leaves by the other branch', () => {
    const graph = graphOf({
      nodes: [t('start'), t('work'), { id: 'again', type: 'condition', config: { expression: 'true' } }, t('done')],
      edges: [
        { source: 'start', target: 'work' },
        { source: 'work', target: 'again' },
        { source: 'again', target: 'work', condition: true, maxIterations: 5 },
        { source: 'again', target: 'done', condition: false },
      ],
    });
    const { order, runs } = drive(graph, (_id, iteration) => iteration < 2);
    expect(order).toEqual(['start#0', 'work#0', 'again#0', 'work#1', 'again#1', 'work#2', 'again#2', 'done#0']);
    expect(iterations(graph, runs).get('work')).toBe(2);
    expect(iterations(graph, runs).get('done')).toBe(0);
  });

  it('starts an any join at its first branch and does not start it again when the other ends', () => {
    const graph = graphOf({
      nodes: [t('a'), t('b'), t('c'), { id: 'j', type: 'join', config: { mode: 'any' } }],
      edges: [
        { source: 'a', target: 'b' },
        { source: 'a', target: 'c' },
        { source: 'b', target: 'j' },
        { source: 'c', target: 'j' },
      ],
    });
    const runs: NodeRunState[] = [
      { nodeId: 'a', iteration: 0, status: 'completed', taken: [0, 1] },
      { nodeId: 'b', iteration: 0, status: 'completed', taken: [2] },
      { nodeId: 'c', iteration: 0, status: 'running', taken: null },
    ];
    expect(schedule(graph, runs).decisions).toEqual([{ kind: 'start', nodeId: 'j', iteration: 0 }]);
    runs.push({ nodeId: 'j', iteration: 0, status: 'running', taken: null });
    expect(schedule(graph, runs).decisions).toEqual([]);
  });

  it('cancels the branches still running into a first join when it starts', () => {
    const graph = graphOf({
      nodes: [t('a'), t('b'), t('c'), { id: 'j', type: 'join', config: { mode: 'first' } }],
      edges: [
        { source: 'a', target: 'b' },
        { source: 'a', target: 'c' },
        { source: 'b', target: 'j' },
        { source: 'c', target: 'j' },
      ],
    });
    const runs: NodeRunState[] = [
      { nodeId: 'a', iteration: 0, status: 'completed', taken: [0, 1] },
      { nodeId: 'b', iteration: 0, status: 'completed', taken: [2] },
      { nodeId: 'c', iteration: 0, status: 'waiting', taken: null },
    ];
    expect(schedule(graph, runs).decisions).toEqual([
      { kind: 'start', nodeId: 'j', iteration: 0 },
      { kind: 'cancel', nodeId: 'c', iteration: 0 },
    ]);
  });

  it('is finished only when no node is in progress and none can start', () => {
    const graph = graphOf({ nodes: [t('a'), t('b')], edges: [] });
    expect(schedule(graph, [{ nodeId: 'a', iteration: 0, status: 'completed', taken: [] }]).finished).toBe(false);
    expect(
      schedule(graph, [
        { nodeId: 'a', iteration: 0, status: 'completed', taken: [] },
        { nodeId: 'b', iteration: 0, status: 'waiting', taken: null },
      ]),
    ).toEqual({ decisions: [], finished: false });
    expect(
      schedule(graph, [
        { nodeId: 'a', iteration: 0, status: 'completed', taken: [] },
        { nodeId: 'b', iteration: 0, status: 'completed', taken: [] },
      ]).finished,
    ).toBe(true);
  });
});

describe('graph validation', () => {
  const check = (expression: string) => (expression.includes('((') ? 'unbalanced' : undefined);

  it('reports every problem with the node or edge it belongs to', () => {
    const { graph, problems } = parseGraph(
      {
        nodes: [
          { id: 'a', type: 'transform', config: { expression: '((' } },
          { id: 'b', type: 'teleport', config: {} },
          { id: 'c', type: 'tool', config: { tool: 'github' } },
          { id: 'd', type: 'agent', config: { agent: 'x', prompt: 'hi {{ input.name' } },
          { id: 'a', type: 'output', config: { expression: '1' } },
        ],
        edges: [{ source: 'a', target: 'zzz' }],
      },
      check,
    );
    expect(graph).toBeUndefined();
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'invalid_expression', nodeId: 'a', path: 'config.expression' }),
        expect.objectContaining({ code: 'unknown_node_type', nodeId: 'b' }),
        expect.objectContaining({ code: 'invalid_config', nodeId: 'c', path: 'config.action' }),
        expect.objectContaining({ code: 'invalid_template', nodeId: 'd', path: 'config.prompt' }),
        expect.objectContaining({ code: 'duplicate_node', nodeId: 'a' }),
        expect.objectContaining({ code: 'missing_node', edge: 0 }),
      ]),
    );
  });

  it('refuses a cycle without a bound and accepts it with maxIterations on the edge back', () => {
    const nodes = [t('a'), t('b')];
    const cyclic = parseGraph({
      nodes: [t('s'), ...nodes],
      edges: [
        { source: 's', target: 'a' },
        { source: 'a', target: 'b' },
        { source: 'b', target: 'a' },
      ],
    });
    expect(cyclic.problems).toEqual([expect.objectContaining({ code: 'cycle' })]);
    const bounded = parseGraph({
      nodes: [t('s'), ...nodes],
      edges: [
        { source: 's', target: 'a' },
        { source: 'a', target: 'b' },
        { source: 'b', target: 'a', maxIterations: 3 },
      ],
    });
    expect(bounded.problems).toEqual([]);
    expect(bounded.graph?.loopBodies.get(2)).toEqual(new Set(['a', 'b']));
  });

  it('refuses condition edges without a condition and conditions on other nodes', () => {
    const { problems } = parseGraph({
      nodes: [{ id: 'if', type: 'condition', config: { expression: 'true' } }, t('x'), t('y')],
      edges: [
        { source: 'if', target: 'x' },
        { source: 'x', target: 'y', condition: true },
      ],
    });
    expect(problems.map((problem) => problem.code)).toEqual(['invalid_edge', 'invalid_edge']);
  });
});
