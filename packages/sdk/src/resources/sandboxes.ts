import {
  routes,
  type SandboxCreateRequest,
  type SandboxExecEvent,
  type SandboxExecResult,
  type SandboxFileEntry,
  type Sandbox as SandboxRecord,
  type SandboxStatus,
} from '@runtools/spec';
import { ValidationError } from '../errors.js';
import type { HttpClient } from '../http.js';

const defaultExecTimeoutMs = 60_000;
const createTimeoutMs = 15 * 60_000;

export interface ExecOptions {
  /** Milliseconds before the command is killed (default 60 000). */
  timeout?: number;
  cwd?: string;
  env?: Record<string, string>;
  stdin?: string;
  /** Called with each piece of standard output as it arrives (the command's output is streamed). */
  onStdout?: (text: string) => void;
  /** Called with each piece of standard error as it arrives. */
  onStderr?: (text: string) => void;
}

function execBody(command: string, options: ExecOptions) {
  return {
    command,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
    ...(options.timeout ? { timeoutMs: options.timeout } : {}),
  };
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
  /** Files inside the sandbox (binary-safe). */
  readonly files: SandboxFiles;

  constructor(
    private readonly http: HttpClient,
    private record: SandboxRecord,
  ) {
    this.files = new SandboxFiles(http, record.id);
  }

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
    if (options.onStdout || options.onStderr) {
      const result: SandboxExecResult = { stdout: '', stderr: '', exitCode: -1, timedOut: false };
      for await (const part of this.output(command, options)) {
        if (part.type === 'exit') {
          result.exitCode = part.exitCode;
          result.timedOut = part.timedOut;
        } else if (part.type === 'stdout') {
          result.stdout += part.text;
          options.onStdout?.(part.text);
        } else {
          result.stderr += part.text;
          options.onStderr?.(part.text);
        }
      }
      return result;
    }
    return this.http.call(
      routes.sandboxesExec,
      { params: { sandboxId: this.id }, body: execBody(command, options) },
      // The server kills the command at its timeout; give the answer time to arrive after that.
      { timeoutMs: (options.timeout ?? defaultExecTimeoutMs) + 30_000 },
    );
  }

  /**
   * Streams a command's output (stdout and stderr, as text) while it runs.
   * @example for await (const chunk of sandbox.execStream('npm run dev')) process.stdout.write(chunk)
   */
  async *execStream(command: string, options: Omit<ExecOptions, 'onStdout' | 'onStderr'> = {}): AsyncGenerator<string> {
    for await (const part of this.output(command, options)) if (part.type !== 'exit') yield part.text;
  }

  /** Decoded stream events: text per stream (multi-byte characters split across chunks kept whole), exit last. */
  private async *output(
    command: string,
    options: ExecOptions,
  ): AsyncGenerator<
    { type: 'stdout' | 'stderr'; text: string } | { type: 'exit'; exitCode: number; timedOut: boolean }
  > {
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const events = this.http.events<SandboxExecEvent>(
      routes.sandboxesExecStream,
      { params: { sandboxId: this.id }, body: execBody(command, options) },
      { timeoutMs: (options.timeout ?? defaultExecTimeoutMs) + 30_000 },
    );
    for await (const event of events) {
      if (event.type === 'exit') yield event;
      else {
        const text = decoders[event.type].decode(Buffer.from(event.data, 'base64'), { stream: true });
        if (text) yield { type: event.type, text };
      }
    }
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

/**
 * Files inside one sandbox. Paths are absolute paths in the sandbox; operations run inside it, so nothing
 * can reach past its root.
 *
 * @example
 * await sandbox.files.write('/app/hello.txt', 'hi');
 * console.log(await sandbox.files.read('/app/hello.txt'));
 */
export class SandboxFiles {
  constructor(
    private readonly http: HttpClient,
    private readonly sandboxId: string,
  ) {}

  /** Writes text or bytes, creating parent directories. @example await sandbox.files.write('/app/a.txt', 'hi') */
  async write(path: string, data: string | Uint8Array): Promise<void> {
    const content = Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64');
    await this.http.call(routes.sandboxFilesWrite, { params: { sandboxId: this.sandboxId }, body: { path, content } });
  }

  /** Uploads bytes (the same as write). @example await sandbox.files.upload('/data.bin', buffer) */
  upload(path: string, data: Uint8Array): Promise<void> {
    return this.write(path, data);
  }

  /** Reads a file as UTF-8 text. @example const text = await sandbox.files.read('/etc/hostname') */
  async read(path: string): Promise<string> {
    return (await this.download(path)).toString('utf8');
  }

  /** Reads a file's bytes. @example const bytes = await sandbox.files.download('/out.png') */
  async download(path: string): Promise<Buffer> {
    const file = await this.http.call<{ content: string }>(routes.sandboxFilesRead, {
      params: { sandboxId: this.sandboxId },
      query: { path },
    });
    return Buffer.from(file.content, 'base64');
  }

  /** Entries of a directory. @example const entries = await sandbox.files.list('/app') // [{ name, type, size }] */
  async list(path: string): Promise<SandboxFileEntry[]> {
    return (
      await this.http.call<{ data: SandboxFileEntry[] }>(routes.sandboxFilesList, {
        params: { sandboxId: this.sandboxId },
        query: { path },
      })
    ).data;
  }

  /** @example if (await sandbox.files.exists('/app/package.json')) { … } */
  async exists(path: string): Promise<boolean> {
    return (
      await this.http.call<{ exists: boolean }>(routes.sandboxFilesExists, {
        params: { sandboxId: this.sandboxId },
        query: { path },
      })
    ).exists;
  }

  /** Removes a file or a directory tree. @example await sandbox.files.remove('/tmp/build') */
  async remove(path: string): Promise<void> {
    await this.http.call(routes.sandboxFilesRemove, { params: { sandboxId: this.sandboxId }, body: { path } });
  }

  /** Creates a directory and its parents. @example await sandbox.files.mkdir('/app/src') */
  async mkdir(path: string): Promise<void> {
    await this.http.call(routes.sandboxFilesMkdir, { params: { sandboxId: this.sandboxId }, body: { path } });
  }

  /**
   * Replaces the one occurrence of `old` in a text file with `new`; fails when `old` is missing or not unique.
   * @example await sandbox.files.replace('/app/config.js', { old: 'debug: false', new: 'debug: true' })
   */
  async replace(path: string, edit: { old: string; new: string }): Promise<void> {
    const text = await this.read(path);
    const first = text.indexOf(edit.old);
    if (first < 0 || edit.old === '') {
      throw new ValidationError(`the text to replace was not found in ${path}`, { code: 'validation_failed' });
    }
    if (text.indexOf(edit.old, first + 1) >= 0) {
      throw new ValidationError(`the text to replace occurs more than once in ${path}`, { code: 'validation_failed' });
    }
    await this.write(path, text.slice(0, first) + edit.new + text.slice(first + edit.old.length));
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
