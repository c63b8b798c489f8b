import { nodeSchemas } from 'virtual:runtools-node-schemas';
import type { GraphProblem, WorkflowEdge, WorkflowGraph, WorkflowNode, WorkflowNodeType } from '@runtools/spec';
import { type FieldDef, type FieldPresentation, fieldsFromSchema } from './schema-fields';

export type { FieldDef, FieldKind } from './schema-fields';

/**
 * The editor's node kinds: each type's config form is made from its schema (the spec's `nodeConfigSchemas`,
 * converted to JSON Schema at build time so zod stays out of the bundle; see schema-fields.ts), with what a
 * schema cannot say layered on here: names, descriptions, labels, widgets and pickers.
 */
export interface NodeKind {
  type: WorkflowNodeType;
  label: string;
  description: string;
  fields: FieldDef[];
  /** Condition and approval nodes branch: their edges leave from a true (approved) or false handle. */
  branches?: boolean;
}

const template = 'may hold {{ expression }} parts (JSONata over input, nodes.<id>.output, trigger, run)';

const presentation: Record<
  WorkflowNodeType,
  { label: string; description: string; branches?: boolean; fields?: Record<string, FieldPresentation> }
> = {
  agent: {
    label: 'Agent',
    description: 'Runs an agent with a prompt',
    fields: {
      agent: { label: 'Agent', suggest: 'agents' },
      prompt: { label: 'Prompt', kind: 'textarea', hint: template },
      thread: { label: 'Thread' },
    },
  },
  tool: {
    label: 'Tool',
    description: 'Calls an installed tool action',
    fields: {
      tool: { label: 'Tool', suggest: 'tools' },
      action: { label: 'Action' },
      params: { label: 'Params (JSON)', hint: 'a JSON object; string values may hold {{ expression }}' },
    },
  },
  sandbox: {
    label: 'Sandbox command',
    description: 'Runs a command in a sandbox',
    fields: {
      sandbox: { label: 'Sandbox id' },
      command: { label: 'Command', kind: 'textarea', hint: template },
      cwd: { label: 'Working directory' },
      env: { label: 'Environment (JSON)', hint: 'a JSON object of variables' },
      allowFailure: { label: 'Allow failure' },
    },
  },
  condition: {
    label: 'Condition',
    description: 'Branches on an expression (true / false)',
    branches: true,
    fields: { expression: { label: 'Expression', kind: 'expression', hint: 'JSONata' } },
  },
  parallel: { label: 'Parallel', description: 'Fans out to every outgoing edge' },
  join: { label: 'Join', description: 'Waits for incoming branches', fields: { mode: { label: 'Mode' } } },
  approval: {
    label: 'Approval',
    description: 'Waits for a member to approve or reject',
    branches: true,
    fields: {
      message: { label: 'Message', kind: 'textarea', hint: template },
      approvers: {
        label: 'Approvers',
        hint: 'member ids or emails, one a line; default any member with workflows:execute',
      },
      timeoutSeconds: { label: 'Timeout (seconds)' },
      onTimeout: { label: 'On timeout' },
    },
  },
  delay: {
    label: 'Delay',
    description: 'Waits a while or until a time',
    fields: { seconds: { label: 'Seconds', hint: 'either seconds or until' } },
  },
  'webhook-wait': {
    label: 'Webhook wait',
    description: 'Waits for an inbound call',
    fields: { timeoutSeconds: { label: 'Timeout (seconds)' } },
  },
  transform: {
    label: 'Transform',
    description: 'Computes a value with an expression',
    fields: { expression: { label: 'Expression', kind: 'expression', hint: 'JSONata' } },
  },
  output: {
    label: 'Output',
    description: "Ends the run with the run's output",
    fields: { expression: { label: 'Expression', kind: 'expression', hint: 'JSONata' } },
  },
};

export const nodeKinds = Object.fromEntries(
  (Object.keys(presentation) as WorkflowNodeType[]).map((type) => {
    const { fields, ...shown } = presentation[type];
    return [type, { type, ...shown, fields: fieldsFromSchema(nodeSchemas[type] ?? {}, fields) }];
  }),
) as Record<WorkflowNodeType, NodeKind>;

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
