import type { z } from 'zod';
import {
  type GraphProblem,
  nodeConfigSchemas,
  RetryPolicy,
  WorkflowGraph,
  type WorkflowNodeType,
} from './workflows.js';

/**
 * The workflow graph as a pure model (no I/O): parsing and validation, templates, and the structure the engine
 * and an editor both need (start nodes, loops). The server adds what needs the database (unknown agents and
 * tools); an expression checker is passed in so this package does not carry an expression engine.
 */

export interface ParsedNode {
  id: string;
  type: WorkflowNodeType;
  config: Record<string, unknown>;
  retry: z.output<typeof RetryPolicy>;
  timeoutSeconds: number | undefined;
}

export interface ParsedEdge {
  index: number;
  source: string;
  target: string;
  condition: boolean | undefined;
  /** Set on a loop edge (back to an earlier node). */
  maxIterations: number | undefined;
}

export interface ParsedGraph {
  nodes: Map<string, ParsedNode>;
  /** In the graph's order. */
  nodeOrder: string[];
  edges: ParsedEdge[];
  incoming: Map<string, ParsedEdge[]>;
  outgoing: Map<string, ParsedEdge[]>;
  /** Nodes with no incoming edge other than loop edges: a run starts there. */
  starts: string[];
  /** For each loop edge (by index), the nodes it runs again: reachable from its target and reaching its source. */
  loopBodies: Map<number, Set<string>>;
}

/** Says what is wrong with an expression (a parse error), or nothing. */
export type ExpressionChecker = (expression: string) => string | undefined;

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'expression'; expression: string };

/**
 * Splits a template into text and `{{ expression }}` parts. A `{{` with no closing `}}` is an error (thrown), so
 * a typo does not pass as text.
 */
export function templateParts(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let rest = template;
  for (;;) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      if (rest) parts.push({ kind: 'text', text: rest });
      return parts;
    }
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new Error(`"{{" at ${template.length - rest.length + open} has no closing "}}"`);
    if (open > 0) parts.push({ kind: 'text', text: rest.slice(0, open) });
    const expression = rest.slice(open + 2, close).trim();
    if (!expression) throw new Error('an empty {{ }}');
    parts.push({ kind: 'expression', expression });
    rest = rest.slice(close + 2);
  }
}

/** The config fields of each node type that are expressions, and those that are templates (string leaves). */
const expressionFields: Partial<Record<WorkflowNodeType, string[]>> = {
  condition: ['expression'],
  transform: ['expression'],
  output: ['expression'],
};

/** Every string in a config that may hold `{{ }}`, with its path, except the plain expression fields. */
function templateStrings(type: WorkflowNodeType, config: unknown, path = 'config'): Array<[string, string]> {
  if (typeof config === 'string') return [[path, config]];
  if (Array.isArray(config)) return config.flatMap((item, index) => templateStrings(type, item, `${path}[${index}]`));
  if (config && typeof config === 'object')
    return Object.entries(config).flatMap(([key, value]) =>
      path === 'config' && expressionFields[type]?.includes(key) ? [] : templateStrings(type, value, `${path}.${key}`),
    );
  return [];
}

/** Which fields of a type's config are never templates (names of things, enums). */
const literalFields: Partial<Record<WorkflowNodeType, string[]>> = {
  agent: ['config.agent', 'config.thread'],
  tool: ['config.tool', 'config.action'],
  sandbox: ['config.template'],
  join: ['config.mode'],
  approval: ['config.onTimeout'],
};

/**
 * Parses and checks a whole graph, collecting every problem with the node or edge it belongs to (a save
 * answers them all at once). With no problems, `graph` is ready for the engine.
 */
export function parseGraph(
  input: unknown,
  checkExpression?: ExpressionChecker,
): { graph: ParsedGraph | undefined; problems: GraphProblem[] } {
  const problems: GraphProblem[] = [];
  const shape = WorkflowGraph.safeParse(input);
  if (!shape.success) {
    for (const issue of shape.error.issues) {
      const [first, index, ...rest] = issue.path;
      const nodeId =
        first === 'nodes' && typeof index === 'number'
          ? (input as { nodes?: Array<{ id?: unknown }> }).nodes?.[index]?.id
          : undefined;
      problems.push({
        code: 'invalid_graph',
        message: issue.message,
        ...(typeof nodeId === 'string' ? { nodeId } : {}),
        ...(first === 'edges' && typeof index === 'number' ? { edge: index } : {}),
        path: [first, index, ...rest].filter((part) => part !== undefined).join('.'),
      });
    }
    return { graph: undefined, problems };
  }
  const raw = shape.data;
  const nodes = new Map<string, ParsedNode>();
  const nodeOrder: string[] = [];
  let outputs = 0;
  for (const node of raw.nodes) {
    if (nodes.has(node.id)) {
      problems.push({ code: 'duplicate_node', message: `two nodes have the id ${node.id}`, nodeId: node.id });
      continue;
    }
    if (!(node.type in nodeConfigSchemas)) {
      problems.push({
        code: 'unknown_node_type',
        message: `unknown node type "${node.type}"; one of ${Object.keys(nodeConfigSchemas).join(', ')}`,
        nodeId: node.id,
        path: 'type',
      });
      continue;
    }
    const type = node.type as WorkflowNodeType;
    const config = nodeConfigSchemas[type].safeParse(node.config ?? {});
    if (!config.success) {
      for (const issue of config.error.issues)
        problems.push({
          code: 'invalid_config',
          message: issue.message,
          nodeId: node.id,
          path: ['config', ...issue.path].join('.'),
        });
      continue;
    }
    if (type === 'output') outputs++;
    const parsed: ParsedNode = {
      id: node.id,
      type,
      config: config.data as Record<string, unknown>,
      retry: RetryPolicy.parse(node.retry ?? {}),
      timeoutSeconds: node.timeoutSeconds,
    };
    nodes.set(node.id, parsed);
    nodeOrder.push(node.id);
    if (checkExpression) {
      for (const field of expressionFields[type] ?? []) {
        const expression = parsed.config[field];
        const error = typeof expression === 'string' ? checkExpression(expression) : undefined;
        if (error)
          problems.push({ code: 'invalid_expression', message: error, nodeId: node.id, path: `config.${field}` });
      }
    }
    for (const [path, text] of templateStrings(type, parsed.config)) {
      if (literalFields[type]?.includes(path)) continue;
      try {
        for (const part of templateParts(text)) {
          const error = part.kind === 'expression' ? checkExpression?.(part.expression) : undefined;
          if (error) problems.push({ code: 'invalid_expression', message: error, nodeId: node.id, path });
        }
      } catch (error) {
        problems.push({ code: 'invalid_template', message: (error as Error).message, nodeId: node.id, path });
      }
    }
  }
  if (outputs > 1) problems.push({ code: 'multiple_outputs', message: 'a graph has at most one output node' });
  const declared = new Set(raw.nodes.map((node) => node.id));
  const edges: ParsedEdge[] = [];
  const seenEdges = new Set<string>();
  raw.edges.forEach((edge, index) => {
    for (const end of ['source', 'target'] as const)
      if (!declared.has(edge[end]))
        problems.push({
          code: 'missing_node',
          message: `edge ${end} ${edge[end]} is not a node of the graph`,
          edge: index,
        });
    if (!declared.has(edge.source) || !declared.has(edge.target)) return;
    if (edge.source === edge.target && edge.maxIterations === undefined)
      problems.push({
        code: 'cycle',
        message: `an edge from ${edge.source} to itself needs maxIterations`,
        edge: index,
      });
    const key = `${edge.source}\u0000${edge.target}\u0000${edge.condition}`;
    if (seenEdges.has(key))
      problems.push({ code: 'duplicate_edge', message: `a second edge ${edge.source} → ${edge.target}`, edge: index });
    seenEdges.add(key);
    const source = nodes.get(edge.source);
    if (source && edge.condition !== undefined && source.type !== 'condition' && source.type !== 'approval')
      problems.push({
        code: 'invalid_edge',
        message: `only edges from condition and approval nodes carry a condition (${edge.source} is ${source.type})`,
        edge: index,
        nodeId: edge.source,
      });
    if (source?.type === 'condition' && edge.condition === undefined)
      problems.push({
        code: 'invalid_edge',
        message: `an edge from condition node ${edge.source} needs condition: true or false`,
        edge: index,
        nodeId: edge.source,
      });
    if (source?.type === 'output')
      problems.push({
        code: 'invalid_edge',
        message: 'an output node ends the run; no edge leaves it',
        edge: index,
        nodeId: edge.source,
      });
    edges.push({
      index,
      source: edge.source,
      target: edge.target,
      condition: edge.condition,
      maxIterations: edge.maxIterations,
    });
  });
  const incoming = new Map<string, ParsedEdge[]>(nodeOrder.map((id) => [id, []]));
  const outgoing = new Map<string, ParsedEdge[]>(nodeOrder.map((id) => [id, []]));
  for (const edge of edges) {
    incoming.get(edge.target)?.push(edge);
    outgoing.get(edge.source)?.push(edge);
  }
  // Without its loop edges the graph must be acyclic: any other cycle has no bound.
  const cycle = findCycle(nodeOrder, (id) =>
    (outgoing.get(id) ?? []).filter((edge) => edge.maxIterations === undefined),
  );
  if (cycle)
    problems.push({
      code: 'cycle',
      message: `the nodes ${cycle.join(' → ')} form a cycle; mark the edge back with maxIterations to make it a bounded loop`,
      nodeId: cycle[0],
    });
  const forward = (id: string) => (outgoing.get(id) ?? []).filter((edge) => edge.maxIterations === undefined);
  const loopBodies = new Map<number, Set<string>>();
  for (const edge of edges) {
    if (edge.maxIterations === undefined) continue;
    const fromTarget = reachable(edge.target, (id) => forward(id).map((next) => next.target));
    if (!fromTarget.has(edge.source)) {
      problems.push({
        code: 'invalid_loop',
        message: `a loop edge goes back to an earlier node: ${edge.target} does not lead to ${edge.source}`,
        edge: edge.index,
      });
      continue;
    }
    const toSource = reachable(edge.source, (id) =>
      (incoming.get(id) ?? []).filter((back) => back.maxIterations === undefined).map((back) => back.source),
    );
    loopBodies.set(edge.index, new Set([...fromTarget].filter((id) => toSource.has(id))));
  }
  const starts = nodeOrder.filter((id) => !(incoming.get(id) ?? []).some((edge) => edge.maxIterations === undefined));
  if (!starts.length && nodeOrder.length)
    problems.push({ code: 'no_start', message: 'every node has an incoming edge: nothing starts the run' });
  return {
    graph: problems.length ? undefined : { nodes, nodeOrder, edges, incoming, outgoing, starts, loopBodies },
    problems,
  };
}

function reachable(from: string, next: (id: string) => string[]): Set<string> {
  const seen = new Set([from]);
  const stack = [from];
  while (stack.length) {
    const id = stack.pop() as string;
    for (const target of next(id))
      if (!seen.has(target)) {
        seen.add(target);
        stack.push(target);
      }
  }
  return seen;
}

/** A cycle of the directed graph (its nodes in order), if it has one. */
function findCycle(ids: string[], edgesOf: (id: string) => ParsedEdge[]): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 'open');
    path.push(id);
    for (const edge of edgesOf(id)) {
      const seen = state.get(edge.target);
      if (seen === 'open') return [...path.slice(path.indexOf(edge.target)), edge.target];
      if (!seen) {
        const found = visit(edge.target);
        if (found) return found;
      }
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of ids) {
    if (state.has(id)) continue;
    const found = visit(id);
    if (found) return found;
  }
  return undefined;
}
