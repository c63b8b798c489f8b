import { nodeSchemas } from 'virtual:runtools-node-schemas';
import type { GraphProblem, WorkflowEdge, WorkflowGraph, WorkflowNode, WorkflowNodeType } from '@runtools/spec';
import { defaultsOf, type JsonSchema } from '../../components/json-schema';
import type { FieldPresentation } from '../../components/schema-form';

/**
 * The editor's node kinds. Each type's config form is made from its schema (the spec's `nodeConfigSchemas`,
 * converted to JSON Schema at build time so zod stays out of the bundle: see vite.config.ts) by the shared
 * SchemaForm; what a schema cannot say is layered on here by field name: a label, a text area for a long text,
 * a hint. A field the spec gains shows up in the form with no change here.
 */
export interface NodeKind {
  type: WorkflowNodeType;
  label: string;
  description: string;
  schema: JsonSchema;
  fields: Record<string, FieldPresentation>;
  /** The label of the choice between a union's variants (a delay's seconds or until). */
  variantLabel?: string;
  /** Condition and approval nodes branch: their edges leave from a true (approved) or false handle. */
  branches?: boolean;
}

const template = 'may hold {{ expression }} parts (JSONata over input, nodes.<id>.output, trigger, run)';
const expression = { widget: 'code', hint: 'JSONata' } as const;

const presentation: Record<WorkflowNodeType, Omit<NodeKind, 'type' | 'schema' | 'fields'> & Partial<NodeKind>> = {
  agent: {
    label: 'Agent',
    description: 'Runs an agent with a prompt',
    fields: { prompt: { widget: 'textarea', hint: template } },
  },
  tool: {
    label: 'Tool',
    description: 'Calls an installed tool action',
  },
  sandbox: {
    label: 'Sandbox command',
    description: 'Runs a command in a sandbox',
    fields: {
      sandbox: { label: 'Sandbox id' },
      command: { widget: 'textarea', hint: template },
      cwd: { label: 'Working directory' },
      env: { label: 'Environment', hint: 'variables, { "NAME": "value" }' },
    },
  },
  condition: {
    label: 'Condition',
    description: 'Branches on an expression (true / false)',
    branches: true,
    fields: { expression },
  },
  parallel: { label: 'Parallel', description: 'Fans out to every outgoing edge' },
  join: { label: 'Join', description: 'Waits for incoming branches' },
  approval: {
    label: 'Approval',
    description: 'Waits for a member to approve or reject',
    branches: true,
    fields: { message: { widget: 'textarea', hint: template } },
  },
  delay: { label: 'Delay', description: 'Waits a while or until a time', variantLabel: 'Wait' },
  'webhook-wait': { label: 'Webhook wait', description: 'Waits for an inbound call' },
  transform: { label: 'Transform', description: 'Computes a value with an expression', fields: { expression } },
  output: { label: 'Output', description: "Ends the run with the run's output", fields: { expression } },
};

export const nodeKinds = Object.fromEntries(
  (Object.keys(presentation) as WorkflowNodeType[]).map((type) => [
    type,
    { type, fields: {}, ...presentation[type], schema: nodeSchemas[type] ?? {} },
  ]),
) as Record<WorkflowNodeType, NodeKind>;

export const nodeTypes = Object.keys(nodeKinds) as WorkflowNodeType[];

export function isNodeType(type: string): type is WorkflowNodeType {
  return type in nodeKinds;
}

/** A new node's config: the defaults its schema gives. */
export function defaultConfig(type: WorkflowNodeType): Record<string, unknown> {
  // A new delay waits a minute (its schema has no default: it is seconds or until).
  return type === 'delay' ? { seconds: 60 } : defaultsOf(nodeKinds[type].schema);
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
