import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
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

  it('infers a tool input type from its zod schema and checks the definition', async () => {
    const tool = defineTool({
      name: 'get_weather',
      description: 'Weather for a city',
      input: z.object({ city: z.string(), days: z.number().default(1) }),
      execute: async ({ city, days }) => {
        expectTypeOf(city).toEqualTypeOf<string>();
        expectTypeOf(days).toEqualTypeOf<number>();
        return { city, days };
      },
    });
    expect(
      await tool.execute({ city: 'Oslo', days: 2 }, { credentials: {}, signal: new AbortController().signal }),
    ).toEqual({
      city: 'Oslo',
      days: 2,
    });
    expect(() => defineTool({ name: 'Bad Name', description: 'x', input: z.object({}), execute: () => null })).toThrow(
      /name/,
    );
    expect(() => defineTool({ name: 'ok', description: 'x', input: {} as z.ZodObject, execute: () => null })).toThrow(
      /zod schema/,
    );
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
