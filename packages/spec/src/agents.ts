import { z } from 'zod';
import {
  DisplayName,
  idSchema,
  listOf,
  PageQuery,
  ProjectField,
  pageOf,
  ResourceName,
  Slug,
  Timestamp,
} from './common.js';
import { SandboxCreateRequest, SandboxRuntime } from './sandboxes.js';
import { SecretName } from './secrets.js';

/** The tools every agent has, run in its sandbox through the in-sandbox daemon. */
export const builtinTools = [
  'bash',
  'read_file',
  'edit_file',
  'write_file',
  'delete_file',
  'list_directory',
  'file_search',
  'grep',
  'web_search',
  'get_dev_url',
] as const;
export type BuiltinTool = (typeof builtinTools)[number];

/**
 * The Codex-style tools an agent may name instead of (or beside) the built-ins: a command on a terminal that
 * answers a session id while it runs, writes to it, a patch applied as a whole, an image shown to the model.
 */
export const codexTools = ['exec_command', 'write_stdin', 'apply_patch', 'view_image'] as const;
export type CodexTool = (typeof codexTools)[number];

/** Every tool that runs in the agent's sandbox, by name. */
export const sandboxTools: readonly string[] = [...builtinTools, ...codexTools];

/** Provider types a custom endpoint can speak. */
export const ProviderType = z.enum(['openai-compatible', 'openai', 'anthropic']).meta({ id: 'ProviderType' });
export type ProviderType = z.infer<typeof ProviderType>;

/**
 * A model as an agent names it: an alias from the model table (`claude-sonnet-4`, `gpt-5`), a built-in
 * provider's model (`anthropic/claude-opus-4-1`), or a registered provider's (`local/qwen3`).
 */
export const ModelName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^(?:[a-z0-9][a-z0-9-]{0,62}\/)?[A-Za-z0-9][A-Za-z0-9._:@/-]*$/, {
    message: 'a model alias such as "claude-sonnet-4", or "provider/model-id" such as "local/qwen3"',
  });

export const AgentMode = z.enum(['in_sandbox', 'managed', 'local']).meta({ id: 'AgentMode' });
export type AgentMode = z.infer<typeof AgentMode>;
/** A mode as a definition may give it: `local-mac` (the product docs' name) is `local`. */
export const AgentModeInput = z
  .enum(['in_sandbox', 'managed', 'local', 'local-mac'])
  .transform((mode): AgentMode => (mode === 'local-mac' ? 'local' : mode));

/** Built-in tools that need a sandbox of the platform's, which a `local` agent's device is not. */
export const sandboxOnlyTools = ['get_dev_url'] as const;

/** Where a managed agent's sandbox comes from and what happens to it afterwards. */
export const ManagedSandbox = z
  .object({
    template: SandboxCreateRequest.shape.template,
    runtime: SandboxRuntime.optional(),
    resources: SandboxCreateRequest.shape.resources,
    mounts: SandboxCreateRequest.shape.mounts,
    network: SandboxCreateRequest.shape.network,
    scope: z.enum(['run', 'thread']).default('run').meta({
      description: 'one sandbox per run, or one per thread that later runs of the thread reuse',
    }),
    cleanup: z.enum(['destroy', 'pause', 'keep']).default('destroy').meta({
      description: 'after a run (scope run) or when the thread is deleted (scope thread): destroy, pause or keep it',
    }),
  })
  .strict()
  .meta({ id: 'ManagedSandbox' });
export type ManagedSandbox = z.input<typeof ManagedSandbox>;

const maxIterations = z.number().int().min(1).max(100);

export const AgentCreateRequest = z
  .object({
    slug: Slug,
    name: DisplayName.optional().meta({ description: 'default: the slug' }),
    description: z.string().max(2000).optional(),
    model: ModelName,
    systemPrompt: z.string().max(200_000).optional(),
    tools: z
      .array(z.string().min(1).max(128))
      .max(128)
      .optional()
      .meta({ description: 'the tools it may call; default: every built-in tool' }),
    mode: AgentModeInput.optional().meta({
      description:
        'in_sandbox when `sandbox` is a sandbox id, managed otherwise; local (alias local-mac) runs its tools on a RunMesh device',
    }),
    device: z
      .string()
      .min(1)
      .max(63)
      .optional()
      .meta({ description: 'mode local: the RunMesh node (name or id) whose device runs the built-in tools' }),
    sandbox: z
      .union([idSchema('sandbox'), ManagedSandbox])
      .optional()
      .meta({
        description:
          'the linked sandbox (in_sandbox) or how to make one per run or thread (managed); an update replaces the whole managed spec',
      }),
    maxIterations: maxIterations.optional().meta({ description: 'model calls at most, 1-100; default 25' }),
    ...ProjectField,
  })
  .strict();
export type AgentCreateRequest = z.input<typeof AgentCreateRequest>;

/** `defineAgent`: an agent as deployed from `agents/*.ts`, the same fields as `POST /v1/agents`. */
/**
 * `defineAgent`: an agent as a project file defines it. Its `sandbox` may also name a sandbox of the project
 * (`sandboxes/dev-env.ts` defines `dev-env`), which `runtools deploy` resolves to that sandbox's id.
 */
export const AgentDefinition = AgentCreateRequest.omit({ projectId: true }).extend({
  sandbox: z
    .union([idSchema('sandbox'), ManagedSandbox, ResourceName])
    .optional()
    .meta({ description: 'a sandbox id, a managed sandbox spec, or the name of a sandbox the project defines' }),
});
export type AgentDefinition = z.input<typeof AgentDefinition>;

/** The whole definition: what it leaves out goes back to its default (`runtools deploy` sends files as these). */
export const AgentPutRequest = AgentCreateRequest.omit({ slug: true, projectId: true })
  .extend({
    projectId: idSchema('project').optional().meta({ description: 'move it to this project; omitted: it stays' }),
  })
  .strict();
export type AgentPutRequest = z.input<typeof AgentPutRequest>;

/** Only what is given changes (`description: null` removes it); a change is a new version, no change none. */
export const AgentUpdateRequest = AgentCreateRequest.omit({ slug: true })
  .extend({
    description: z.string().max(2000).nullable(),
    projectId: idSchema('project').meta({ description: 'move it to this project (not a new version)' }),
  })
  .partial()
  .strict();
export type AgentUpdateRequest = z.input<typeof AgentUpdateRequest>;

export const Agent = z
  .object({
    id: idSchema('agent'),
    slug: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    model: z.string(),
    systemPrompt: z.string(),
    tools: z.array(z.string()),
    mode: AgentMode,
    sandboxId: z.string().nullable(),
    /** mode local: the RunMesh node (as given: name or id) its tools run on. */
    device: z.string().nullable(),
    managed: ManagedSandbox.nullable(),
    maxIterations: z.number().int(),
    version: z.number().int(),
    projectId: idSchema('project'),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Agent' });
export type Agent = z.infer<typeof Agent>;
export const AgentList = pageOf(Agent);
export type AgentList = z.infer<typeof AgentList>;
export const AgentVersion = Agent.omit({ createdAt: true, updatedAt: true, projectId: true })
  .extend({ createdAt: Timestamp })
  .meta({ id: 'AgentVersion' });
export type AgentVersion = z.infer<typeof AgentVersion>;
export const AgentVersionList = pageOf(AgentVersion);
export const AgentParams = z.object({ slug: Slug });

export const Attachment = z
  .object({
    name: z.string().min(1).max(255),
    mediaType: z
      .string()
      .regex(/^[\w.+-]+\/[\w.+-]+$/, { message: 'a media type such as "text/plain" or "image/png"' })
      .meta({ description: 'text/* and JSON go to the model as text, images as images, PDFs as files' }),
    content: z.base64().meta({ description: 'the file, base64' }),
  })
  .strict()
  .meta({ id: 'Attachment' });
export type Attachment = z.input<typeof Attachment>;

export const AgentRunRequest = z
  .object({
    prompt: z.string().min(1).max(1_000_000),
    thread: z
      .union([z.literal(true), idSchema('thread')])
      .optional()
      .meta({ description: 'true starts a thread; a thread id continues it with its history' }),
    attachments: z
      .array(Attachment)
      .max(20)
      .optional()
      .meta({ description: 'files for the model; the whole request may be up to 32 MiB' }),
  })
  .strict();
export type AgentRunRequest = z.input<typeof AgentRunRequest>;

export const RunStatus = z
  .enum(['queued', 'running', 'completed', 'failed', 'cancelled', 'max_iterations'])
  .meta({ id: 'RunStatus' });
export type RunStatus = z.infer<typeof RunStatus>;

export const TokenUsage = z
  .object({ inputTokens: z.number().int(), outputTokens: z.number().int(), totalTokens: z.number().int() })
  .meta({ id: 'TokenUsage' });
export type TokenUsage = z.infer<typeof TokenUsage>;

export const Run = z
  .object({
    id: idSchema('run'),
    agentId: z.string(),
    agent: z.string(),
    agentVersion: z.number().int(),
    threadId: z.string().nullable(),
    sandboxId: z.string().nullable(),
    status: RunStatus,
    prompt: z.string(),
    text: z.string().nullable().meta({ description: 'the final answer' }),
    stopReason: z.string().nullable().meta({
      description:
        "the model's finish reason when completed (stop, length, content-filter), else max_iterations, cancelled, error or interrupted",
    }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    usage: TokenUsage,
    costUsd: z.number().nullable().meta({
      description:
        "its tokens at its model's list price when it started (an estimate: no cache or long-context pricing); null when the model's price is not known",
    }),
    steps: z.number().int(),
    createdAt: Timestamp,
    startedAt: Timestamp.nullable(),
    finishedAt: Timestamp.nullable(),
  })
  .meta({ id: 'Run' });
export type Run = z.infer<typeof Run>;
export const RunList = pageOf(Run);
export const RunParams = z.object({ runId: idSchema('run') });
export const RunListQuery = z
  .object({
    agent: Slug.optional(),
    thread: idSchema('thread').optional(),
    status: RunStatus.optional(),
    ...PageQuery,
  })
  .strict();
export const RunEventsQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0).meta({ description: 'only events with a larger seq' }),
    follow: z
      .enum(['true', 'false'])
      .default('true')
      .transform((value) => value === 'true')
      .meta({ description: 'keep the stream open until the run ends (default) or stop at the stored events' }),
  })
  .strict();

const eventBase = { seq: z.number().int(), at: Timestamp };
/** What a run streams and stores, in order; `seq` numbers them from 1 for replay. */
export const RunEvent = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('start'),
      ...eventBase,
      runId: z.string(),
      threadId: z.string().nullable(),
      agent: z.string(),
      model: z.string(),
      sandboxId: z.string().nullable(),
      /** mode local: the device (RunMesh node) its tools run on. */
      device: z.object({ id: z.string(), name: z.string() }).nullable().optional(),
      /** What came with the prompt (the content itself is kept in the thread's messages). */
      attachments: z.array(z.object({ name: z.string(), mediaType: z.string(), size: z.number().int() })),
    }),
    z.object({ type: z.literal('text-delta'), ...eventBase, text: z.string() }),
    z.object({ type: z.literal('thinking'), ...eventBase, text: z.string() }),
    z.object({
      type: z.literal('tool-call'),
      ...eventBase,
      toolCallId: z.string(),
      toolName: z.string(),
      input: z.unknown(),
    }),
    z.object({
      type: z.literal('tool-result'),
      ...eventBase,
      toolCallId: z.string(),
      toolName: z.string(),
      output: z.unknown(),
      isError: z.boolean(),
      durationMs: z.number(),
    }),
    z.object({
      type: z.literal('step'),
      ...eventBase,
      step: z.number().int(),
      finishReason: z.string(),
      usage: TokenUsage,
    }),
    z.object({
      type: z.literal('done'),
      ...eventBase,
      status: RunStatus,
      stopReason: z.string().nullable(),
      text: z.string().nullable(),
      usage: TokenUsage,
      steps: z.number().int(),
    }),
    z.object({ type: z.literal('error'), ...eventBase, code: z.string(), message: z.string() }),
    /**
     * The run goes on in another process (or after a restart) from its last finished step, `step`: events
     * after the last `step` event and before this one belong to a step that was cut short and is done again.
     */
    z.object({
      type: z.literal('resumed'),
      ...eventBase,
      step: z.number().int(),
      sandboxId: z.string().nullable(),
    }),
  ])
  .meta({ id: 'RunEvent' });
export type RunEvent = z.infer<typeof RunEvent>;
export const RunEventList = listOf(RunEvent);

export const Thread = z
  .object({
    id: idSchema('thread'),
    agentId: z.string(),
    agent: z.string(),
    sandboxId: z.string().nullable(),
    messageCount: z.number().int(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Thread' });
export type Thread = z.infer<typeof Thread>;
export const ThreadList = pageOf(Thread);
export const ThreadParams = z.object({ threadId: idSchema('thread') });
export const ThreadListQuery = z.object({ agent: Slug.optional(), ...PageQuery }).strict();

/** A message as the model saw it: user prompts, assistant text and tool calls, tool results. */
export const ThreadMessage = z
  .object({
    seq: z.number().int(),
    runId: z.string(),
    role: z.enum(['user', 'assistant', 'tool']),
    content: z.unknown().meta({ description: 'the AI SDK model message content (text, files, tool calls, results)' }),
    createdAt: Timestamp,
  })
  .meta({ id: 'ThreadMessage' });
export type ThreadMessage = z.infer<typeof ThreadMessage>;
export const ThreadMessageList = pageOf(ThreadMessage);

/** A name agents use as the prefix of its models (`local` in `local/qwen3`). */
export const ProviderName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, { message: 'lowercase letters, digits and single dashes' });

export const ProviderCreateRequest = z
  .object({
    name: ProviderName,
    type: ProviderType,
    baseUrl: z.url({ protocol: /^https?$/ }).max(2048),
    apiKeySecret: SecretName.optional().meta({ description: 'the org secret holding its API key, if it needs one' }),
  })
  .strict();
export type ProviderCreateRequest = z.input<typeof ProviderCreateRequest>;

export const Provider = z
  .object({
    id: idSchema('provider'),
    name: z.string(),
    type: ProviderType,
    baseUrl: z.string(),
    apiKeySecret: z.string().nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Provider' });
export type Provider = z.infer<typeof Provider>;
export const ProviderList = pageOf(Provider);
export const ProviderParams = z.object({ name: ProviderName });

/** One row of the model table, or a built-in provider. */
export const ModelInfo = z
  .object({
    alias: z.string().nullable(),
    provider: z.string(),
    modelId: z.string(),
    secret: z.string().nullable().meta({ description: 'the org secret that holds the provider key' }),
    price: z
      .object({ input: z.number(), output: z.number() })
      .nullable()
      .meta({ description: 'US dollars per million input and output tokens, where known' }),
  })
  .meta({ id: 'ModelInfo' });
export type ModelInfo = z.infer<typeof ModelInfo>;
export const ModelInfoList = pageOf(ModelInfo);
