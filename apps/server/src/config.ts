import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

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
  /** Largest file upload into a sandbox (streamed, so not bounded by the JSON body limit). */
  maxUploadBytes: z.coerce.number().int().min(1024),
  /** How often idle sandboxes are looked for (and paused), in milliseconds. */
  idleSweepMs: z.coerce.number().int().min(50).max(3_600_000),
});
export type ServerConfig = z.infer<typeof ServerConfig>;

export const defaultPort = 7400;

export function defaultDataDir(): string {
  return join(homedir(), '.runtools');
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
  };
  const parsed = ServerConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`invalid server setting ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
