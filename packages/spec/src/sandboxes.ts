import { z } from 'zod';
import {
  ByteSize,
  CommandFields,
  EnvVars,
  IdleTimeout,
  idSchema,
  listOf,
  Metadata,
  PageQuery,
  ProjectField,
  ProjectFilter,
  pageOf,
  ResourceName,
  Timestamp,
} from './common.js';
import { sandboxStates } from './events.js';
import { WorkspaceMount } from './workspaces.js';

export const SandboxStatus = z.enum(sandboxStates).meta({ id: 'SandboxStatus' });
export type SandboxStatus = z.infer<typeof SandboxStatus>;
export const SandboxRuntime = z.enum(['gvisor', 'container']).meta({ id: 'SandboxRuntime' });
export type SandboxRuntime = z.infer<typeof SandboxRuntime>;

export const SandboxCreateRequest = z
  .object({
    template: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: "a built-in template or one of the org's own; default: the server's (base)" }),
    name: ResourceName.optional(),
    runtime: SandboxRuntime.optional(),
    env: EnvVars.optional(),
    metadata: Metadata.optional(),
    idleTimeout: IdleTimeout.optional().meta({
      description: 'seconds without exec, file or process activity before the sandbox is paused; 0 never; default 900',
    }),
    autoResume: z.boolean().optional().meta({
      description: 'when paused, resume on exec, file or process activity instead of answering 409; default false',
    }),
    mounts: z
      .array(WorkspaceMount)
      .max(16)
      .optional()
      .meta({ description: 'org workspaces to mount at /workspace or under it' }),
    network: z
      .object({
        internet: z
          .boolean()
          .default(false)
          .meta({ description: 'outbound internet access; never the host, private networks or other sandboxes' }),
      })
      .strict()
      .optional(),
    resources: z
      .object({
        vcpus: z
          .number()
          .min(0.1)
          .max(64)
          .optional()
          .meta({ description: "at most the server's per-sandbox ceiling (default: its host's cores)" }),
        memory: ByteSize.optional().meta({
          description: "e.g. 2GB; at least 64MiB, at most the server's per-sandbox ceiling (default 1GiB)",
        }),
        disk: ByteSize.optional().meta({ description: 'size of its writable layer, e.g. 10GB; default unlimited' }),
      })
      .strict()
      .optional(),
    ...ProjectField,
  })
  .strict();
export type SandboxCreateRequest = z.input<typeof SandboxCreateRequest>;

export const Sandbox = z
  .object({
    id: idSchema('sandbox'),
    name: z.string().nullable(),
    projectId: idSchema('project'),
    template: z.string(),
    runtime: SandboxRuntime,
    status: SandboxStatus,
    statusReason: z.string().nullable(),
    pausedTo: z.enum(['disk', 'memory', 'filesystem']).nullable().meta({
      description:
        'how a paused sandbox is kept: disk (gVisor: saved with its processes and stopped, no memory or CPU used), memory (frozen in place: the crun default; memory stays in use) or filesystem (stopped, files kept: resume starts its processes afresh)',
    }),
    metadata: z.record(z.string(), z.string()),
    resources: z.object({ vcpus: z.number(), memoryBytes: z.number(), diskBytes: z.number().nullable() }),
    network: z.object({ internet: z.boolean() }),
    mounts: z.array(z.object({ workspaceId: z.string(), path: z.string() })),
    idleTimeout: z.number().int(),
    autoResume: z.boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Sandbox' });
export type Sandbox = z.infer<typeof Sandbox>;
export const SandboxList = pageOf(Sandbox);
export type SandboxList = z.infer<typeof SandboxList>;

/**
 * `?status=running&metadata.userId=u1&projectId=prj_…`: every `metadata.<key>` must match; paged with
 * `?limit=&cursor=`.
 */
export const SandboxListQuery = z.looseObject({ status: SandboxStatus.optional(), ...ProjectFilter, ...PageQuery });
export const SandboxParams = z.object({ sandboxId: idSchema('sandbox') });

export const SandboxExecRequest = z
  .object({
    ...CommandFields,
    stdin: z
      .string()
      .max(1024 * 1024)
      .optional(),
    timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict();
export type SandboxExecRequest = z.input<typeof SandboxExecRequest>;
export const SandboxExecResult = z
  .object({ stdout: z.string(), stderr: z.string(), exitCode: z.number().int(), timedOut: z.boolean() })
  .meta({ id: 'SandboxExecResult' });
export type SandboxExecResult = z.infer<typeof SandboxExecResult>;

/**
 * One event of a streamed exec, sent as server-sent events named by `type`. Output is base64 so that any
 * bytes survive; `exit` comes last.
 */
export const SandboxExecEvent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('stdout'), data: z.base64() }),
    z.object({ type: z.literal('stderr'), data: z.base64() }),
    z.object({ type: z.literal('exit'), exitCode: z.number().int(), timedOut: z.boolean() }),
  ])
  .meta({ id: 'SandboxExecEvent' });
export type SandboxExecEvent = z.infer<typeof SandboxExecEvent>;

/** An absolute path inside the sandbox. Operations run inside it, so its root is the boundary. */
export const SandboxPath = z
  .string()
  .min(1)
  .max(4096)
  .startsWith('/', { message: 'an absolute path inside the sandbox' })
  .refine((value) => !value.includes('\u0000'), { message: 'must not contain NUL' });

export const SandboxFileQuery = z.object({ path: SandboxPath });
/** A directory to list, paged by name. */
export const SandboxFileListQuery = SandboxFileQuery.extend(PageQuery);
export const SandboxFile = z
  .object({ path: z.string(), content: z.base64(), size: z.number().int() })
  .meta({ id: 'SandboxFile', description: 'content is base64' });
export type SandboxFile = z.infer<typeof SandboxFile>;
/** The most base64 a JSON file write carries (48 MiB of bytes); larger files go through the streamed upload. */
export const maxFileWriteBase64 = 64 * 1024 * 1024;
export const SandboxFileWrite = z
  .object({ path: SandboxPath, content: z.base64().max(maxFileWriteBase64) })
  .strict()
  .meta({ description: 'content is base64; parent directories are created' });
export type SandboxFileWrite = z.input<typeof SandboxFileWrite>;
export const SandboxFileEntry = z
  .object({
    name: z.string(),
    type: z.enum(['file', 'dir', 'symlink', 'other']),
    size: z.number().int(),
    mode: z.number().int().meta({ description: 'permission bits, e.g. 420 (0644)' }),
    modifiedAt: Timestamp,
  })
  .meta({ id: 'SandboxFileEntry' });
export type SandboxFileEntry = z.infer<typeof SandboxFileEntry>;
export const SandboxFileList = pageOf(SandboxFileEntry);
export const SandboxPathResult = z.object({ path: z.string(), exists: z.boolean() });
export const SandboxPathRequest = z.object({ path: SandboxPath }).strict();

export const TerminalSize = z
  .object({ cols: z.number().int().min(1).max(1000), rows: z.number().int().min(1).max(1000) })
  .strict();

/** A background process: started, left running, followed and signalled by pid. */
export const SandboxProcessStart = z
  .object({
    ...CommandFields,
    timeoutMs: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3_600_000)
      .optional(),
    pty: TerminalSize.optional().meta({
      description: 'run on a pseudo-terminal of this size: output comes as stdout, stdin is the terminal',
    }),
  })
  .strict();
export type SandboxProcessStart = z.input<typeof SandboxProcessStart>;
export const SandboxProcess = z
  .object({
    pid: z.number().int(),
    command: z.string(),
    running: z.boolean(),
    exitCode: z.number().int().nullable(),
    startedAt: Timestamp,
    endedAt: Timestamp.nullable(),
    outputBytes: z.number().int().meta({ description: 'stdout and stderr bytes so far; `since` offsets count these' }),
  })
  .meta({ id: 'SandboxProcess' });
export type SandboxProcess = z.infer<typeof SandboxProcess>;
export const SandboxProcessList = pageOf(SandboxProcess);
export const SandboxProcessParams = z.object({
  sandboxId: idSchema('sandbox'),
  pid: z.coerce.number().int().min(1).max(4_194_304),
});
export const SandboxProcessOutputQuery = z.object({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .meta({ description: 'replay output from this byte offset (the last 1 MiB is kept); default 0' }),
});
/** Output of a followed process with the offset of each chunk, so a client can reconnect where it left off. */
export const SandboxProcessEvent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('stdout'), data: z.base64(), offset: z.number().int() }),
    z.object({ type: z.literal('stderr'), data: z.base64(), offset: z.number().int() }),
    z.object({
      type: z.literal('exit'),
      exitCode: z.number().int(),
      timedOut: z.boolean(),
      signal: z.string().optional(),
    }),
  ])
  .meta({ id: 'SandboxProcessEvent' });
export type SandboxProcessEvent = z.infer<typeof SandboxProcessEvent>;
export const SandboxProcessInput = z
  .object({
    data: z
      .base64()
      .max(4 * 1024 * 1024)
      .optional(),
    eof: z.boolean().optional().meta({ description: 'close the process stdin after writing data' }),
  })
  .strict();
export const processSignals = ['TERM', 'KILL', 'INT', 'HUP', 'QUIT', 'USR1', 'USR2', 'STOP', 'CONT'] as const;
export const SandboxSignalRequest = z.object({ signal: z.enum(processSignals).default('TERM') }).strict();
export const SandboxProcessAck = z.object({ pid: z.number().int() });

/** One line of a sandbox's log: status changes, commands and processes, in order. */
export const SandboxLogEntry = z
  .object({
    seq: z.number().int(),
    at: Timestamp,
    type: z.enum(['status', 'exec', 'process', 'snapshot']),
    message: z.string(),
    status: SandboxStatus.optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'SandboxLogEntry' });
export type SandboxLogEntry = z.infer<typeof SandboxLogEntry>;
export const SandboxLogList = listOf(SandboxLogEntry);
export const SandboxLogQuery = z.object({
  after: z.coerce.number().int().min(0).optional().meta({ description: 'only entries with a larger seq' }),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** Raw file content (`application/octet-stream`). */
export const SandboxFileBytes = z.string().meta({ format: 'binary', description: 'the file bytes' });
export const SandboxUploadQuery = z.object({
  path: SandboxPath,
  append: z.enum(['true', 'false']).optional().meta({ description: 'append instead of replacing' }),
});
export const SandboxUploadResult = z.object({ path: z.string(), size: z.number().int() });
export const SandboxFileInfo = z
  .object({
    path: z.string(),
    name: z.string(),
    type: z.enum(['file', 'dir', 'symlink', 'other']),
    size: z.number().int(),
    mode: z.number().int(),
    modifiedAt: Timestamp,
    target: z.string().optional().meta({ description: 'where a symlink points' }),
  })
  .meta({ id: 'SandboxFileInfo' });
export type SandboxFileInfo = z.infer<typeof SandboxFileInfo>;
export const SandboxMoveRequest = z.object({ from: SandboxPath, to: SandboxPath }).strict();
export const SandboxWatchQuery = z.object({
  path: SandboxPath,
  recursive: z.enum(['true', 'false']).optional(),
});
/** `ready` comes first, once the watch is in place; then the changes. */
export const SandboxWatchEvent = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('ready'), path: z.string() }),
    z.object({ type: z.enum(['create', 'write', 'remove', 'chmod']), path: z.string(), isDir: z.boolean() }),
  ])
  .meta({ id: 'SandboxWatchEvent' });
export type SandboxWatchEvent = z.infer<typeof SandboxWatchEvent>;

/** What a sandbox uses now; null where the host cannot tell. */
export const SandboxStats = z
  .object({
    cpuSeconds: z.number().nullable(),
    memoryBytes: z.number().nullable(),
    memoryLimitBytes: z.number().nullable(),
    diskBytes: z.number().nullable(),
    diskLimitBytes: z.number().nullable(),
    processes: z.number().int().nullable().meta({ description: 'processes inside the sandbox' }),
  })
  .meta({ id: 'SandboxStats' });
export type SandboxStats = z.infer<typeof SandboxStats>;

export const SandboxPauseQuery = z.object({
  to: z.enum(['disk', 'memory', 'filesystem']).optional().meta({
    description:
      'disk (gVisor, its default): processes saved and stopped; memory (crun default): frozen in place; filesystem: stopped, files kept, processes start afresh on resume',
  }),
});

export const SandboxSnapshot = z
  .object({
    id: idSchema('snapshot'),
    sandboxId: idSchema('sandbox'),
    name: z.string().nullable(),
    runtime: SandboxRuntime,
    memory: z.boolean().meta({
      description:
        'true: the processes were saved too (gVisor), and rollback or branch resumes them where they were; false: files only (crun), processes start afresh',
    }),
    sizeBytes: z.number().int(),
    createdAt: Timestamp,
  })
  .meta({ id: 'SandboxSnapshot' });
export type SandboxSnapshot = z.infer<typeof SandboxSnapshot>;
export const SandboxSnapshotList = pageOf(SandboxSnapshot);
export const SandboxSnapshotParams = z.object({ sandboxId: idSchema('sandbox'), snapshotId: idSchema('snapshot') });
export const SandboxSnapshotCreate = z
  .object({ name: ResourceName.optional().meta({ description: 'unique among the sandbox’s snapshots' }) })
  .strict();
export type SandboxSnapshotCreate = z.input<typeof SandboxSnapshotCreate>;
/** A snapshot by id or by name. */
const SnapshotRef = z.string().min(1).max(63).meta({ description: 'a snapshot id (snp_…) or name' });
export const SandboxRollbackRequest = z.object({ snapshot: SnapshotRef }).strict();
export type SandboxRollbackRequest = z.input<typeof SandboxRollbackRequest>;
export const SandboxBranchRequest = z
  .object({
    snapshot: SnapshotRef,
    name: ResourceName.optional(),
    metadata: Metadata.optional(),
    idleTimeout: IdleTimeout.optional(),
    autoResume: z.boolean().optional(),
  })
  .strict();
export type SandboxBranchRequest = z.input<typeof SandboxBranchRequest>;

export const SandboxUrlRequest = z
  .object({
    port: z.number().int().min(1).max(65535),
    public: z.boolean().optional().meta({ description: 'reachable without a key or link; default false' }),
    subdomain: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
        message: 'a DNS label: a-z, 0-9 and inner dashes, at most 63',
      })
      .optional()
      .meta({ description: 'a custom host label, {subdomain}.<dev domain>, unique across the platform until destroy' }),
    expiresIn: z
      .number()
      .int()
      .min(60)
      .max(30 * 24 * 3600)
      .optional()
      .meta({ description: 'seconds a signed link lasts (private URLs); default 86400' }),
  })
  .strict();
export type SandboxUrlRequest = z.input<typeof SandboxUrlRequest>;
export const SandboxUrl = z
  .object({
    port: z.number().int(),
    url: z.string().meta({ description: 'http://{port}-{sandboxId}.<dev domain>' }),
    public: z.boolean(),
    subdomain: z.string().nullable(),
    signedUrl: z.string().nullable().meta({
      description: 'for a private URL: the URL with a signed, expiring access token (revoked with the port)',
    }),
    signedUrlExpiresAt: Timestamp.nullable(),
  })
  .meta({ id: 'SandboxUrl' });
export type SandboxUrl = z.infer<typeof SandboxUrl>;
export const SandboxUrlList = pageOf(SandboxUrl);
export const SandboxUrlParams = z.object({
  sandboxId: idSchema('sandbox'),
  port: z.coerce.number().int().min(1).max(65535),
});

export const SandboxTerminalToken = z
  .object({
    token: z.string(),
    expiresAt: Timestamp,
    url: z.string().meta({ description: 'ws://…/v1/sandboxes/:id/terminal?token=…: open it within a minute' }),
  })
  .meta({ id: 'SandboxTerminalToken' });
export type SandboxTerminalToken = z.infer<typeof SandboxTerminalToken>;

export const SandboxSsh = z
  .object({
    host: z.string(),
    port: z.number().int(),
    username: z.string().meta({ description: 'the sandbox id' }),
    command: z.string().meta({ description: 'e.g. ssh -p 2222 sbx_…@127.0.0.1' }),
  })
  .meta({ id: 'SandboxSsh' });
export type SandboxSsh = z.infer<typeof SandboxSsh>;
