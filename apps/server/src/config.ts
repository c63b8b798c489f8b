import { availableParallelism, homedir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { type BuiltinProvider, builtinProviders, type ModelPrice } from './agents/models.js';
import { oauthEndpointVariable, oauthProviderIds } from './oauth/providers.js';
import { parseByteSize } from './sandboxes/byte-size.js';
import { officialTools, toolBaseUrlVariable } from './tools/marketplace/index.js';

/** Server settings: flags win over environment variables, which win over the embedded defaults. */
export const ServerConfig = z.object({
  dataDir: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  host: z.string().min(1),
  databaseUrl: z.string().min(1).optional(),
  masterKey: z.string().min(1).optional(),
  adminKey: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /** The sandbox driver used when a sandbox does not name one. */
  runtime: z.enum(['gvisor', 'container']),
  /** The template of a sandbox created without one. */
  defaultTemplate: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  /** Where template root filesystems are built and cached. */
  rootfsDir: z.string().min(1),
  /** Requests a minute per API key; 0 turns the limit off. */
  rateLimitPerMinute: z.coerce.number().int().min(0).max(10_000_000),
  maxBodyBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024),
  /** The most vCPUs and memory one sandbox may ask for (default: this host's cores and memory). */
  maxSandboxVcpus: z.coerce.number().min(0.1).max(1024),
  maxSandboxMemoryBytes: z.coerce
    .number()
    .int()
    .min(64 * 1024 ** 2),
  /** The disk limit of a sandbox that does not ask for one: its writable layer is an ext4 image this big. */
  defaultSandboxDiskBytes: z.coerce
    .number()
    .int()
    .min(64 * 1024 ** 2),
  /** Bytes an org may store: its sandboxes' disk limits, snapshots and workspaces together; 0 turns it off. */
  orgStorageQuotaBytes: z.coerce.number().int().min(0),
  /** Largest file upload into a sandbox (streamed, so not bounded by the JSON body limit). */
  maxUploadBytes: z.coerce.number().int().min(1024),
  /** How often idle sandboxes are looked for (and paused), in milliseconds. */
  idleSweepMs: z.coerce.number().int().min(50).max(3_600_000),
  /** Host names under it reach sandbox ports: `{port}-{sandboxId}.<devDomain>`. */
  devDomain: z.string().regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
    message: 'a domain name',
  }),
  /** Scheme and port of dev URLs when something in front of the server (TLS, port 443) serves them. */
  devUrlScheme: z.enum(['http', 'https']),
  devUrlPort: z.coerce.number().int().min(1).max(65535).optional(),
  /** The SSH gateway's port (0: any free one); where clients reach it, when not this server's host. */
  sshPort: z.coerce.number().int().min(0).max(65535),
  /** How long an SSH connection may take to log in before it is closed (sshd's LoginGraceTime). */
  sshLoginGraceSeconds: z.coerce.number().int().min(1).max(3600),
  /** Where custom tools run: each org's tool runner sandbox, on this runtime from this template. */
  toolRuntime: z.enum(['gvisor', 'container']),
  toolRunnerTemplate: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  toolRunnerMemoryBytes: z.coerce
    .number()
    .int()
    .min(64 * 1024 ** 2),
  /** A tool runner nobody called for this long is destroyed (the next call starts another). */
  toolRunnerIdleSeconds: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600),
  sshHost: z.string().min(1).optional(),
  /**
   * Background work in flight (a workflow node, a queued job) is leased this long and renewed every third of
   * it; work a dead control plane held is taken over once its lease runs out.
   */
  queueLeaseMs: z.coerce
    .number()
    .int()
    .min(500)
    .max(10 * 60_000),
  /** `table` keeps the embedded job queue on PostgreSQL too (pg-boss by default there). */
  queueBackend: z.enum(['auto', 'table']),
  /** How often RunMesh devices send heartbeats; a node is online while heard from within three. */
  meshHeartbeatSeconds: z.coerce.number().int().min(1).max(300),
  /** Device link requests one address may make a minute (also: codes an org may miss a minute). */
  meshLinkRatePerMinute: z.coerce.number().int().min(1).max(100_000),
  /** How often a linking device polls. */
  meshPollIntervalSeconds: z.coerce.number().int().min(1).max(60),
  /** How long a dashboard session lasts from sign-in, in hours. */
  sessionHours: z.coerce
    .number()
    .min(0.01)
    .max(24 * 30),
  /** Dashboard sign-in attempts (API keys, link tokens) per minute from one address. */
  signInRatePerMinute: z.coerce.number().int().min(1).max(100_000),
  /** The built dashboard (apps/dashboard/dist); absent: `/` says how to build it. */
  dashboardDir: z.string().min(1).optional(),
  /** Exa's search API, which the agents' web_search tool calls (a local server speaking it in tests). */
  exaUrl: z.url({ protocol: /^https?$/ }),
  /** Base URLs replacing built-in model providers' own: an LLM gateway, a proxy (a local server in tests). */
  providerBaseUrls: z.partialRecord(
    z.enum(Object.keys(builtinProviders) as [BuiltinProvider, ...BuiltinProvider[]]),
    z.url({ protocol: /^https?$/ }),
  ),
  /** Model prices (USD per million input and output tokens) by `provider/model-id`, over the built-in list. */
  modelPrices: z.record(
    z.string().regex(/^[a-z0-9][a-z0-9-]*\/\S+$/, { message: 'keys are provider/model-id' }),
    z
      .tuple([z.number().min(0).max(100_000), z.number().min(0).max(100_000)])
      .transform(([input, output]): ModelPrice => ({ input, output })),
  ),
  /** Official tools' API base URLs set by the operator (`RUNTOOLS_TOOL_<NAME>_BASE_URL`), by tool name. */
  toolBaseUrls: z.record(z.string(), z.url({ protocol: /^https?$/ })),
  /**
   * The URL people and providers reach this server at (OAuth callbacks: `<it>/v1/oauth/callback`); default
   * the address it listens on.
   */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** OAuth endpoints replacing a provider's own (`RUNTOOLS_OAUTH_<PROVIDER>_<ENDPOINT>_URL`), by variable. */
  oauthEndpoints: z.record(z.string(), z.url({ protocol: /^https?$/ })),
  /** Where workspaces live: directories in the data dir, or an S3-compatible bucket mounted with s3fs. */
  workspaceStorage: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('local') }),
    z.object({
      kind: z.literal('s3'),
      /** e.g. https://s3.eu-west-1.amazonaws.com, or a MinIO/R2/s3rver URL. */
      endpoint: z.url({ protocol: /^https?$/ }),
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'an S3 bucket name' }),
      region: z.string().min(1).optional(),
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      /** Key prefix under which each workspace is a directory. */
      prefix: z.string().regex(/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/),
      /** Path-style requests (endpoint/bucket/key), which most S3-compatible servers want. */
      pathStyle: z.boolean(),
    }),
  ]),
});
export type ServerConfig = z.infer<typeof ServerConfig>;

export const defaultPort = 7400;

export function defaultDataDir(): string {
  return join(homedir(), '.runtools');
}

/** The environment variable behind each setting whose name does not say it. */
const settingSources: Record<string, string> = {
  'workspaceStorage.kind': 'RUNTOOLS_WORKSPACE_STORAGE: local or s3',
  devDomain: 'RUNTOOLS_DEV_DOMAIN',
  maxSandboxVcpus: 'RUNTOOLS_MAX_SANDBOX_VCPUS',
  maxSandboxMemoryBytes: 'RUNTOOLS_MAX_SANDBOX_MEMORY: bytes or a size such as 8GiB',
  defaultSandboxDiskBytes: 'RUNTOOLS_SANDBOX_DISK: bytes or a size such as 10GiB',
  orgStorageQuotaBytes: 'RUNTOOLS_ORG_STORAGE_QUOTA: bytes or a size such as 500GiB; 0 for none',
  sshPort: 'RUNTOOLS_SSH_PORT',
  sshLoginGraceSeconds: 'RUNTOOLS_SSH_LOGIN_GRACE_SECONDS',
  toolRuntime: 'RUNTOOLS_TOOL_RUNTIME: gvisor or container',
  toolRunnerTemplate: 'RUNTOOLS_TOOL_RUNNER_TEMPLATE',
  toolRunnerMemoryBytes: 'RUNTOOLS_TOOL_RUNNER_MEMORY: bytes or a size such as 512MiB',
  toolRunnerIdleSeconds: 'RUNTOOLS_TOOL_RUNNER_IDLE_SECONDS',
  queueLeaseMs: 'RUNTOOLS_QUEUE_LEASE_MS',
  queueBackend: 'RUNTOOLS_QUEUE',
  meshHeartbeatSeconds: 'RUNTOOLS_MESH_HEARTBEAT_SECONDS',
  meshLinkRatePerMinute: 'RUNTOOLS_MESH_LINK_RATE_PER_MINUTE',
  meshPollIntervalSeconds: 'RUNTOOLS_MESH_POLL_SECONDS',
  sessionHours: 'RUNTOOLS_SESSION_HOURS',
  signInRatePerMinute: 'RUNTOOLS_SIGN_IN_RATE_PER_MINUTE',
  dashboardDir: 'RUNTOOLS_DASHBOARD_DIR',
  exaUrl: 'RUNTOOLS_EXA_URL',
  modelPrices: 'RUNTOOLS_MODEL_PRICES: JSON such as {"openai/gpt-5": [1.25, 10]}',
  devUrlScheme: 'RUNTOOLS_DEV_URL_SCHEME',
  devUrlPort: 'RUNTOOLS_DEV_URL_PORT',
  'workspaceStorage.endpoint': 'RUNTOOLS_S3_ENDPOINT',
  'workspaceStorage.bucket': 'RUNTOOLS_S3_BUCKET',
  'workspaceStorage.accessKeyId': 'RUNTOOLS_S3_ACCESS_KEY_ID',
  'workspaceStorage.secretAccessKey': 'RUNTOOLS_S3_SECRET_ACCESS_KEY',
  'workspaceStorage.prefix': 'RUNTOOLS_S3_PREFIX',
  ...Object.fromEntries(
    Object.keys(builtinProviders).map((name) => [`providerBaseUrls.${name}`, providerBaseUrlVariable(name)]),
  ),
  ...Object.fromEntries([...officialTools.keys()].map((name) => [`toolBaseUrls.${name}`, toolBaseUrlVariable(name)])),
  publicUrl: 'RUNTOOLS_PUBLIC_URL',
  ...Object.fromEntries(oauthEndpointVariables().map((name) => [`oauthEndpoints.${name}`, name])),
};

function oauthEndpointVariables(): string[] {
  return oauthProviderIds.flatMap((provider) =>
    (['authorize', 'token', 'revoke', 'userinfo'] as const).map((endpoint) =>
      oauthEndpointVariable(provider, endpoint),
    ),
  );
}

function providerBaseUrlVariable(provider: string): string {
  return `RUNTOOLS_${provider.toUpperCase()}_BASE_URL`;
}

/** Reads the config from flags and the environment; a bad value is a clear error naming its source. */
export function resolveServerConfig(
  flags: Partial<
    Record<'dataDir' | 'port' | 'host' | 'databaseUrl' | 'logLevel' | 'runtime', string | number | undefined>
  >,
  env: NodeJS.ProcessEnv = process.env,
): ServerConfig {
  const dataDir = resolve(String(flags.dataDir ?? env.RUNTOOLS_DATA_DIR ?? defaultDataDir()));
  const raw = {
    dataDir,
    runtime: flags.runtime ?? env.RUNTOOLS_RUNTIME ?? 'gvisor',
    defaultTemplate: env.RUNTOOLS_DEFAULT_TEMPLATE || 'base',
    rootfsDir: resolve(env.RUNTOOLS_ROOTFS_DIR || join(dataDir, 'rootfs')),
    port: flags.port ?? env.RUNTOOLS_PORT ?? defaultPort,
    host: flags.host ?? env.RUNTOOLS_HOST ?? '127.0.0.1',
    databaseUrl: flags.databaseUrl ?? (env.RUNTOOLS_DATABASE_URL || undefined),
    masterKey: env.RUNTOOLS_MASTER_KEY || undefined,
    adminKey: env.RUNTOOLS_ADMIN_KEY || undefined,
    logLevel: flags.logLevel ?? env.RUNTOOLS_LOG_LEVEL ?? 'info',
    maxBodyBytes: env.RUNTOOLS_MAX_BODY_BYTES ?? 1024 * 1024,
    rateLimitPerMinute: env.RUNTOOLS_RATE_LIMIT_PER_MINUTE ?? 6000,
    idleSweepMs: env.RUNTOOLS_IDLE_SWEEP_MS ?? 5000,
    maxUploadBytes: env.RUNTOOLS_MAX_UPLOAD_BYTES ?? 5 * 1024 ** 3,
    maxSandboxVcpus: env.RUNTOOLS_MAX_SANDBOX_VCPUS || availableParallelism(),
    maxSandboxMemoryBytes: env.RUNTOOLS_MAX_SANDBOX_MEMORY ? sizeOrBytes(env.RUNTOOLS_MAX_SANDBOX_MEMORY) : totalmem(),
    defaultSandboxDiskBytes: env.RUNTOOLS_SANDBOX_DISK ? sizeOrBytes(env.RUNTOOLS_SANDBOX_DISK) : 10 * 1024 ** 3,
    orgStorageQuotaBytes: env.RUNTOOLS_ORG_STORAGE_QUOTA
      ? sizeOrBytes(env.RUNTOOLS_ORG_STORAGE_QUOTA)
      : 500 * 1024 ** 3,
    devDomain: env.RUNTOOLS_DEV_DOMAIN || 'sandboxes.localhost',
    sshPort: env.RUNTOOLS_SSH_PORT ?? 2222,
    sshLoginGraceSeconds: env.RUNTOOLS_SSH_LOGIN_GRACE_SECONDS || 120,
    toolRuntime: env.RUNTOOLS_TOOL_RUNTIME || (flags.runtime ?? env.RUNTOOLS_RUNTIME ?? 'gvisor'),
    toolRunnerTemplate: env.RUNTOOLS_TOOL_RUNNER_TEMPLATE || 'minimal',
    toolRunnerMemoryBytes: env.RUNTOOLS_TOOL_RUNNER_MEMORY
      ? sizeOrBytes(env.RUNTOOLS_TOOL_RUNNER_MEMORY)
      : 512 * 1024 ** 2,
    toolRunnerIdleSeconds: env.RUNTOOLS_TOOL_RUNNER_IDLE_SECONDS || 600,
    sshHost: env.RUNTOOLS_SSH_HOST || undefined,
    queueLeaseMs: env.RUNTOOLS_QUEUE_LEASE_MS || 30_000,
    queueBackend: env.RUNTOOLS_QUEUE || 'auto',
    meshHeartbeatSeconds: env.RUNTOOLS_MESH_HEARTBEAT_SECONDS || 15,
    meshLinkRatePerMinute: env.RUNTOOLS_MESH_LINK_RATE_PER_MINUTE || 10,
    meshPollIntervalSeconds: env.RUNTOOLS_MESH_POLL_SECONDS || 2,
    sessionHours: env.RUNTOOLS_SESSION_HOURS || 12,
    signInRatePerMinute: env.RUNTOOLS_SIGN_IN_RATE_PER_MINUTE || 20,
    dashboardDir: env.RUNTOOLS_DASHBOARD_DIR || undefined,
    exaUrl: env.RUNTOOLS_EXA_URL || 'https://api.exa.ai',
    modelPrices: env.RUNTOOLS_MODEL_PRICES ? jsonOrText(env.RUNTOOLS_MODEL_PRICES) : {},
    providerBaseUrls: Object.fromEntries(
      Object.keys(builtinProviders).flatMap((name) => {
        const value = env[providerBaseUrlVariable(name)];
        return value ? [[name, value]] : [];
      }),
    ),
    toolBaseUrls: Object.fromEntries(
      [...officialTools.keys()].flatMap((name) => {
        const value = env[toolBaseUrlVariable(name)];
        return value ? [[name, value]] : [];
      }),
    ),
    publicUrl: env.RUNTOOLS_PUBLIC_URL || undefined,
    oauthEndpoints: Object.fromEntries(
      oauthEndpointVariables().flatMap((name) => (env[name] ? [[name, env[name]]] : [])),
    ),
    devUrlScheme: env.RUNTOOLS_DEV_URL_SCHEME || 'http',
    devUrlPort: env.RUNTOOLS_DEV_URL_PORT || undefined,
    workspaceStorage:
      (env.RUNTOOLS_WORKSPACE_STORAGE || 'local') === 'local'
        ? { kind: env.RUNTOOLS_WORKSPACE_STORAGE || 'local' }
        : {
            kind: env.RUNTOOLS_WORKSPACE_STORAGE,
            endpoint: env.RUNTOOLS_S3_ENDPOINT,
            bucket: env.RUNTOOLS_S3_BUCKET,
            region: env.RUNTOOLS_S3_REGION || undefined,
            accessKeyId: env.RUNTOOLS_S3_ACCESS_KEY_ID,
            secretAccessKey: env.RUNTOOLS_S3_SECRET_ACCESS_KEY,
            prefix: env.RUNTOOLS_S3_PREFIX || 'workspaces',
            pathStyle: env.RUNTOOLS_S3_PATH_STYLE !== 'false',
          },
  };
  const parsed = ServerConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    // A setting made of entries (the model prices) is named by its variable whichever entry is wrong.
    const source = settingSources[path] ?? settingSources[String(issue?.path[0] ?? '')];
    throw new ConfigError(`invalid server setting ${path}${source ? ` (${source})` : ''}: ${issue?.message}`);
  }
  return parsed.data;
}

/** A JSON setting, parsed; text that is not JSON is left for the schema to refuse (as "expected record"). */
function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** `8GiB`, `512MB` or a number of bytes; anything else is left for the schema to refuse. */
function sizeOrBytes(text: string): number | string {
  if (/^\d+$/.test(text.trim())) return Number(text);
  try {
    return parseByteSize(text);
  } catch {
    return text;
  }
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
