import {
  routes,
  type SandboxCreateRequest,
  type SandboxExecResult,
  type Sandbox as SandboxRecord,
  type SandboxStatus,
} from '@runtools/spec';
import type { HttpClient } from '../http.js';

const defaultExecTimeoutMs = 60_000;
const createTimeoutMs = 15 * 60_000;

export interface ExecOptions {
  /** Milliseconds before the command is killed (default 60 000). */
  timeout?: number;
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
}

/**
 * A live handle on one sandbox.
 *
 * @example
 * const sandbox = await rt.sandboxes.create({ metadata: { userId: 'u1' } });
 * const { stdout, exitCode } = await sandbox.exec('ls -la /');
 * await sandbox.destroy();
 */
export class Sandbox {
  constructor(
    private readonly http: HttpClient,
    private record: SandboxRecord,
  ) {}

  get id(): string {
    return this.record.id;
  }
  get status(): SandboxStatus {
    return this.record.status;
  }
  /** The sandbox as last seen by `create`, `get` or `refresh`. */
  get info(): SandboxRecord {
    return this.record;
  }

  /**
   * Runs a shell command and waits for it. A command ending in `&` returns at once and keeps running.
   * @example const { stdout, stderr, exitCode } = await sandbox.exec('npm run build', { timeout: 120000, cwd: '/app' })
   */
  async exec(command: string, options: ExecOptions = {}): Promise<SandboxExecResult> {
    return this.http.call(
      routes.sandboxesExec,
      {
        params: { sandboxId: this.id },
        body: {
          command,
          ...(options.cwd ? { cwd: options.cwd } : {}),
          ...(options.env ? { env: options.env } : {}),
          ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
          ...(options.timeout ? { timeoutMs: options.timeout } : {}),
        },
      },
      // The server kills the command at its timeout; give the answer time to arrive after that.
      { timeoutMs: (options.timeout ?? defaultExecTimeoutMs) + 30_000 },
    );
  }

  /** Reloads the sandbox's record. @example await sandbox.refresh(); console.log(sandbox.status) */
  async refresh(): Promise<SandboxRecord> {
    this.record = await this.http.call(routes.sandboxesGet, { params: { sandboxId: this.id } });
    return this.record;
  }

  /** Destroys the sandbox and everything in it. @example await sandbox.destroy() */
  async destroy(): Promise<SandboxRecord> {
    this.record = await this.http.call(routes.sandboxesDestroy, { params: { sandboxId: this.id } });
    return this.record;
  }
}

/** Sandboxes of the key's org. */
export class Sandboxes {
  constructor(private readonly http: HttpClient) {}

  /**
   * Creates a sandbox and resolves once it runs.
   * @example const sandbox = await rt.sandboxes.create({ runtime: 'container', env: { NODE_ENV: 'development' } })
   */
  async create(input: SandboxCreateRequest = {}): Promise<Sandbox> {
    // The first sandbox of a template builds its root filesystem (about a minute): wait for it.
    const record = await this.http.call<SandboxRecord>(
      routes.sandboxesCreate,
      { body: input },
      { timeoutMs: createTimeoutMs },
    );
    return new Sandbox(this.http, record);
  }

  /** @example const sandbox = await rt.sandboxes.get('sbx_…') */
  async get(id: string): Promise<Sandbox> {
    return new Sandbox(this.http, await this.http.call(routes.sandboxesGet, { params: { sandboxId: id } }));
  }

  /**
   * Lists sandboxes, optionally by status and metadata.
   * @example await rt.sandboxes.list({ status: 'running', metadata: { userId: 'u1' } })
   */
  async list(filter: { status?: SandboxStatus; metadata?: Record<string, string> } = {}): Promise<Sandbox[]> {
    const query: Record<string, string> = {};
    if (filter.status) query.status = filter.status;
    for (const [key, value] of Object.entries(filter.metadata ?? {})) query[`metadata.${key}`] = value;
    const list = await this.http.call<{ data: SandboxRecord[] }>(routes.sandboxesList, { query });
    return list.data.map((record) => new Sandbox(this.http, record));
  }
}
