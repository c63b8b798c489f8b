import { timingSafeEqual } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/**
 * The host side of the in-sandbox daemon's protocol (packages/runtime/daemon/proto.go): one Unix socket
 * connection per sandbox carries many streams. A frame is a 4-byte big-endian length of what follows, a
 * 4-byte stream id, a 1-byte type and the payload. A `connect` (TCP to a port inside the sandbox) takes a
 * connection of its own, which carries the TCP bytes unframed once the daemon has connected.
 */
const Frame = {
  open: 1,
  in: 2,
  inEnd: 3,
  control: 4,
  cancel: 5,
  out: 16,
  err: 17,
  event: 18,
  end: 19,
  hello: 20,
} as const;

const maxFramePayload = 1 << 20;

/** Linux's O_PATH: a descriptor naming a file without opening it (Node's fs.constants lacks it). */
const O_PATH = 0o10000000;

/**
 * Connects to the daemon's socket without trusting the path: the socket lives in a directory the sandbox can
 * write, so its last component may be a symlink planted there to lead the host to another sandbox's socket
 * or a host service. It is opened with O_PATH | O_NOFOLLOW (a symlink is opened as itself, and refused), checked
 * to be a socket, and connected to through the descriptor (/proc/self/fd/N). The directories above it are
 * the host's own. The daemon then has to prove itself (see `authenticate`).
 */
function connectSocket(socketPath: string): Socket {
  let fd: number;
  try {
    fd = openSync(socketPath, O_PATH | constants.O_NOFOLLOW);
  } catch (error) {
    throw new ChannelError('channel_unavailable', `sandbox daemon unreachable: ${(error as Error).message}`);
  }
  try {
    if (!fstatSync(fd).isSocket())
      throw new ChannelError('channel_unavailable', `sandbox daemon unreachable: ${socketPath} is not a socket`);
    // libuv makes the connect() call before this returns, so the descriptor may be closed right after.
    return connect(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }
}

/** A frame's parts, or undefined while `buffer` does not hold a whole one; throws on a malformed length. */
function parseFrame(buffer: Buffer): { id: number; kind: number; payload: Buffer; rest: Buffer } | undefined {
  if (buffer.length < 4) return undefined;
  const length = buffer.readUInt32BE(0);
  if (length < 5 || length > maxFramePayload + 5)
    throw new ChannelError('channel_protocol', `the sandbox daemon sent a frame of ${length} bytes`);
  if (buffer.length < 4 + length) return undefined;
  return {
    id: buffer.readUInt32BE(4),
    kind: buffer[8] as number,
    payload: buffer.subarray(9, 4 + length),
    rest: buffer.subarray(4 + length),
  };
}

/** A JSON object the daemon sent; anything else is a protocol violation (the daemon is the sandbox's). */
function parseObject(payload: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new ChannelError('channel_protocol', 'the sandbox daemon sent a frame that is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ChannelError('channel_protocol', 'the sandbox daemon sent a frame that is not a JSON object');
  return value as Record<string, unknown>;
}

/**
 * Connects and waits for the daemon's hello, whose token must be this sandbox's: the host sends nothing
 * before it knows whom it talks to. Resolves with the socket (paused: neither flowing nor read from) and
 * whatever the daemon sent after its hello.
 */
function authenticate(
  socketPath: string,
  token: string,
  timeoutMs = 10_000,
): Promise<{ socket: Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    if (!token) {
      reject(new ChannelError('channel_unavailable', 'the sandbox has no daemon token (it is gone)'));
      return;
    }
    let socket: Socket;
    try {
      socket = connectSocket(socketPath);
    } catch (error) {
      reject(error);
      return;
    }
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => fail(new ChannelError('channel_unavailable', 'the sandbox daemon did not say hello')),
      timeoutMs,
    );
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
    };
    const fail = (error: Error) => {
      cleanup();
      socket.on('error', () => {});
      socket.destroy();
      reject(error);
    };
    socket.once('error', (error) =>
      fail(new ChannelError('channel_unavailable', `sandbox daemon unreachable: ${error.message}`)),
    );
    socket.once('close', () => fail(new ChannelError('channel_lost', 'the sandbox daemon closed the connection')));
    const onReadable = () => {
      for (let chunk = socket.read() as Buffer | null; chunk; chunk = socket.read() as Buffer | null)
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      let frame: ReturnType<typeof parseFrame>;
      try {
        frame = parseFrame(buffered);
        if (!frame) return;
        if (frame.id !== 0 || frame.kind !== Frame.hello)
          throw new ChannelError('channel_protocol', 'the sandbox daemon did not begin with its hello');
        const claimed = Buffer.from(String(parseObject(frame.payload).token ?? ''));
        const expected = Buffer.from(token);
        if (claimed.length !== expected.length || !timingSafeEqual(claimed, expected))
          throw new ChannelError('channel_unauthenticated', "the peer on the sandbox's socket is not its daemon");
      } catch (error) {
        fail(error as Error);
        return;
      }
      cleanup();
      resolve({ socket, rest: frame.rest });
    };
    socket.on('readable', onReadable);
  });
}

/** A failure the daemon reported (`not_found`, `is_directory`, `process_not_found`, …) or a lost channel. */
export class ChannelError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

export interface StreamHandlers {
  onOut?(chunk: Buffer): void;
  onErr?(chunk: Buffer): void;
  onEvent?(event: Record<string, unknown>): void;
}

export interface ChannelStream {
  /** The daemon's result; rejects with a ChannelError when it reports a failure or the channel is lost. */
  readonly result: Promise<Record<string, unknown>>;
  /** Sends input (stdin, file content, socket data); resolves when the socket can take more. */
  write(data: Buffer | string): Promise<void>;
  /** No more input. */
  end(): void;
  control(message: { signal?: string; resize?: { cols: number; rows: number } }): void;
  /** Ends the stream early: a foreground process is killed, a transfer abandoned. */
  cancel(): void;
  /** Whether the daemon has already answered (so more input is pointless). */
  readonly finished: boolean;
}

interface Pending {
  handlers: StreamHandlers;
  resolve(result: Record<string, unknown>): void;
  reject(error: Error): void;
}

export class DaemonChannel {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private closed = false;

  /**
   * `socketPath`: the daemon's socket (its last component may be the sandbox's doing, never the directories
   * above it). `token`: what the daemon must say in its hello (see daemon/hello.go).
   */
  constructor(
    readonly socketPath: string,
    readonly token: string,
  ) {}

  /** Connects (again, after a lost connection); retries until `timeoutMs` while the daemon starts. */
  async ready(timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        await this.connection();
        return;
      } catch (error) {
        if (performance.now() + delay > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private connection(): Promise<Socket> {
    if (this.closed) return Promise.reject(new ChannelError('channel_closed', 'the sandbox channel is closed'));
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= authenticate(this.socketPath, this.token).then(
      ({ socket, rest }) => {
        this.connecting = undefined;
        if (this.closed) {
          socket.destroy();
          throw new ChannelError('channel_closed', 'the sandbox channel is closed');
        }
        socket.on('error', () => {});
        socket.on('data', (data: Buffer) => this.receive(socket, data));
        socket.once('close', () => this.lost(socket));
        this.socket = socket;
        if (rest.length) this.receive(socket, rest);
        return socket;
      },
      (error: Error) => {
        this.connecting = undefined;
        throw error;
      },
    );
    return this.connecting;
  }

  private lost(
    socket: Socket,
    error: Error = new ChannelError('channel_lost', 'the connection to the sandbox daemon was lost'),
  ): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.buffered = [];
    this.bufferedBytes = 0;
    for (const stream of this.pending.values()) stream.reject(error);
    this.pending.clear();
  }

  /** Frames from the daemon; a malformed one ends the connection (the daemon is the sandbox's, not ours). */
  private receive(socket: Socket, data: Buffer): void {
    if (this.socket !== socket) return;
    this.buffered.push(data);
    this.bufferedBytes += data.length;
    try {
      while (this.bufferedBytes >= 4) {
        let head = this.buffered[0] as Buffer;
        if (head.length < 9 && this.buffered.length > 1) {
          head = Buffer.concat(this.buffered);
          this.buffered = [head];
        }
        if (head.length < 4) return;
        const length = head.readUInt32BE(0);
        if (length < 5 || length > maxFramePayload + 5)
          throw new ChannelError('channel_protocol', `the sandbox daemon sent a frame of ${length} bytes`);
        if (this.bufferedBytes < 4 + length) return;
        if (head.length < 4 + length) {
          head = Buffer.concat(this.buffered);
          this.buffered = [head];
        }
        const frame = parseFrame(head) as NonNullable<ReturnType<typeof parseFrame>>;
        this.buffered[0] = frame.rest;
        if (frame.rest.length === 0) this.buffered.shift();
        this.bufferedBytes -= 4 + length;
        this.deliver(frame.id, frame.kind, frame.payload);
      }
    } catch (error) {
      this.lost(socket, error as Error);
      socket.destroy();
    }
  }

  private deliver(id: number, kind: number, payload: Buffer): void {
    const stream = this.pending.get(id);
    if (!stream) return;
    if (kind === Frame.out) stream.handlers.onOut?.(payload);
    else if (kind === Frame.err) stream.handlers.onErr?.(payload);
    else if (kind === Frame.event) {
      const event = parseObject(payload);
      stream.handlers.onEvent?.(event);
    } else if (kind === Frame.end) {
      const result = parseObject(payload);
      this.pending.delete(id);
      const failure = result.error as { code?: unknown; message?: unknown } | undefined;
      if (failure)
        stream.reject(
          new ChannelError(
            typeof failure.code === 'string' ? failure.code : 'daemon_error',
            typeof failure.message === 'string' ? failure.message : 'failed',
          ),
        );
      else stream.resolve(result);
    }
  }

  private send(socket: Socket, id: number, kind: number, payload: Buffer): boolean {
    let ok = true;
    for (let offset = 0; offset === 0 || offset < payload.length; offset += maxFramePayload) {
      const part = payload.subarray(offset, offset + maxFramePayload);
      const header = Buffer.allocUnsafe(9);
      header.writeUInt32BE(5 + part.length, 0);
      header.writeUInt32BE(id, 4);
      header[8] = kind;
      ok = socket.write(part.length ? Buffer.concat([header, part]) : header) && ok;
      if (payload.length === 0) break;
    }
    return ok;
  }

  /** Opens a stream for one operation. */
  open(request: Record<string, unknown>, handlers: StreamHandlers = {}): ChannelStream {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xfffffff0 ? 1 : this.nextId + 1;
    let settled = false;
    const socketReady = this.connection();
    const result = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.pending.set(id, {
        handlers,
        resolve: (value) => {
          settled = true;
          resolve(value);
        },
        reject: (error) => {
          settled = true;
          reject(error);
        },
      });
      socketReady.then(
        (socket) => {
          if (this.pending.has(id)) this.send(socket, id, Frame.open, Buffer.from(JSON.stringify(request)));
        },
        (error: Error) => {
          this.pending.delete(id);
          settled = true;
          reject(error);
        },
      );
    });
    const channel = this;
    return {
      result,
      get finished() {
        return settled;
      },
      async write(data) {
        const socket = await socketReady;
        if (settled) return;
        const payload = typeof data === 'string' ? Buffer.from(data) : data;
        if (!channel.send(socket, id, Frame.in, payload)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              socket.off('drain', done);
              socket.off('close', done);
              resolve();
            };
            socket.on('drain', done);
            socket.on('close', done);
          });
        }
      },
      end() {
        socketReady.then(
          (socket) => !settled && channel.send(socket, id, Frame.inEnd, Buffer.alloc(0)),
          () => {},
        );
      },
      control(message) {
        socketReady.then(
          (socket) => !settled && channel.send(socket, id, Frame.control, Buffer.from(JSON.stringify(message))),
          () => {},
        );
      },
      cancel() {
        socketReady.then(
          (socket) => !settled && channel.send(socket, id, Frame.cancel, Buffer.alloc(0)),
          () => {},
        );
      },
    };
  }

  /** One request, one result, no streaming. */
  call(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.open(request).result;
  }

  /** Runs a command in the foreground: output as it arrives, the exit status at the end. */
  exec(request: ProcessRequest, handlers: ProcessHandlers = {}): RunningProcess {
    return this.process({ op: 'exec', ...request }, handlers);
  }

  /** Starts a background process and resolves with its pid; its output is kept for `attach`. */
  async spawn(request: ProcessRequest): Promise<number> {
    const result = await this.call({ op: 'spawn', ...request });
    return result.pid as number;
  }

  /** Follows a background process: its output from byte `since` on, then its exit. */
  attach(pid: number, since: number, handlers: ProcessHandlers = {}): RunningProcess {
    return this.process({ op: 'attach', pid, since }, handlers);
  }

  /** Writes to a background process's stdin, closing it afterwards when `eof`. */
  async stdin(pid: number, data: Buffer, eof: boolean): Promise<void> {
    const stream = this.open({ op: 'stdin', pid, append: eof });
    if (data.length > 0) await stream.write(data);
    stream.end();
    await stream.result;
  }

  /** Sets the terminal size of a background process started with `pty`. */
  async resize(pid: number, cols: number, rows: number): Promise<void> {
    await this.call({ op: 'resize', pid, pty: { cols, rows } });
  }

  async kill(pid: number, signal = 'TERM'): Promise<void> {
    await this.call({ op: 'kill', pid, signal });
  }

  async processes(): Promise<BackgroundProcess[]> {
    return (await this.call({ op: 'ps' })).processes as BackgroundProcess[];
  }

  private process(request: Record<string, unknown>, handlers: ProcessHandlers): RunningProcess {
    let pid: (value: number) => void = () => {};
    const started = new Promise<number>((resolve) => {
      pid = resolve;
    });
    const stream = this.open(request, {
      ...(handlers.onStdout ? { onOut: handlers.onStdout } : {}),
      ...(handlers.onStderr ? { onErr: handlers.onStderr } : {}),
      onEvent: (event) => {
        if (event.type === 'started') pid(event.pid as number);
      },
    });
    return {
      pid: started,
      done: stream.result as unknown as Promise<ProcessOutcome>,
      write: (data) => stream.write(data),
      closeStdin: () => stream.end(),
      signal: (signal) => stream.control({ signal }),
      resize: (cols, rows) => stream.control({ resize: { cols, rows } }),
      cancel: () => stream.cancel(),
    };
  }

  /** A file's content, streamed in chunks; rejects `not_found` / `is_directory`. */
  async readFile(path: string, onChunk: (chunk: Buffer) => void, range: { offset?: number; length?: number } = {}) {
    return (await this.open({ op: 'read', path, ...range }, { onOut: onChunk }).result) as { bytes: number };
  }

  async readFileBuffer(path: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await this.readFile(path, (chunk) => chunks.push(chunk));
    return Buffer.concat(chunks);
  }

  /** Writes a file from chunks (atomically replacing it unless appending); parents are created. */
  async writeFile(
    path: string,
    content: Buffer | string | AsyncIterable<Buffer>,
    options: { append?: boolean; mode?: number } = {},
  ): Promise<{ bytes: number }> {
    const stream = this.open({ op: 'write', path, append: options.append ?? false, mode: options.mode ?? 0 });
    // The daemon may refuse part way (no space): that is reported below, after the sending stops.
    stream.result.catch(() => {});
    try {
      if (typeof content === 'string' || Buffer.isBuffer(content)) {
        const data = typeof content === 'string' ? Buffer.from(content) : content;
        for (let offset = 0; offset < data.length && !stream.finished; offset += 256 << 10)
          await stream.write(data.subarray(offset, offset + (256 << 10)));
      } else {
        for await (const chunk of content) {
          if (stream.finished) break;
          await stream.write(chunk);
        }
      }
      stream.end();
    } catch (error) {
      stream.cancel();
      await stream.result.catch(() => {});
      throw error;
    }
    return (await stream.result) as { bytes: number };
  }

  async list(path: string): Promise<FileEntry[]> {
    return (await this.call({ op: 'list', path })).entries as FileEntry[];
  }

  /** A path's type, size, mode and time; `follow` describes what a final symlink points to instead. */
  async stat(path: string, follow = false): Promise<FileEntry> {
    return (await this.call({ op: 'stat', path, follow })) as unknown as FileEntry;
  }

  async mkdir(path: string, recursive = true): Promise<void> {
    await this.call({ op: 'mkdir', path, recursive });
  }

  async remove(path: string, recursive = true): Promise<void> {
    await this.call({ op: 'remove', path, recursive });
  }

  async move(from: string, to: string): Promise<void> {
    await this.call({ op: 'move', path: from, to });
  }

  /** Changes a path's owner, permission bits or times (those given); resolves with the entry afterwards. */
  async setattr(path: string, attributes: FileAttributes): Promise<FileEntry> {
    return (await this.call({ op: 'setattr', path, ...attributes })) as unknown as FileEntry;
  }

  /** Filesystem events under a directory until `stop` is called; `ready` resolves once watching. */
  watch(path: string, recursive: boolean, onEvent: (event: WatchEvent) => void) {
    let ready: () => void = () => {};
    const watching = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const stream = this.open(
      { op: 'watch', path, recursive },
      {
        onEvent: (event) => {
          if (event.type === 'ready') ready();
          else onEvent(event as unknown as WatchEvent);
        },
      },
    );
    stream.result.then(ready, ready);
    return {
      ready: Promise.race([watching, stream.result.then(() => {})]),
      done: stream.result,
      stop: () => stream.cancel(),
    };
  }

  /**
   * A TCP connection to a port inside the sandbox on a daemon connection of its own: once the daemon has
   * connected it, the Unix socket carries the TCP bytes unframed (half-closes passed on), so a proxy can pipe
   * it like any socket. Rejects with `port_closed` when nothing listens there. What dev URLs and SSH port
   * forwarding ride on.
   */
  async tunnel(port: number): Promise<Socket> {
    if (this.closed) throw new ChannelError('channel_closed', 'the sandbox channel is closed');
    const { socket, rest } = await authenticate(this.socketPath, this.token);
    return new Promise<Socket>((resolve, reject) => {
      let buffered: Buffer = rest;
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      socket.once('error', (error) =>
        fail(new ChannelError('channel_unavailable', `sandbox daemon unreachable: ${error.message}`)),
      );
      socket.once('close', () => fail(new ChannelError('channel_lost', 'the sandbox daemon closed the connection')));
      this.send(socket, 1, Frame.open, Buffer.from(JSON.stringify({ op: 'connect', port })));
      // Read with 'readable' (not 'data') so that the socket is handed over neither flowing nor paused: whoever
      // takes it starts the flow by reading, piping or listening, and no byte after the event is lost.
      const onReadable = () => {
        for (let chunk = socket.read() as Buffer | null; chunk; chunk = socket.read() as Buffer | null)
          buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        let frame: ReturnType<typeof parseFrame>;
        let payload: Record<string, unknown>;
        try {
          frame = parseFrame(buffered);
          if (!frame) return;
          payload = parseObject(frame.payload);
        } catch (error) {
          fail(error as Error);
          return;
        }
        socket.off('readable', onReadable);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        if (frame.kind === Frame.event && payload.type === 'connected') {
          if (frame.rest.length) socket.unshift(frame.rest);
          resolve(socket);
          return;
        }
        const failure = payload.error as { code?: unknown; message?: unknown } | undefined;
        fail(
          new ChannelError(
            typeof failure?.code === 'string' ? failure.code : 'daemon_error',
            typeof failure?.message === 'string' ? failure.message : 'connect failed',
          ),
        );
      };
      socket.on('readable', onReadable);
    });
  }

  /** Closes the connection for good (the sandbox is going away). */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.lost(this.socket as Socket);
  }
}

export interface ProcessRequest {
  argv: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Killed (the whole process group, SIGKILL) after this long; reported as `timedOut`. */
  timeoutMs?: number;
  /** Run on a pseudo-terminal of this size (output arrives as stdout). */
  pty?: { cols: number; rows: number };
}

export interface ProcessHandlers {
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
}

export interface ProcessOutcome {
  pid: number;
  /** Absent when the stream was cancelled or detached before the process ended. */
  exitCode?: number;
  timedOut: boolean;
  signal?: string;
  /** The stream was cancelled: a foreground process was killed, an attached one left running. */
  cancelled?: boolean;
  detached?: boolean;
}

/** The exit code of a process run in the foreground; one its caller cancelled was killed, as a shell reports it. */
export function exitCodeOf(outcome: ProcessOutcome): number {
  return outcome.exitCode ?? 128 + 9;
}

/** What `setattr` can change; times are seconds since the epoch. */
export interface FileAttributes {
  perm?: number;
  atime?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
}

export interface RunningProcess {
  pid: Promise<number>;
  done: Promise<ProcessOutcome>;
  write(data: Buffer | string): Promise<void>;
  closeStdin(): void;
  signal(signal: string): void;
  resize(cols: number, rows: number): void;
  cancel(): void;
}

export interface BackgroundProcess {
  pid: number;
  argv: string[];
  running: boolean;
  exitCode?: number;
  startedAt: string;
  endedAt?: string;
  outputBytes: number;
}

export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  modifiedAt: string;
  target?: string;
}

export interface WatchEvent {
  type: 'create' | 'write' | 'remove' | 'chmod';
  path: string;
  isDir: boolean;
}
