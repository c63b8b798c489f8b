import type {
  SandboxCreateRequest,
  SandboxExecResult,
  SandboxFileEntry,
  SandboxFileInfo,
  SandboxLogEntry,
  SandboxProcess,
  Sandbox as SandboxRecord,
  SandboxSnapshot,
  SandboxSsh,
  SandboxStats,
  SandboxStatus,
  SandboxUrl,
  SandboxWatchEvent,
} from '@runtools/spec';
import { fromBase64, toBase64, utf8, utf8Text } from '../bytes.js';
import { TimeoutError, ValidationError } from '../errors.js';
import type { HttpClient } from '../http.js';
import { PagedList } from '../paged-list.js';

const defaultExecTimeoutMs = 60_000;
const createTimeoutMs = 15 * 60_000;
const transferTimeoutMs = 60 * 60_000;

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
  /**
   * Start the command as a background process and return its handle at once (`pid`, `wait()`, `kill()`,
   * output by offset); `onStdout`/`onStderr` then follow it in the background.
   */
  background?: boolean;
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
  /** Background processes: started, listed, followed, signalled by pid. */
  readonly processes: SandboxProcesses;
  /** Its snapshots: listed and deleted here, taken with `snapshot()`. */
  readonly snapshots: SandboxSnapshots;
  private readonly listeners = { status: new Set<StatusListener>(), log: new Set<LogListener>() };
  private following: AbortController | undefined;

  constructor(
    private readonly http: HttpClient,
    private record: SandboxRecord,
  ) {
    this.files = new SandboxFiles(http, record.id);
    this.processes = new SandboxProcesses(http, record.id);
    this.snapshots = new SandboxSnapshots(http, record.id);
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
  exec(command: string, options: ExecOptions & { background: true }): Promise<ProcessHandle>;
  exec(command: string, options?: ExecOptions): Promise<SandboxExecResult>;
  async exec(command: string, options: ExecOptions = {}): Promise<SandboxExecResult | ProcessHandle> {
    if (options.background) {
      const handle = await this.processes.start(command, options);
      if (options.onStdout || options.onStderr) handle.follow(options);
      return handle;
    }
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
      'sandboxesExec',
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
    const events = this.http.events(
      'sandboxesExecStream',
      { params: { sandboxId: this.id }, body: execBody(command, options) },
      { timeoutMs: (options.timeout ?? defaultExecTimeoutMs) + 30_000 },
    );
    for await (const event of events) {
      if (event.type === 'exit') yield event;
      else {
        const text = decoders[event.type].decode(fromBase64(event.data), { stream: true });
        if (text) yield { type: event.type, text };
      }
    }
  }

  /**
   * CPU time, memory, disk and process count now.
   * @example const { memoryBytes, diskBytes } = await sandbox.stats()
   */
  async stats(): Promise<SandboxStats> {
    return this.http.call('sandboxesStats', { params: { sandboxId: this.id } });
  }

  /**
   * Pauses the sandbox: on gVisor it is saved to disk with its processes' memory and stops using CPU and memory
   * (`pausedTo: 'disk'`); on crun it is frozen in memory (`pausedTo: 'memory'`). `{ to: 'filesystem' }` stops
   * it keeping only its files (resume starts its processes afresh); `{ to: 'memory' }` freezes a gVisor one.
   * Exec and files answer 409 until `resume` (unless it was created with `autoResume`).
   * @example await sandbox.pause()
   */
  async pause(options: { to?: 'disk' | 'memory' | 'filesystem' } = {}): Promise<SandboxRecord> {
    this.record = await this.http.call('sandboxesPause', {
      params: { sandboxId: this.id },
      query: options.to ? { to: options.to } : {},
    });
    return this.record;
  }

  /**
   * Brings a paused sandbox back with its processes where they were (from a filesystem pause: afresh).
   * @example await sandbox.resume()
   */
  async resume(): Promise<SandboxRecord> {
    this.record = await this.http.call('sandboxesResume', { params: { sandboxId: this.id } });
    return this.record;
  }

  /**
   * The dev URL of a port inside the sandbox: `http://{port}-{id}.sandboxes.localhost:7400` by default. Private
   * unless `public: true`: reach it with an API key (`X-API-Key`) or the `signedUrl` it comes with (expiring,
   * revoked by `revokeUrl`). `subdomain` reserves `http://{subdomain}.sandboxes.localhost:7400` for the port,
   * unique across the platform until the sandbox is destroyed.
   * @example const { url, signedUrl } = await sandbox.getUrl({ port: 3000 })
   */
  async getUrl(options: {
    port: number;
    public?: boolean;
    subdomain?: string;
    expiresIn?: number;
  }): Promise<SandboxUrl> {
    return this.http.call('sandboxesUrlsCreate', { params: { sandboxId: this.id }, body: options });
  }

  /** The ports given URLs so far, by port. @example for (const { port, url } of await sandbox.getUrls()) … */
  getUrls(): PagedList<SandboxUrl> {
    return new PagedList((page) =>
      this.http.call('sandboxesUrlsList', { params: { sandboxId: this.id }, query: page }),
    );
  }

  /** Makes a port private again and voids every signed link to it. @example await sandbox.revokeUrl(3000) */
  async revokeUrl(port: number): Promise<void> {
    await this.http.call('sandboxesUrlsDelete', { params: { sandboxId: this.id, port: String(port) } });
  }

  /**
   * How to reach the sandbox with ssh: `ssh -p {port} {username}@{host}` with a key registered with
   * `rt.sshKeys.add` (shell, commands, `-L` port forwarding).
   * @example const { host, port, username } = await sandbox.getSSH()
   */
  async getSSH(): Promise<SandboxSsh> {
    return this.http.call('sandboxesSsh', { params: { sandboxId: this.id } });
  }

  /**
   * Takes a snapshot: its files, and on gVisor its processes' memory too (`memory: true`). The sandbox keeps
   * running; it is frozen only while the snapshot is taken.
   * @example const snapshot = await sandbox.snapshot({ name: 'before-migration' })
   */
  async snapshot(options: { name?: string } = {}): Promise<SandboxSnapshot> {
    return this.http.call(
      'sandboxesSnapshotsCreate',
      { params: { sandboxId: this.id }, body: options },
      { timeoutMs: createTimeoutMs },
    );
  }

  /**
   * Puts the sandbox back to a snapshot (by id or name), in place; it runs after. From a memory snapshot
   * its processes are where they were; from a files-only one they start afresh.
   * @example await sandbox.rollback({ snapshot: 'before-migration' })
   */
  async rollback(options: { snapshot: string }): Promise<SandboxRecord> {
    this.record = await this.http.call(
      'sandboxesRollback',
      { params: { sandboxId: this.id }, body: options },
      { timeoutMs: createTimeoutMs },
    );
    return this.record;
  }

  /**
   * A new, independent sandbox from one of this sandbox's snapshots (same template, runtime, resources and
   * mounts).
   * @example const copy = await sandbox.branch({ snapshot: 'before-migration', name: 'experiment' })
   */
  async branch(options: {
    snapshot: string;
    name?: string;
    metadata?: Record<string, string>;
    idleTimeout?: number;
    autoResume?: boolean;
  }): Promise<Sandbox> {
    const record = await this.http.call(
      'sandboxesBranch',
      { params: { sandboxId: this.id }, body: options },
      { timeoutMs: createTimeoutMs },
    );
    return new Sandbox(this.http, record);
  }

  /** The sandbox log so far: status changes, commands, processes. @example for (const e of await sandbox.logs()) … */
  async logs(options: { after?: number; limit?: number } = {}): Promise<SandboxLogEntry[]> {
    const query: Record<string, string> = {};
    if (options.after !== undefined) query.after = String(options.after);
    if (options.limit !== undefined) query.limit = String(options.limit);
    return (await this.http.call('sandboxesLogs', { params: { sandboxId: this.id }, query })).data;
  }

  /**
   * Follows the sandbox: `status` listeners get each new status, `log` listeners every log entry. The
   * stream opens with the first listener and closes with the last `off`.
   * @example sandbox.on('status', (status) => console.log('now', status))
   */
  on(event: 'status', listener: StatusListener): this;
  on(event: 'log', listener: LogListener): this;
  on(event: 'status' | 'log', listener: StatusListener | LogListener): this {
    (this.listeners[event] as Set<typeof listener>).add(listener);
    this.follow();
    return this;
  }

  off(event: 'status', listener: StatusListener): this;
  off(event: 'log', listener: LogListener): this;
  off(event: 'status' | 'log', listener: StatusListener | LogListener): this {
    (this.listeners[event] as Set<typeof listener>).delete(listener);
    if (this.listeners.status.size === 0 && this.listeners.log.size === 0) {
      this.following?.abort();
      this.following = undefined;
    }
    return this;
  }

  private follow(): void {
    if (this.following) return;
    const following = new AbortController();
    this.following = following;
    void (async () => {
      let after = (await this.logs({ limit: 1000 }).catch(() => [])).at(-1)?.seq ?? 0;
      while (!following.signal.aborted) {
        try {
          const events = this.http.events(
            'sandboxesLogsStream',
            { params: { sandboxId: this.id }, query: { after: String(after) } },
            { follow: true, signal: following.signal },
          );
          for await (const entry of events) {
            after = entry.seq;
            if (entry.type === 'status' && entry.status) {
              this.record = { ...this.record, status: entry.status };
              for (const listener of this.listeners.status) listener(entry.status, entry);
            }
            for (const listener of this.listeners.log) listener(entry);
          }
          if (this.record.status === 'destroyed') return;
        } catch {
          // Reconnect after a dropped stream, from the last entry seen.
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
  }

  /**
   * Resolves once the sandbox reaches `status` (at once if it is there already); rejects with a
   * TimeoutError after `timeout` ms (default 60 000).
   * @example await sandbox.waitFor('running')
   */
  async waitFor(status: SandboxStatus, options: { timeout?: number } = {}): Promise<SandboxRecord> {
    const timeoutMs = options.timeout ?? 60_000;
    return new Promise<SandboxRecord>((resolve, reject) => {
      const listener: StatusListener = (current) => {
        if (current !== status) return;
        finish();
        resolve(this.record);
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new TimeoutError(`sandbox ${this.id} did not become ${status} within ${timeoutMs} ms`, { code: 'timeout' }),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.off('status', listener);
      };
      this.on('status', listener);
      this.refresh().then(
        (record) => {
          if (record.status === status) listener(status, undefined);
        },
        () => {},
      );
    });
  }

  /** Reloads the sandbox's record. @example await sandbox.refresh(); console.log(sandbox.status) */
  async refresh(): Promise<SandboxRecord> {
    this.record = await this.http.call('sandboxesGet', { params: { sandboxId: this.id } });
    return this.record;
  }

  /** Destroys the sandbox and everything in it. @example await sandbox.destroy() */
  async destroy(): Promise<SandboxRecord> {
    this.record = await this.http.call('sandboxesDestroy', { params: { sandboxId: this.id } });
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

  /**
   * Writes text or bytes, creating parent directories; the file is replaced atomically.
   * @example await sandbox.files.write('/app/a.txt', 'hi')
   */
  async write(path: string, data: string | Uint8Array): Promise<void> {
    await this.upload(path, typeof data === 'string' ? utf8(data) : data);
  }

  /**
   * Uploads bytes, streamed (any size: a Uint8Array or Buffer, a web ReadableStream or any async iterable of chunks, such
   * as fs.createReadStream). The old file stays until the upload is complete.
   * @example await sandbox.files.upload('/data/big.bin', createReadStream('big.bin'))
   */
  async upload(
    path: string,
    data: Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    options: { append?: boolean } = {},
  ): Promise<{ path: string; size: number }> {
    const response = await this.http.raw(
      'sandboxFilesUpload',
      {
        params: { sandboxId: this.sandboxId },
        query: { path, ...(options.append ? { append: 'true' } : {}) },
        body: data,
      },
      { timeoutMs: transferTimeoutMs },
    );
    return this.http.answer('sandboxFilesUpload', response);
  }

  /** Reads a file as UTF-8 text. @example const text = await sandbox.files.read('/etc/hostname') */
  async read(path: string): Promise<string> {
    return utf8Text(await this.download(path));
  }

  /** Reads a file's bytes. @example const bytes = await sandbox.files.download('/out.png') */
  async download(path: string): Promise<Uint8Array> {
    const response = await this.downloadResponse(path);
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * A file's bytes as a stream, for files too big to hold in memory.
   * @example await pipeline(Readable.fromWeb(await sandbox.files.downloadStream('/out.tar')), createWriteStream('out.tar'))
   */
  async downloadStream(path: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.downloadResponse(path);
    if (!response.body) throw new ValidationError(`no content for ${path}`, { code: 'validation_failed' });
    return response.body;
  }

  private downloadResponse(path: string): Promise<Response> {
    return this.http.raw(
      'sandboxFilesDownload',
      { params: { sandboxId: this.sandboxId }, query: { path } },
      { timeoutMs: transferTimeoutMs },
    );
  }

  /** Type, size, mode and modification time. @example (await sandbox.files.stat('/app')).type // 'dir' */
  async stat(path: string): Promise<SandboxFileInfo> {
    return this.http.call('sandboxFilesStat', { params: { sandboxId: this.sandboxId }, query: { path } });
  }

  /** Moves or renames. @example await sandbox.files.move('/tmp/out.txt', '/app/out.txt') */
  async move(from: string, to: string): Promise<void> {
    await this.http.call('sandboxFilesMove', { params: { sandboxId: this.sandboxId }, body: { from, to } });
  }

  /**
   * Calls back with changes under a directory until `stop()`; resolves once the watch is in place.
   * @example const watcher = await sandbox.files.watch('/app', (event) => console.log(event.type, event.path), { recursive: true })
   */
  async watch(
    path: string,
    onEvent: (event: FileChange) => void,
    options: { recursive?: boolean } = {},
  ): Promise<{ stop(): void; done: Promise<void> }> {
    const stopper = new AbortController();
    const events = this.http.events(
      'sandboxFilesWatch',
      { params: { sandboxId: this.sandboxId }, query: { path, recursive: options.recursive ? 'true' : 'false' } },
      { follow: true, signal: stopper.signal },
    );
    // The server's first event says the watch is in place; errors (no such directory) come before it.
    const first = await events.next();
    if (first.done || first.value.type !== 'ready')
      throw new ValidationError(`the watch on ${path} did not start`, { code: 'validation_failed' });
    let stopped = false;
    const done = (async () => {
      try {
        for (let next = await events.next(); !next.done; next = await events.next())
          if (!stopped && next.value.type !== 'ready') onEvent(next.value);
      } catch (error) {
        if (!stopped) throw error;
      }
    })();
    return {
      stop: () => {
        stopped = true;
        stopper.abort();
      },
      done,
    };
  }

  /** Entries of a directory, by name. @example const entries = await sandbox.files.list('/app') // [{ name, type, size }] */
  list(path: string): PagedList<SandboxFileEntry> {
    return new PagedList((page) =>
      this.http.call('sandboxFilesList', { params: { sandboxId: this.sandboxId }, query: { path, ...page } }),
    );
  }

  /** @example if (await sandbox.files.exists('/app/package.json')) { … } */
  async exists(path: string): Promise<boolean> {
    return (
      await this.http.call('sandboxFilesExists', {
        params: { sandboxId: this.sandboxId },
        query: { path },
      })
    ).exists;
  }

  /** Removes a file or a directory tree. @example await sandbox.files.remove('/tmp/build') */
  async remove(path: string): Promise<void> {
    await this.http.call('sandboxFilesRemove', { params: { sandboxId: this.sandboxId }, body: { path } });
  }

  /** Creates a directory and its parents. @example await sandbox.files.mkdir('/app/src') */
  async mkdir(path: string): Promise<void> {
    await this.http.call('sandboxFilesMkdir', { params: { sandboxId: this.sandboxId }, body: { path } });
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

/** A change under a watched directory. */
export type FileChange = Exclude<SandboxWatchEvent, { type: 'ready' }>;

export type StatusListener = (status: SandboxStatus, entry: SandboxLogEntry | undefined) => void;
export type LogListener = (entry: SandboxLogEntry) => void;

/** Output of a followed process: text per stream with the byte offset it started at, exit last. */
export type ProcessOutput =
  | { type: 'stdout' | 'stderr'; text: string; offset: number }
  | { type: 'exit'; exitCode: number; timedOut: boolean; signal?: string };

/**
 * A background process in a sandbox, by pid. Its output is kept (the last 1 MiB) so a handle made later,
 * even from another client, can replay it.
 *
 * @example
 * const server = await sandbox.exec('node server.js', { background: true });
 * for await (const part of server.output()) if (part.type === 'stdout' && part.text.includes('listening')) break;
 * await server.kill();
 */
export class ProcessHandle {
  constructor(
    private readonly http: HttpClient,
    private readonly sandboxId: string,
    readonly pid: number,
    private info: SandboxProcess,
  ) {}

  get command(): string {
    return this.info.command;
  }

  private params() {
    return { sandboxId: this.sandboxId, pid: String(this.pid) };
  }

  /** The process as the sandbox reports it now (running, exitCode, outputBytes). */
  async refresh(): Promise<SandboxProcess> {
    this.info = await this.http.call('sandboxProcessesGet', { params: this.params() });
    return this.info;
  }

  /** Its output from byte `since` on (default: all that is kept), then its exit. */
  async *output(options: { since?: number } = {}): AsyncGenerator<ProcessOutput> {
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const events = this.http.events(
      'sandboxProcessesOutput',
      { params: this.params(), query: { since: String(options.since ?? 0) } },
      { follow: true },
    );
    for await (const event of events) {
      if (event.type === 'exit') yield event;
      else {
        const text = decoders[event.type].decode(fromBase64(event.data), { stream: true });
        if (text) yield { type: event.type, text, offset: event.offset };
      }
    }
  }

  /** Waits for the process to end. @example const { exitCode } = await handle.wait() */
  async wait(): Promise<{ exitCode: number; timedOut: boolean; signal?: string }> {
    const since = (await this.refresh()).outputBytes;
    for await (const part of this.output({ since })) if (part.type === 'exit') return part;
    const info = await this.refresh();
    if (info.running) throw new TimeoutError(`lost track of process ${this.pid}`, { code: 'timeout' });
    return { exitCode: info.exitCode ?? -1, timedOut: false };
  }

  /** Calls back with output as it arrives, in the background. */
  follow(handlers: { onStdout?: (text: string) => void; onStderr?: (text: string) => void }): void {
    void (async () => {
      for await (const part of this.output()) {
        if (part.type === 'stdout') handlers.onStdout?.(part.text);
        else if (part.type === 'stderr') handlers.onStderr?.(part.text);
      }
    })().catch(() => {});
  }

  /** Sends a signal to it and everything it started. @example await handle.kill() // TERM */
  async kill(signal: 'TERM' | 'KILL' | 'INT' | 'HUP' | 'QUIT' | 'USR1' | 'USR2' | 'STOP' | 'CONT' = 'TERM') {
    await this.http.call('sandboxProcessesSignal', { params: this.params(), body: { signal } });
  }

  /** Writes to its stdin. @example await handle.sendStdin('y\n') */
  async sendStdin(data: string | Uint8Array, options: { eof?: boolean } = {}): Promise<void> {
    const bytes = typeof data === 'string' ? utf8(data) : data;
    await this.http.call('sandboxProcessesStdin', {
      params: this.params(),
      body: { data: toBase64(bytes), ...(options.eof ? { eof: true } : {}) },
    });
  }

  /** Sets the terminal size of a process started with `pty`. @example await shell.resize(100, 30) */
  async resize(cols: number, rows: number): Promise<void> {
    await this.http.call('sandboxProcessesResize', { params: this.params(), body: { cols, rows } });
  }

  /** Closes its stdin (end of input). */
  async closeStdin(): Promise<void> {
    await this.http.call('sandboxProcessesStdin', { params: this.params(), body: { eof: true } });
  }
}

/** Background processes of one sandbox. */
export class SandboxProcesses {
  constructor(
    private readonly http: HttpClient,
    private readonly sandboxId: string,
  ) {}

  /**
   * Starts a shell command in the background; with `pty` it runs on a pseudo-terminal (an interactive shell,
   * a REPL): its output is the terminal's, `sendStdin` types into it, `resize` changes its size.
   * @example const p = await sandbox.processes.start('npm run dev')
   * @example const shell = await sandbox.processes.start('bash', { pty: { cols: 120, rows: 40 } })
   */
  async start(
    command: string,
    options: Omit<ExecOptions, 'stdin' | 'background'> & { pty?: { cols: number; rows: number } } = {},
  ): Promise<ProcessHandle> {
    const info = await this.http.call('sandboxProcessesStart', {
      params: { sandboxId: this.sandboxId },
      body: {
        command,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.env ? { env: options.env } : {}),
        ...(options.timeout ? { timeoutMs: options.timeout } : {}),
        ...(options.pty ? { pty: options.pty } : {}),
      },
    });
    return new ProcessHandle(this.http, this.sandboxId, info.pid, info);
  }

  /** Running background processes and the last ones that ended, by start time. @example await sandbox.processes.list() */
  list(): PagedList<SandboxProcess> {
    return new PagedList((page) =>
      this.http.call('sandboxProcessesList', { params: { sandboxId: this.sandboxId }, query: page }),
    );
  }

  /** A handle on a process by pid, e.g. to reconnect to its output. @example await sandbox.processes.get(42) */
  async get(pid: number): Promise<ProcessHandle> {
    const info = await this.http.call('sandboxProcessesGet', {
      params: { sandboxId: this.sandboxId, pid: String(pid) },
    });
    return new ProcessHandle(this.http, this.sandboxId, pid, info);
  }
}

/** A sandbox's snapshots. */
export class SandboxSnapshots {
  constructor(
    private readonly http: HttpClient,
    private readonly sandboxId: string,
  ) {}

  /** Oldest first, with size and creation time. @example const snapshots = await sandbox.snapshots.list() */
  list(): PagedList<SandboxSnapshot> {
    return new PagedList((page) =>
      this.http.call('sandboxesSnapshotsList', { params: { sandboxId: this.sandboxId }, query: page }),
    );
  }

  /** Deletes a snapshot and its files. @example await sandbox.snapshots.delete(snapshot.id) */
  async delete(snapshotId: string): Promise<void> {
    await this.http.call('sandboxesSnapshotsDelete', { params: { sandboxId: this.sandboxId, snapshotId } });
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
    const record = await this.http.call('sandboxesCreate', { body: input }, { timeoutMs: createTimeoutMs });
    return new Sandbox(this.http, record);
  }

  /** @example const sandbox = await rt.sandboxes.get('sbx_…') */
  async get(id: string): Promise<Sandbox> {
    return new Sandbox(this.http, await this.http.call('sandboxesGet', { params: { sandboxId: id } }));
  }

  /**
   * Lists sandboxes, oldest first, optionally by status, project and metadata.
   * @example await rt.sandboxes.list({ status: 'running', metadata: { userId: 'u1' } })
   * @example for await (const sandbox of rt.sandboxes.list()) console.log(sandbox.id)
   */
  list(
    filter: { status?: SandboxStatus; projectId?: string; metadata?: Record<string, string> } = {},
  ): PagedList<Sandbox> {
    const query: Record<string, string> = {};
    if (filter.status) query.status = filter.status;
    if (filter.projectId) query.projectId = filter.projectId;
    for (const [key, value] of Object.entries(filter.metadata ?? {})) query[`metadata.${key}`] = value;
    return new PagedList((page) => this.http.call('sandboxesList', { query: { ...query, ...page } })).map(
      (record) => new Sandbox(this.http, record),
    );
  }
}
