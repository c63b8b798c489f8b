import {
  AgentDefinition,
  ProjectConfig,
  SandboxDefinition,
  ToolDefinition as ToolDefinitionSchema,
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
