import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  defineAgent,
  defineConfig,
  defineSandbox,
  defineTool,
  defineWorkflow,
  ValidationError,
  type WorkflowNodeDefinition,
  type WorkflowNodeInput,
} from './index.js';

describe('define*', () => {
  it('returns a valid agent unchanged, with its literal types', () => {
    const agent = defineAgent({ slug: 'coder', model: 'claude-sonnet-4', tools: ['bash'], mode: 'in_sandbox' });
    expect(agent).toEqual({ slug: 'coder', model: 'claude-sonnet-4', tools: ['bash'], mode: 'in_sandbox' });
    expectTypeOf(agent.mode).toEqualTypeOf<'in_sandbox'>();
  });

  it('rejects an agent with maxIterations outside 1-100, a malformed model or slug', () => {
    expect(() => defineAgent({ slug: 'a', model: 'openai/gpt-4.1', maxIterations: 101 })).toThrow(/maxIterations/);
    expect(() => defineAgent({ slug: 'a', model: 'gpt-5', maxIterations: 0 })).toThrow(/maxIterations/);
    expect(() => defineAgent({ slug: 'a', model: 'bad model' })).toThrow(ValidationError);
    expect(() => defineAgent({ slug: 'Not A Slug', model: 'gpt-5' })).toThrow(/slug/);
  });

  it('takes the documented custom tool verbatim, types params from its JSON Schema, and checks the definition', async () => {
    const tool = defineTool({
      name: 'my-database',
      description: 'Query my application database',
      credentials: {
        required: ['databaseUrl'],
        schema: { databaseUrl: { type: 'string', description: 'PostgreSQL connection string' } },
      },
      actions: {
        query: {
          description: 'Execute a SQL query',
          parameters: {
            type: 'object',
            properties: { sql: { type: 'string', description: 'SQL query' } },
            required: ['sql'],
          },
          // biome-ignore lint/correctness/noUnusedFunctionParameters: the documented example, verbatim
          execute: async (params, credentials) => {
            return { rows: [] };
          },
        },
      },
    });
    expect(await tool.actions.query.execute({ sql: 'select 1' }, { databaseUrl: 'postgres://x' })).toEqual({
      rows: [],
    });
    const action = { description: 'x', parameters: { type: 'object' as const }, execute: () => null };
    expect(() => defineTool({ name: 'Bad Name', description: 'x', actions: { run: action } })).toThrow(/name/);
    expect(() => defineTool({ name: 'ok', description: 'x', actions: {} })).toThrow(/at least one action/);
    expect(() =>
      defineTool({ name: 'ok', description: 'x', actions: { run: { ...action, parameters: { type: 'string' } } } }),
    ).toThrow(/parameters/);
    expect(() =>
      defineTool({ name: 'ok', description: 'x', actions: { run: { ...action, execute: undefined as never } } }),
    ).toThrow(/execute/);
    expect(() =>
      defineTool({
        name: 'ok',
        description: 'x',
        credentials: { required: ['token'] as never, schema: {} },
        actions: { run: action },
      }),
    ).toThrow(/required/);
  });

  it('checks sandbox and config definitions', () => {
    expect(
      defineSandbox({ name: 'dev', template: 'nodejs-20', resources: { vcpus: 2, memory: '2GB', disk: '10GB' } }).name,
    ).toBe('dev');
    expect(() => defineSandbox({ name: 'dev', resources: { memory: 'lots' } })).toThrow(/memory/);
    expect(defineConfig({ project: 'research' })).toEqual({ project: 'research' });
    expect(() => defineConfig({ apiUrl: 'not a url' })).toThrow(ValidationError);
  });
});

describe('defineWorkflow', () => {
  const graph = {
    nodes: [
      { id: 'size', type: 'transform', config: { expression: '$length(input.diff)' } },
      { id: 'big', type: 'condition', config: { expression: 'nodes.size.output > 1000' } },
      { id: 'approve', type: 'approval', config: { message: 'Merge {{ nodes.size.output }} lines?' } },
      { id: 'done', type: 'output', config: { expression: '{ "lines": nodes.size.output }' } },
    ],
    edges: [
      { source: 'size', target: 'big' },
      { source: 'big', target: 'approve', condition: true },
      { source: 'big', target: 'done', condition: false },
      { source: 'approve', target: 'done', condition: true },
    ],
  };

  it('returns a valid workflow unchanged, with its literal node types', () => {
    const workflow = defineWorkflow({
      name: 'Review PR',
      graph: {
        nodes: [
          { id: 'wait', type: 'delay', config: { seconds: 5 } },
          { id: 'fan', type: 'parallel' },
          { id: 'done', type: 'output', config: { expression: 'input' } },
        ],
        edges: [
          { source: 'wait', target: 'fan' },
          { source: 'fan', target: 'done' },
        ],
      },
    });
    expect(workflow.graph.nodes.map((node) => node.id)).toEqual(['wait', 'fan', 'done']);
    expectTypeOf(workflow.graph.nodes[0].type).toEqualTypeOf<'delay'>();
    expect(defineWorkflow({ name: 'Review PR', slug: 'review', graph })).toEqual({
      name: 'Review PR',
      slug: 'review',
      graph,
    });
  });

  it('takes a graph whose node types are plain strings (built elsewhere, read from JSON)', () => {
    const parsed = JSON.parse(JSON.stringify(graph)) as { nodes: WorkflowNodeInput[] };
    expect(defineWorkflow({ name: 'From JSON', graph: parsed }).graph).toEqual(graph);
    const typed: WorkflowNodeDefinition[] = [{ id: 'done', type: 'output', config: { expression: '1' } }];
    expect(defineWorkflow({ name: 'Typed', graph: { nodes: typed } }).name).toBe('Typed');
  });

  it('names every problem of the graph with its node, and checks the name and slug', () => {
    const problem = (definition: unknown) => {
      try {
        defineWorkflow(definition as never);
      } catch (error) {
        return error as ValidationError;
      }
      throw new Error('no error');
    };
    const broken = problem({
      name: 'Broken',
      graph: {
        nodes: [
          { id: 'a', type: 'transform', config: {} },
          { id: 'b', type: 'teleport' },
          { id: 'c', type: 'output', config: { expression: '{{ unclosed' } },
        ],
        edges: [{ source: 'a', target: 'ghost' }],
      },
    });
    expect(broken).toBeInstanceOf(ValidationError);
    expect(broken.code).toBe('invalid_definition');
    expect(broken.message).toMatch(
      /the graph has 3 problems: node a config\.expression: .+; node b: unknown node type "teleport".+; edge 0: edge target ghost is not a node of the graph$/,
    );
    expect((broken.details?.problems as { nodeId?: string }[] | undefined)?.map((item) => item.nodeId)).toEqual([
      'a',
      'b',
      undefined,
    ]);
    const cycle = problem({
      name: 'Loop',
      graph: {
        nodes: [
          { id: 'a', type: 'transform', config: { expression: '1' } },
          { id: 'b', type: 'transform', config: { expression: '2' } },
        ],
        edges: [
          { source: 'a', target: 'b' },
          { source: 'b', target: 'a' },
        ],
      },
    });
    expect(cycle.message).toMatch(/form a cycle/);
    expect(() => defineWorkflow({ name: '', graph })).toThrow(/name/);
    expect(() => defineWorkflow({ name: 'x', slug: 'Not A Slug', graph })).toThrow(/slug/);
    expect(() => defineWorkflow({ name: 'x', graph, extra: true } as never)).toThrow(ValidationError);
  });
});

/**
 * Compile-time checks, never run: `tsc -p tsconfig.test.json` fails on any `@ts-expect-error` that finds no
 * error, so each asserts what defineWorkflow's types refuse.
 */
export function workflowNodesAreTypedByTheirType() {
  const output = { id: 'done', type: 'output', config: { expression: '1' } } as const;
  // @ts-expect-error a config field misspelt
  defineWorkflow({ name: 'x', graph: { nodes: [{ id: 'a', type: 'transform', config: { expresion: '1' } }] } });
  // @ts-expect-error a node type that does not exist, written as a literal
  defineWorkflow({ name: 'x', graph: { nodes: [{ id: 'a', type: 'transfrom', config: { expression: '1' } }] } });
  // @ts-expect-error a transform needs its expression
  defineWorkflow({ name: 'x', graph: { nodes: [{ id: 'a', type: 'transform' }] } });
  defineWorkflow({
    name: 'x',
    // @ts-expect-error onTimeout outside its enum
    graph: { nodes: [output, { id: 'b', type: 'approval', config: { message: 'm', onTimeout: 'maybe' } }] },
  });
  // @ts-expect-error a delay takes seconds or until
  defineWorkflow({ name: 'x', graph: { nodes: [{ id: 'a', type: 'delay', config: { minutes: 5 } }] } });
  // @ts-expect-error an edge needs its target
  defineWorkflow({ name: 'x', graph: { nodes: [output], edges: [{ source: 'done' }] } });
  const node: WorkflowNodeDefinition = { id: 'a', type: 'tool', config: { tool: 'github', action: 'list_repos' } };
  if (node.type === 'tool') expectTypeOf(node.config.action).toEqualTypeOf<string>();
  return defineWorkflow({ name: 'x', graph: { nodes: [output, node] } });
}
