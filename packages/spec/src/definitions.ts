import { z } from 'zod';
import { EnvVars, IdleTimeout, Metadata } from './common.js';
import { ObjectJsonSchema, ToolAction, ToolActionName, ToolCredentialsSpec, ToolName } from './tools.js';

/** Size strings like `512MB`, `2GB`, `10GiB`. */
export const ByteSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, { message: 'a size such as "512MB" or "2GB"' });

export const ResourceName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, { message: 'lowercase letters, digits, dashes and underscores' });

export const SandboxResources = z
  .object({
    vcpus: z.number().int().min(1).max(64).optional(),
    memory: ByteSize.optional(),
    disk: ByteSize.optional(),
  })
  .strict();

/** `defineSandbox`: a sandbox blueprint deployed with the project. */
export const SandboxDefinition = z
  .object({
    name: ResourceName,
    template: z.string().min(1).max(128).default('base'),
    runtime: z.enum(['gvisor', 'container']).optional(),
    resources: SandboxResources.optional(),
    // As the create request takes them: a definition the server would refuse fails when it is defined.
    env: EnvVars.optional(),
    idleTimeout: IdleTimeout.optional(),
    metadata: Metadata.optional(),
  })
  .strict();
export type SandboxDefinition = z.input<typeof SandboxDefinition>;

/**
 * `defineTool`: a custom tool, as the docs write it. The static part is checked here (each action's
 * `parameters` is a JSON Schema of an object, compiled by the server at deploy); `execute` functions are
 * checked by `defineTool`.
 */
export const ToolDefinition = z
  .object({
    name: ToolName,
    description: z.string().min(1).max(2000),
    credentials: ToolCredentialsSpec.optional(),
    actions: z
      .record(
        ToolActionName,
        z.looseObject({
          description: z.string().min(1).max(2000),
          parameters: ObjectJsonSchema,
          timeoutMs: ToolAction.shape.timeoutMs,
        }),
      )
      .refine((actions) => Object.keys(actions).length > 0, { message: 'a tool needs at least one action' }),
  })
  .strict();

/** `defineConfig`: the project file `runtools.config.ts`. */
export const ProjectConfig = z
  .object({
    project: z.string().min(1).max(63).optional(),
    agentsDir: z.string().default('agents'),
    toolsDir: z.string().default('tools'),
    sandboxesDir: z.string().default('sandboxes'),
    apiUrl: z.url().optional(),
  })
  .strict();
export type ProjectConfig = z.input<typeof ProjectConfig>;
