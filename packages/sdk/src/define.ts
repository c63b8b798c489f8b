import {
  AgentDefinition,
  type GraphProblem,
  type nodeConfigSchemas,
  ProjectConfig,
  parseGraph,
  SandboxDefinition,
  ToolDefinition as ToolDefinitionSchema,
  type WorkflowEdge,
  type WorkflowNode,
  type WorkflowNodeType,
  WorkflowSaveRequest,
} from '@runtools/spec';
import type { z } from 'zod';
import { ValidationError } from './errors.js';

function check<T extends z.ZodType>(schema: T, value: unknown, what: string): void {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue && issue.path.length > 0 ? `.${issue.path.map(String).join('.')}` : '';
    throw new ValidationError(`invalid ${what}${path}: ${issue?.message ?? 'invalid'}`, {
      code: 'invalid_definition',
      details: {
        issues: result.error.issues.map((item) => ({ path: item.path.map(String).join('.'), message: item.message })),
      },
    });
  }
}

/**
 * Declares an agent. A typed pass-through: it returns its argument, after checking it.
 * @example export default defineAgent({ slug: 'coder', model: 'claude-sonnet-4', tools: ['bash', 'read_file'] })
 */
export function defineAgent<const T extends AgentDefinition>(definition: T): T {
  check(AgentDefinition, definition, 'agent definition');
  return definition;
}

/**
 * Declares a sandbox blueprint.
 * @example export default defineSandbox({ name: 'dev', template: 'nodejs-20', resources: { vcpus: 2, memory: '2GB' } })
 */
export function defineSandbox<const T extends SandboxDefinition>(definition: T): T {
  check(SandboxDefinition, definition, 'sandbox definition');
  return definition;
}

/**
 * Declares the project (`runtools.config.ts`).
 * @example export default defineConfig({ project: 'research' })
 */
export function defineConfig<const T extends ProjectConfig>(config: T): T {
  check(ProjectConfig, config, 'project config');
  return config;
}

/** A JSON Schema of an action's parameters (type "object"); the server checks each call's params against it. */
export interface JsonSchema {
  type?: string | readonly string[];
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  [keyword: string]: unknown;
}

/**
 * A call's params, as its action's JSON Schema admitted them. Loosely typed: the schema, checked on the server
 * before the call, is what holds them to a shape.
 */
// biome-ignore lint/suspicious/noExplicitAny: params are checked at run time against the action's JSON Schema
export type ToolParams = Record<string, any>;

/** One action of a custom tool: its description, its parameters' JSON Schema, and the function that does it. */
export interface ToolActionDefinition {
  description: string;
  parameters: JsonSchema;
  /** How long a call may run, in milliseconds (default 30 000, at most 300 000). */
  timeoutMs?: number;
  /** Gets the call's params (checked against `parameters` first) and only this call's resolved credentials. */
  execute(params: ToolParams, credentials: Record<string, string>): unknown;
}

export interface ToolDefinition<A extends string = string> {
  name: string;
  description: string;
  /** The credentials the tool takes, resolved on the server at each call (never stored in the tool). */
  credentials?: { required?: readonly string[]; schema: Record<string, { type: 'string'; description?: string }> };
  actions: Record<A, ToolActionDefinition>;
}

/**
 * Declares a custom tool, as `runtools deploy` takes it from `tools/*.ts`; its code runs in the org's
 * tool runner sandbox, never in the control plane. Each action's params are checked against its JSON Schema
 * on the server before it runs.
 * @example
 * export default defineTool({
 *   name: 'my-database',
 *   description: 'Query my application database',
 *   credentials: { required: ['databaseUrl'], schema: { databaseUrl: { type: 'string', description: 'PostgreSQL connection string' } } },
 *   actions: {
 *     query: {
 *       description: 'Execute a SQL query',
 *       parameters: { type: 'object', properties: { sql: { type: 'string', description: 'SQL query' } }, required: ['sql'] },
 *       execute: async (params, credentials) => { return { rows: [] }; },
 *     },
 *   },
 * });
 */
export function defineTool<const A extends string>(definition: ToolDefinition<A>): ToolDefinition<A> {
  const { actions, ...rest } = definition;
  check(
    ToolDefinitionSchema,
    {
      ...rest,
      actions: Object.fromEntries(
        Object.entries(actions as Record<string, ToolActionDefinition>).map(([name, { execute: _, ...action }]) => [
          name,
          action,
        ]),
      ),
    },
    'tool definition',
  );
  for (const [name, action] of Object.entries(actions as Record<string, ToolActionDefinition>)) {
    if (typeof action.execute !== 'function') {
      throw new ValidationError(`invalid tool definition.actions.${name}.execute: must be a function`, {
        code: 'invalid_definition',
      });
    }
  }
  return definition;
}

/**
 * The config a node of type `Type` takes, as written (fields with a default may be left out).
 * @example const approval: WorkflowNodeConfig<'approval'> = { message: 'Deploy?', timeoutSeconds: 3600, onTimeout: 'reject' }
 */
export type WorkflowNodeConfig<Type extends WorkflowNodeType> = z.input<(typeof nodeConfigSchemas)[Type]>;

/** What every node has besides its type and config: id, position, label, retry policy, timeout. */
type NodeFields = Omit<WorkflowNode, 'type' | 'config'>;

/**
 * A node of one type with that type's config; the config may be left out where every field of it has a
 * default (`parallel`, `join`, `webhook-wait`).
 * @example const check: TypedWorkflowNode<'condition'> = { id: 'check', type: 'condition', config: { expression: 'input.size > 100' } }
 */
export type TypedWorkflowNode<Type extends WorkflowNodeType> = NodeFields & {
  type: Type;
} & (Record<never, never> extends WorkflowNodeConfig<Type>
    ? { config?: WorkflowNodeConfig<Type> }
    : { config: WorkflowNodeConfig<Type> });

/**
 * Any node of a known type, discriminated by `type`: narrowing on `node.type` types `node.config`.
 * @example const nodes: WorkflowNodeDefinition[] = [{ id: 'shape', type: 'transform', config: { expression: '{ "n": input.n * 2 }' } }]
 */
export type WorkflowNodeDefinition = { [Type in WorkflowNodeType]: TypedWorkflowNode<Type> }[WorkflowNodeType];

/**
 * A node as the wire takes it: any type name and an unchecked config (a graph read from JSON). The graph's
 * checks at deploy, and the server's at save, hold it to its type's config.
 * @example const node: WorkflowNodeInput = JSON.parse('{ "id": "a", "type": "transform", "config": { "expression": "1" } }')
 */
export type WorkflowNodeInput = NodeFields & { type: string; config?: unknown };

/**
 * A node whose `type` is a known literal must have that type's config; one whose type is only known as a
 * `string` (a graph built elsewhere, parsed from JSON) is taken as it is.
 */
type CheckedNode<Node> = Node extends { type: infer Type }
  ? Type extends WorkflowNodeType
    ? TypedWorkflowNode<Type>
    : string extends Type
      ? Node
      : WorkflowNodeDefinition
  : WorkflowNodeDefinition;

/**
 * A workflow's graph in React Flow's names: nodes, and edges from `source` to `target` (from a condition or
 * an approval node, with `condition: true | false`).
 * @example const graph: WorkflowGraphDefinition = { nodes: [{ id: 'done', type: 'output', config: { expression: 'input' } }] }
 */
export interface WorkflowGraphDefinition<Nodes extends readonly WorkflowNodeInput[] = readonly WorkflowNodeInput[]> {
  nodes: Nodes & { [Index in keyof Nodes]: CheckedNode<Nodes[Index]> };
  edges?: readonly WorkflowEdge[];
}

/**
 * What `defineWorkflow` takes and `rt.workflows.save` sends: a name (the slug comes from it unless given),
 * the graph, and optionally a description and the JSON Schema a run's input must match.
 * @example const definition: WorkflowDefinition = { name: 'Review PR', graph }
 */
export interface WorkflowDefinition<Nodes extends readonly WorkflowNodeInput[] = readonly WorkflowNodeInput[]> {
  name: string;
  slug?: string;
  description?: string;
  graph: WorkflowGraphDefinition<Nodes>;
  inputSchema?: Record<string, unknown>;
}

/**
 * One problem of a graph in a line: where it is (node, edge, field) and what is wrong.
 * @example for (const problem of (await rt.workflows.validate(graph)).problems) console.log(describeGraphProblem(problem))
 */
export function describeGraphProblem(problem: GraphProblem): string {
  const where = [
    problem.nodeId !== undefined ? `node ${problem.nodeId}` : undefined,
    problem.edge !== undefined ? `edge ${problem.edge}` : undefined,
    problem.path && problem.path !== 'type' ? problem.path : undefined,
  ].filter(Boolean);
  return `${where.length ? `${where.join(' ')}: ` : ''}${problem.message}`;
}

// A project file's workflow goes in runtools.config.ts's project, not one of its own.
const WorkflowDefinitionFields = WorkflowSaveRequest.omit({ graph: true, projectId: true });

/**
 * Declares a workflow, as `runtools deploy` takes it from `workflows/*.ts`. A typed pass-through: it returns
 * its argument after checking it (name, slug, and the whole graph's structure: node types and their configs,
 * edges to nodes that exist, cycles without a bound, conditions on the right edges); the server checks the
 * rest when it is saved (that its agents and tools exist, that its expressions parse). A node written inline
 * with a known `type` gets that type's config checked by the compiler too.
 * @example
 * export default defineWorkflow({
 *   name: 'Review PR',
 *   graph: {
 *     nodes: [
 *       { id: 'size', type: 'transform', config: { expression: '$length(input.diff)' } },
 *       { id: 'big', type: 'condition', config: { expression: 'nodes.size.output > 1000' } },
 *       { id: 'approve', type: 'approval', config: { message: 'Merge a {{ nodes.size.output }}-line diff?' } },
 *       { id: 'done', type: 'output', config: { expression: '{ "lines": nodes.size.output }' } },
 *     ],
 *     edges: [
 *       { source: 'size', target: 'big' },
 *       { source: 'big', target: 'approve', condition: true },
 *       { source: 'big', target: 'done', condition: false },
 *       { source: 'approve', target: 'done', condition: true },
 *     ],
 *   },
 * });
 */
export function defineWorkflow<const Nodes extends readonly WorkflowNodeInput[]>(
  definition: WorkflowDefinition<Nodes>,
): WorkflowDefinition<Nodes> {
  const { graph, ...fields } = definition;
  check(WorkflowDefinitionFields, fields, 'workflow definition');
  const { problems } = parseGraph(graph);
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).map(describeGraphProblem);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
    throw new ValidationError(
      `invalid workflow definition: the graph has ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${shown.join('; ')}${more}`,
      { code: 'invalid_definition', details: { problems } },
    );
  }
  return definition;
}
