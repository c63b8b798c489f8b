import { z } from 'zod';
import { ByteSize, EnvVars, IdleTimeout, Metadata, ResourceName } from './common.js';
import { SandboxCreateRequest } from './sandboxes.js';
import { ObjectJsonSchema, ToolAction, ToolActionName, ToolCredentialsSpec, ToolName } from './tools.js';

export { ByteSize, ResourceName };

export const SandboxResources = z
  .object({
    vcpus: z.number().int().min(1).max(64).optional(),
    memory: ByteSize.optional(),
    disk: ByteSize.optional(),
  })
  .strict();

/**
 * `defineSandbox`: a sandbox deployed with the project, found again by its name (deploy tags it). Its fields
 * are the create request's, so a definition the server would refuse fails when it is defined.
 */
export const SandboxDefinition = z
  .object({
    name: ResourceName.refine((name) => !/^sbx_/.test(name), { message: 'must not look like a sandbox id' }),
    template: z.string().min(1).max(128).default('base'),
    runtime: z.enum(['gvisor', 'container']).optional(),
    resources: SandboxResources.optional(),
    env: EnvVars.optional(),
    idleTimeout: IdleTimeout.optional(),
    metadata: Metadata.optional(),
    mounts: SandboxCreateRequest.shape.mounts,
    network: SandboxCreateRequest.shape.network,
    autoResume: SandboxCreateRequest.shape.autoResume,
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
