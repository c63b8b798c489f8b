import { z } from 'zod';

/** Ids are prefixed by kind (`org_`, `prj_`, …) followed by 20 lowercase base32 characters. */
export const idPrefixes = {
  org: 'org',
  project: 'prj',
  user: 'usr',
  member: 'mem',
  apiKey: 'key',
  secret: 'sec',
  sshKey: 'ssh',
  sandbox: 'sbx',
  snapshot: 'snp',
  workspace: 'wsp',
  agent: 'agt',
  run: 'run',
  thread: 'thr',
  provider: 'prv',
  invitation: 'inv',
  tool: 'tol',
  toolExecution: 'tex',
  oauthConnection: 'oac',
  oauthState: 'oas',
  workflow: 'wfl',
  workflowRun: 'wfr',
  approval: 'apv',
  trigger: 'trg',
  delivery: 'dlv',
  meshLink: 'mln',
  meshNode: 'mnd',
  meshAudit: 'mau',
  dashboardSession: 'dss',
  signInLink: 'sil',
  request: 'req',
} as const;
export type IdKind = keyof typeof idPrefixes;

export function idSchema(kind: IdKind) {
  return z
    .string()
    .regex(new RegExp(`^${idPrefixes[kind]}_[a-z2-7]{20}$`), { message: `must be a ${idPrefixes[kind]}_ id` })
    .meta({ example: `${idPrefixes[kind]}_abcdefghijklmnopqrst` });
}

/** The project a new resource goes in (default: the org's default project); also a list filter. */
export const ProjectField = {
  projectId: idSchema('project')
    .optional()
    .meta({ description: "a project of the org (prj_…); default: the org's default project" }),
};
/** `?projectId=`: only the resources of that project. */
export const ProjectFilter = {
  projectId: idSchema('project').optional().meta({ description: 'only the resources of this project' }),
};

/** ISO 8601 timestamp in UTC, e.g. `2026-11-23T10:00:00.000Z`. */
export const Timestamp = z.iso.datetime({ offset: true }).meta({ id: 'Timestamp' });

/** A URL-safe handle: lowercase letters, digits and single dashes, 1–63 characters. */
export const Slug = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, { message: 'lowercase letters, digits and single dashes' });

export const DisplayName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((value) => !/[\u0000-\u001f]/.test(value), { message: 'must not contain control characters' });

/** An environment variable's name, as a shell accepts it. */
export const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'an environment variable name' });
/** Environment variables: names as a shell accepts them, values up to 32 KiB. */
export const EnvVars = z.record(EnvName, z.string().max(32_768));

/** Seconds without activity before a sandbox is paused; 0 never. At most a week. */
export const IdleTimeout = z
  .number()
  .int()
  .min(0)
  .max(7 * 24 * 3600);

/** A key of the free-form metadata sandboxes carry and are listed by (`?metadata.<key>=`). */
export const MetadataKey = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, { message: 'letters, digits, dot, dash and underscore' });
export const Metadata = z.record(MetadataKey, z.string().max(512));

/** What a command run in a sandbox is: the shell command, its working directory and extra environment. */
export const CommandFields = {
  command: z.string().min(1).max(100_000),
  cwd: z.string().startsWith('/').max(4096).optional(),
  env: EnvVars.optional(),
};

/** The default and the largest number of items a list route answers at once. */
export const defaultPageSize = 100;
export const maxPageSize = 1000;

/** The paging fields every list route's query has (`?limit=&cursor=`). */
export const PageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(maxPageSize)
    .optional()
    .meta({ description: `items per page, at most ${maxPageSize}; default ${defaultPageSize}` }),
  cursor: z
    .string()
    .min(1)
    .max(1024)
    .optional()
    .meta({ description: "the previous page's nextCursor: the page after it" }),
};

/** A page of a list route: its items in the route's stable order, and the cursor of the next page (null at the end). */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    nextCursor: z.string().nullable().meta({ description: 'pass as ?cursor= for the next page; null on the last' }),
  });
}

export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item) });
}

export const Empty = z.object({}).strict();
export const Deleted = z.object({ id: z.string(), deleted: z.literal(true) });
export type Deleted = z.infer<typeof Deleted>;

/** Size strings like `512MB`, `2GB`, `10GiB`. */
export const ByteSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, { message: 'a size such as "512MB" or "2GB"' });

export const ResourceName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, { message: 'lowercase letters, digits, dashes and underscores' });
