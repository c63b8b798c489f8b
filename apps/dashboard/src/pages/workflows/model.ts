import type { GraphProblem, WorkflowEdge, WorkflowGraph, WorkflowNode, WorkflowNodeType } from '@runtools/spec';

/**
 * The editor's model of the spec's node kinds (packages/spec/src/workflows.ts, nodeConfigSchemas): each type's
 * config fields as form fields. Written out here (typed against the spec) because the page imports only types
 * from the spec, so zod stays out of the bundle; the server checks every save against the real schemas.
 */
export type FieldKind = 'text' | 'textarea' | 'expression' | 'number' | 'select' | 'checkbox' | 'json' | 'list';

export interface FieldDef {
  name: string;
  label: string;
  kind: FieldKind;
  required?: boolean;
  options?: readonly string[];
  defaultValue?: unknown;
  hint?: string;
  /** A datalist of names to offer (agents, tools). */
  suggest?: 'agents' | 'tools';
}

export interface NodeKind {
  type: WorkflowNodeType;
  label: string;
  description: string;
  fields: FieldDef[];
  /** Condition and approval nodes branch: their edges leave from a true (approved) or false handle. */
  branches?: boolean;
}

const template = 'may hold {{ expression }} parts (JSONata over input, nodes.<id>.output, trigger, run)';

export const nodeKinds: Record<WorkflowNodeType, NodeKind> = {
  agent: {
    type: 'agent',
    label: 'Agent',
    description: 'Runs an agent with a prompt',
    fields: [
      { name: 'agent', label: 'Agent', kind: 'text', required: true, suggest: 'agents', hint: "the agent's slug" },
      { name: 'prompt', label: 'Prompt', kind: 'textarea', required: true, hint: template },
      {
        name: 'thread',
        label: 'Thread',
        kind: 'select',
        options: ['none', 'run'],
        defaultValue: 'none',
        hint: "run: the run's agent nodes share one thread",
      },
    ],
  },
  tool: {
    type: 'tool',
    label: 'Tool',
    description: 'Calls an installed tool action',
    fields: [
      { name: 'tool', label: 'Tool', kind: 'text', required: true, suggest: 'tools' },
      { name: 'action', label: 'Action', kind: 'text', required: true },
      {
        name: 'params',
        label: 'Params (JSON)',
        kind: 'json',
        defaultValue: {},
        hint: 'a JSON object; string values may hold {{ expression }}',
      },
    ],
  },
  sandbox: {
    type: 'sandbox',
    label: 'Sandbox command',
    description: 'Runs a command in a sandbox',
    fields: [
      { name: 'command', label: 'Command', kind: 'textarea', required: true, hint: template },
      { name: 'template', label: 'Template', kind: 'text', hint: 'the template of a new sandbox' },
      {
        name: 'sandbox',
        label: 'Sandbox id',
        kind: 'text',
        hint: 'run in this sandbox; without it a new one is made and destroyed after',
      },
      { name: 'cwd', label: 'Working directory', kind: 'text' },
      { name: 'env', label: 'Environment (JSON)', kind: 'json', hint: 'a JSON object of variables' },
      {
        name: 'allowFailure',
        label: 'Allow failure',
        kind: 'checkbox',
        defaultValue: false,
        hint: 'a non-zero exit completes the node instead of failing it',
      },
    ],
  },
  condition: {
    type: 'condition',
    label: 'Condition',
    description: 'Branches on an expression (true / false)',
    branches: true,
    fields: [{ name: 'expression', label: 'Expression', kind: 'expression', required: true, hint: 'JSONata' }],
  },
  parallel: { type: 'parallel', label: 'Parallel', description: 'Fans out to every outgoing edge', fields: [] },
  join: {
    type: 'join',
    label: 'Join',
    description: 'Waits for incoming branches',
    fields: [
      {
        name: 'mode',
        label: 'Mode',
        kind: 'select',
        options: ['all', 'any', 'first'],
        defaultValue: 'all',
        hint: 'all: every branch; any: the first, others finish; first: the first, others cancelled',
      },
    ],
  },
  approval: {
    type: 'approval',
    label: 'Approval',
    description: 'Waits for a member to approve or reject',
    branches: true,
    fields: [
      { name: 'message', label: 'Message', kind: 'textarea', required: true, hint: template },
      {
        name: 'approvers',
        label: 'Approvers',
        kind: 'list',
        hint: 'member ids or emails, one a line; default any member with workflows:execute',
      },
      { name: 'timeoutSeconds', label: 'Timeout (seconds)', kind: 'number' },
      {
        name: 'onTimeout',
        label: 'On timeout',
        kind: 'select',
        options: ['fail', 'reject', 'approve'],
        defaultValue: 'fail',
      },
    ],
  },
  delay: {
    type: 'delay',
    label: 'Delay',
    description: 'Waits a while or until a time',
    fields: [
      { name: 'seconds', label: 'Seconds', kind: 'number', hint: 'either seconds or until' },
      { name: 'until', label: 'Until', kind: 'text', hint: 'an ISO 8601 time, or {{ an expression }} giving one' },
    ],
  },
  'webhook-wait': {
    type: 'webhook-wait',
    label: 'Webhook wait',
    description: 'Waits for an inbound call',
    fields: [{ name: 'timeoutSeconds', label: 'Timeout (seconds)', kind: 'number' }],
  },
  transform: {
    type: 'transform',
    label: 'Transform',
    description: 'Computes a value with an expression',
    fields: [{ name: 'expression', label: 'Expression', kind: 'expression', required: true, hint: 'JSONata' }],
  },
  output: {
    type: 'output',
    label: 'Output',
    description: "Ends the run with the run's output",
    fields: [{ name: 'expression', label: 'Expression', kind: 'expression', required: true, hint: 'JSONata' }],
  },
};

export const nodeTypes = Object.keys(nodeKinds) as WorkflowNodeType[];

export function isNodeType(type: string): type is WorkflowNodeType {
  return type in nodeKinds;
}

/** A new node's config: each field's default, with placeholders where one is required. */
export function defaultConfig(type: WorkflowNodeType): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of nodeKinds[type].fields)
    if (field.defaultValue !== undefined) config[field.name] = field.defaultValue;
  if (type === 'delay') config.seconds = 60;
  return config;
}

/** A node id for a new node of `type` that no node has yet: agent_1, agent_2, … */
export function freshNodeId(type: WorkflowNodeType, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = type.replace(/-/g, '_');
  for (let index = 1; ; index++) if (!used.has(`${base}_${index}`)) return `${base}_${index}`;
}

export const nodeIdPattern = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** What the editor keeps per node besides its position. */
export interface NodeData {
  [key: string]: unknown;
  type: string;
  config: Record<string, unknown>;
  label?: string;
  retry?: WorkflowNode['retry'];
  timeoutSeconds?: number;
  problems?: GraphProblem[];
  status?: string;
}

export interface EdgeData {
  [key: string]: unknown;
  condition?: boolean;
  maxIterations?: number;
  problems?: GraphProblem[];
}

/** The graph a workflow stores, as the editor reads it (tolerating a graph that is not quite valid). */
export function readGraph(raw: unknown): { nodes: WorkflowNode[]; edges: WorkflowEdge[] } {
  const graph = (raw && typeof raw === 'object' ? raw : {}) as Partial<WorkflowGraph>;
  const nodes = Array.isArray(graph.nodes) ? graph.nodes : [];
  const edges = Array.isArray(graph.edges) ? graph.edges : [];
  return {
    nodes: nodes.map((node, index) => ({
      ...node,
      position: node.position ?? { x: 80 + (index % 4) * 240, y: 60 + Math.floor(index / 4) * 160 },
    })),
    edges,
  };
}

/** The problems of a save, from the API's error details. */
export function problemsOf(error: unknown): GraphProblem[] | undefined {
  const details = (error as { details?: { problems?: unknown } } | null)?.details;
  return Array.isArray(details?.problems) ? (details.problems as GraphProblem[]) : undefined;
}

/** Pretty JSON for a node's output or an event's data. */
export function json(value: unknown): string {
  if (value === undefined) return '';
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export const finishedRunStatuses = new Set(['completed', 'failed', 'cancelled', 'timed_out']);
