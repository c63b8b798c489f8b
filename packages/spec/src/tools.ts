import { z } from 'zod';
import { idSchema, Timestamp } from './common.js';
import { SecretName } from './secrets.js';

/**
 * A tool's name: lowercase letters and digits in words joined by single dashes (`github`, `google-calendar`,
 * `my-database`). Names the routes use for themselves cannot be taken.
 */
export const reservedToolNames = ['marketplace', 'executions', 'custom'] as const;
export const ToolName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, { message: 'lowercase letters, digits and single dashes' })
  .refine((name) => !(reservedToolNames as readonly string[]).includes(name), {
    message: `${reservedToolNames.join(', ')} are reserved`,
  })
  .meta({ id: 'ToolName', example: 'github' });

/** An action's name: a JavaScript-style identifier in snake case (`list_repos`). */
export const ToolActionName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_]*$/, { message: 'lowercase letters, digits and underscores, starting with a letter' });

/** A credential field's name (`token`, `databaseUrl`). */
export const CredentialFieldName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_]*$/, { message: 'letters, digits and underscores, starting with a letter' });

/**
 * A JSON Schema (draft 2020-12) of an object: an action's parameters. The server compiles it and checks every
 * call's params against it before anything runs.
 */
export const ObjectJsonSchema = z
  .record(z.string(), z.unknown())
  .refine((schema) => schema.type === 'object', { message: 'must be a JSON Schema with type "object"' })
  .meta({ id: 'ObjectJsonSchema', example: { type: 'object', properties: { sql: { type: 'string' } } } });

/** The longest and the default time an action may run. */
export const maxToolTimeoutMs = 300_000;
export const defaultToolTimeoutMs = 30_000;

export const ToolAction = z
  .object({
    name: ToolActionName,
    description: z.string().min(1).max(2000),
    parameters: ObjectJsonSchema,
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(maxToolTimeoutMs)
      .optional()
      .meta({ description: `how long a call may run; default ${defaultToolTimeoutMs} ms` }),
  })
  .strict()
  .meta({ id: 'ToolAction' });
export type ToolAction = z.infer<typeof ToolAction>;

/** One credential a tool takes, as its definition describes it. */
export const CredentialFieldSpec = z
  .object({ type: z.literal('string'), description: z.string().max(500).optional() })
  .strict();

/** The credentials a tool needs: the fields it knows, and which of them a call cannot do without. */
export const ToolCredentialsSpec = z
  .object({
    required: z.array(CredentialFieldName).max(32).default([]),
    schema: z.record(CredentialFieldName, CredentialFieldSpec).default({}),
  })
  .strict()
  .refine((spec) => spec.required.every((field) => field in spec.schema), {
    message: 'every required field must be described in schema',
  });

/** How a tool is authorised: OAuth (a connected account), an API key or token, or nothing. */
export const ToolAuthKind = z.enum(['oauth', 'api_key', 'none']).meta({ id: 'ToolAuthKind' });

/** A tool's authorisation: its kind and, for OAuth, the provider it connects to and the scopes it asks for. */
export const ToolAuth = z
  .object({
    kind: ToolAuthKind,
    provider: z
      .string()
      .optional()
      .meta({ description: 'the OAuth provider of its connections (runtools oauth connect <provider>)' }),
    scopes: z.array(z.string()).optional().meta({ description: 'the OAuth scopes its actions need' }),
  })
  .meta({ id: 'ToolAuth' });

/** A tool of the marketplace catalogue. */
export const MarketplaceTool = z
  .object({
    name: ToolName,
    description: z.string(),
    provider: z.string().meta({ description: 'the service it talks to, e.g. GitHub' }),
    auth: ToolAuth,
    credentials: z.object({ required: z.array(z.string()), schema: z.record(z.string(), CredentialFieldSpec) }),
    actions: z.array(ToolAction),
    installed: z.boolean().meta({ description: 'whether the calling org has installed it' }),
  })
  .meta({ id: 'MarketplaceTool' });
export type MarketplaceTool = z.infer<typeof MarketplaceTool>;

/** A tool the org can call: an installed marketplace tool or one of its own custom tools. */
export const Tool = z
  .object({
    name: ToolName,
    kind: z.enum(['marketplace', 'custom']),
    description: z.string(),
    provider: z.string().nullable(),
    auth: ToolAuth,
    credentials: z.object({
      required: z.array(z.string()),
      schema: z.record(z.string(), CredentialFieldSpec),
      configured: z
        .record(z.string(), z.enum(['stored', 'secret']))
        .meta({ description: 'the fields the org has stored a value for, or mapped to a secret (never the values)' }),
    }),
    actions: z.array(ToolAction),
    version: z.number().int().nullable().meta({ description: "a custom tool's latest version; null for marketplace" }),
    createdAt: Timestamp.meta({ description: 'when it was installed or first deployed' }),
    updatedAt: Timestamp,
  })
  .meta({ id: 'Tool' });
export type Tool = z.infer<typeof Tool>;

export const ToolParams = z.object({ toolName: ToolName });
export const MarketplaceSearchQuery = z.object({ q: z.string().min(1).max(200) });

/** Credentials passed with one call: field → value, used for that call only and never stored. */
export const CallCredentials = z.record(CredentialFieldName, z.string().min(1).max(65_536));

export const ToolExecuteRequest = z
  .object({
    action: ToolActionName,
    params: z.record(z.string(), z.unknown()).default({}),
    credentials: CallCredentials.optional(),
  })
  .strict();
export type ToolExecuteRequest = z.input<typeof ToolExecuteRequest>;

export const ToolExecuteResult = z
  .object({
    executionId: z.string(),
    tool: z.string(),
    action: z.string(),
    version: z.number().int().nullable(),
    durationMs: z.number(),
    result: z.unknown().meta({ description: "the action's structured result (JSON)" }),
  })
  .meta({ id: 'ToolExecuteResult' });
export type ToolExecuteResult = z.infer<typeof ToolExecuteResult>;

/**
 * The org's credentials of a tool: per field, a value (stored sealed, like a secret) or the name of a secret
 * to read at each call; `null` removes a field.
 */
export const ToolCredentialsSetRequest = z
  .object({
    credentials: z.record(
      CredentialFieldName,
      z.union([z.string().min(1).max(65_536), z.object({ secret: SecretName }).strict(), z.null()]),
    ),
  })
  .strict();
export type ToolCredentialsSetRequest = z.input<typeof ToolCredentialsSetRequest>;

/** One call of a tool, as recorded: never its params' secret fields or its credentials. */
export const ToolExecution = z
  .object({
    id: idSchema('toolExecution'),
    tool: z.string(),
    action: z.string(),
    version: z.number().int().nullable(),
    status: z.enum(['succeeded', 'failed']),
    errorCode: z.string().nullable(),
    durationMs: z.number(),
    principal: z.object({ kind: z.string(), id: z.string() }),
    createdAt: Timestamp,
  })
  .meta({ id: 'ToolExecution' });
export type ToolExecution = z.infer<typeof ToolExecution>;

export const ToolExecutionsQuery = z.object({
  tool: ToolName.optional(),
  status: z.enum(['succeeded', 'failed']).optional(),
});

/** The largest bundle a custom tool version may have (the tool and its npm dependencies, bundled). */
export const maxToolBundleBytes = 20 * 1024 * 1024;

/**
 * A custom tool version as `runtools deploy` sends it: its definition's static part (what `defineTool`
 * declares, with each action's JSON Schema) and its code, bundled into one ES module whose default export is
 * the definition.
 */
export const CustomToolDeployRequest = z
  .object({
    name: ToolName,
    description: z.string().min(1).max(2000),
    credentials: ToolCredentialsSpec.default({ required: [], schema: {} }),
    actions: z
      .array(ToolAction)
      .min(1)
      .max(100)
      .refine((actions) => new Set(actions.map((action) => action.name)).size === actions.length, {
        message: 'action names must be unique',
      }),
    bundle: z
      .base64()
      .max(Math.ceil((maxToolBundleBytes * 4) / 3) + 4)
      .meta({ description: 'the bundled ES module, base64' }),
  })
  .strict();
export type CustomToolDeployRequest = z.input<typeof CustomToolDeployRequest>;

export const CustomToolVersion = z
  .object({
    tool: z.string(),
    version: z.number().int().min(1),
    actions: z.array(z.string()),
    sha256: z.string(),
    sizeBytes: z.number().int(),
    createdAt: Timestamp,
    principal: z.object({ kind: z.string(), id: z.string() }),
  })
  .meta({ id: 'CustomToolVersion' });
export type CustomToolVersion = z.infer<typeof CustomToolVersion>;

/** What a deploy did: a new version, or nothing when the definition and the code are those of the latest. */
export const CustomToolDeployResult = z
  .object({ action: z.enum(['created', 'updated', 'unchanged']), tool: Tool, version: CustomToolVersion })
  .meta({ id: 'CustomToolDeployResult' });
export type CustomToolDeployResult = z.infer<typeof CustomToolDeployResult>;
