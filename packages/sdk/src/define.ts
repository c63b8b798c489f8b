import { AgentDefinition, ProjectConfig, SandboxDefinition, ToolDefinitionMeta } from '@runtools/spec';
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

export interface ToolContext {
  /** Secrets named in `credentials`, resolved server-side when the tool runs. */
  credentials: Record<string, string>;
  signal: AbortSignal;
}

export interface ToolDefinition<Input extends z.ZodType, Output> {
  name: string;
  description: string;
  /** A zod schema for the tool's input; `execute` receives its parsed output type. */
  input: Input;
  credentials?: string[];
  execute(input: z.output<Input>, context: ToolContext): Promise<Output> | Output;
}

/**
 * Declares a custom tool; `execute`'s argument type is inferred from `input`.
 * @example
 * export default defineTool({
 *   name: 'get_weather', description: 'Weather for a city',
 *   input: z.object({ city: z.string() }),
 *   execute: async ({ city }) => ({ city, tempC: 21 }),
 * })
 */
export function defineTool<Input extends z.ZodType, Output>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  check(
    ToolDefinitionMeta,
    { name: definition.name, description: definition.description, credentials: definition.credentials },
    'tool definition',
  );
  const input = definition.input as unknown;
  if (
    typeof input !== 'object' ||
    input === null ||
    typeof (input as { safeParse?: unknown }).safeParse !== 'function'
  ) {
    throw new ValidationError('invalid tool definition.input: must be a zod schema', { code: 'invalid_definition' });
  }
  if (typeof definition.execute !== 'function') {
    throw new ValidationError('invalid tool definition.execute: must be a function', { code: 'invalid_definition' });
  }
  return definition;
}
