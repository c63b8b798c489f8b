import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineAgent, defineConfig, defineSandbox, defineTool, ValidationError } from './index.js';

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
