import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ChannelError, DaemonChannel } from './channel.js';
import { hostTools } from './host.js';

/** An entry of a confined tree; a symlink is described as itself. */
export interface TreeEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  modifiedAt: string;
}

export interface TreeUsage {
  bytes: number;
  files: number;
  directories: number;
}

/** How far the file server may read ahead of what the reader of a file has taken. */
const readWindow = 8 << 20;

/** What the file server is sent in one frame, at most (its frames carry 1 MiB). */
const writeFrame = 1 << 20;

/**
 * Connections to the file server, used in turn: the server reads a connection's frames in order, so an upload
 * to a slow disk holds back the other operations on its connection, never those on the others.
 */
const connections = 4;

type Helper = { child: ChildProcess; channels: DaemonChannel[]; next: number };

/**
 * File operations on a host directory that sandboxes can write (workspaces), done without ever following a
 * symlink in it: Node has no openat2, so a check of a path followed by an open by name would be a race that
 * a sandbox swapping a directory for a symlink wins. Every operation goes to one long-lived process, the
 * daemon binary in host mode (daemon/hostroot.go), which resolves each path from a descriptor of the root
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and acts on the last name through its parent's
 * descriptor. Paths are the tree's own (`/` is `root`); one with a symlink anywhere in it is refused with
 * ChannelError code `symlink`, other failures have the daemon's codes (`not_found`, `is_directory`,
 * `not_directory`, `not_empty`, `already_exists`, `invalid`, `too_large`, …).
 *
 * The server listens on a socket in `runDir`, a host-only directory (never bound into a sandbox), and proves
 * itself with a per-start token like a sandbox's daemon. It is started on first use and again after it died.
 */
export class ConfinedTree {
  private helper: Helper | undefined;
  private starting: Promise<DaemonChannel> | undefined;
  private closed = false;

  constructor(
    readonly root: string,
    private readonly runDir: string,
  ) {}

  private channel(): Promise<DaemonChannel> {
    if (this.closed) return Promise.reject(new ChannelError('channel_closed', 'the confined file server is closed'));
    if (this.helper) return Promise.resolve(ConfinedTree.pick(this.helper));
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async start(): Promise<DaemonChannel> {
    const daemon = hostTools().daemon;
    if (!daemon) throw new Error('the runtools daemon is not built (scripts/build-daemon.sh builds it)');
    mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    chmodSync(this.runDir, 0o700);
    const socket = join(this.runDir, 'tree.sock');
    rmSync(socket, { force: true });
    const token = randomBytes(24).toString('base64url');
    const child = spawn(daemon, ['--serve-root', this.root, '--socket', socket], {
      // Its stdin is how it knows the control plane is gone: it exits when that closes.
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { RUNTOOLS_TREE_TOKEN: token },
    });
    let stderr = '';
    child.stderr?.on('data', (data: Buffer) => {
      stderr = (stderr + data.toString()).slice(-2000);
    });
    const channels = Array.from({ length: connections }, () => new DaemonChannel(socket, token));
    const helper: Helper = { child, channels, next: 0 };
    const ended = new Promise<never>((_, reject) => {
      const gone = (why: string) => {
        if (this.helper === helper) this.helper = undefined;
        for (const channel of channels) channel.close();
        reject(new ChannelError('channel_lost', `the confined file server ${why}: ${stderr.trim()}`));
      };
      child.once('error', (error) => gone(`did not start (${error.message})`));
      child.once('exit', (code, signal) => gone(`exited (${code ?? signal})`));
    });
    ended.catch(() => {});
    try {
      await Promise.race([Promise.all(channels.map((channel) => channel.ready(10_000))), ended]);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    child.unref();
    for (const stream of [child.stdin, child.stderr]) (stream as unknown as { unref?(): void } | null)?.unref?.();
    if (this.closed) {
      this.stop(helper);
      throw new ChannelError('channel_closed', 'the confined file server is closed');
    }
    this.helper = helper;
    return ConfinedTree.pick(helper);
  }

  private static pick(helper: Helper): DaemonChannel {
    helper.next = (helper.next + 1) % helper.channels.length;
    return helper.channels[helper.next] as DaemonChannel;
  }

  private async call<T>(request: Record<string, unknown>): Promise<T> {
    return (await (await this.channel()).call(request)) as T;
  }

  /** The last name of `path` as it is (a symlink is described, not followed). */
  stat(path: string): Promise<TreeEntry> {
    return this.call({ op: 'stat', path });
  }

  /** A directory's entries, unsorted. */
  async list(path: string): Promise<TreeEntry[]> {
    return (await this.call<{ entries: TreeEntry[] }>({ op: 'list', path })).entries;
  }

  /** A regular file's bytes as a stream that reads ahead a bounded amount; resolves once the file is open. */
  async read(path: string): Promise<{ body: ReadableStream<Uint8Array>; size: number }> {
    const channel = await this.channel();
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    // Set when the reader cancels: chunks still on their way are dropped.
    let cancelled = false;
    let delivered = 0;
    let acknowledged = 0;
    let opened: (size: number) => void = () => {};
    const size = new Promise<number>((resolve) => {
      opened = resolve;
    });
    const stream = channel.open(
      { op: 'read', path, window: readWindow },
      {
        onOut: (chunk) => {
          delivered += chunk.length;
          if (!cancelled) controller?.enqueue(chunk);
        },
        onEvent: (event) => {
          if (event.type === 'file') opened(Number(event.size));
        },
      },
    );
    const body = new ReadableStream<Uint8Array>(
      {
        start(started) {
          controller = started;
        },
        pull() {
          if (delivered <= acknowledged || stream.finished) return;
          void stream.write(String(delivered - acknowledged));
          acknowledged = delivered;
        },
        cancel() {
          cancelled = true;
          stream.cancel();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 2 << 20 }),
    );
    stream.result.then(
      () => cancelled || controller?.close(),
      (error: Error) => cancelled || controller?.error(error),
    );
    const failed = stream.result.then(() => {
      throw new ChannelError('invalid', `${path}: ended before it was opened`);
    });
    return { body, size: await Promise.race([size, failed]) };
  }

  /**
   * Writes a file from chunks into a new temporary file beside it, renamed over it when complete (parents
   * are made); a failure or a throw from `content` leaves the old file as it was. `limit`: the most bytes.
   */
  async write(path: string, content: AsyncIterable<Uint8Array>, limit = 0): Promise<TreeEntry> {
    const stream = (await this.channel()).open({ op: 'write', path, limit });
    // The server may refuse part way (too large, no space): that is reported below, after the sending stops.
    stream.result.catch(() => {});
    try {
      // HTTP bodies come in chunks of 16 to 64 KiB: gathered into frames of up to 1 MiB, they cost the server
      // (and the event loop) a fraction of the frames.
      let gathered: Buffer[] = [];
      let bytes = 0;
      const flush = async () => {
        const data = gathered.length === 1 ? (gathered[0] as Buffer) : Buffer.concat(gathered, bytes);
        gathered = [];
        bytes = 0;
        await stream.write(data);
      };
      for await (const chunk of content) {
        if (stream.finished) break;
        gathered.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
        bytes += chunk.length;
        if (bytes >= writeFrame) await flush();
      }
      if (bytes > 0 && !stream.finished) await flush();
      stream.end();
    } catch (error) {
      stream.cancel();
      await stream.result.catch(() => {});
      throw error;
    }
    return (await stream.result) as unknown as TreeEntry;
  }

  /** mkdir -p. */
  mkdir(path: string): Promise<TreeEntry> {
    return this.call({ op: 'mkdir', path });
  }

  /** Removes the last name of `path` (a symlink itself; a directory with everything in it). */
  async remove(path: string): Promise<void> {
    await this.call({ op: 'remove', path, recursive: true });
  }

  /** rename(2) (replacing a file at `to`), the target's parents made; a symlink at `to` is refused. */
  move(from: string, to: string): Promise<TreeEntry> {
    return this.call({ op: 'move', path: from, to });
  }

  /** cp -r to a new path (symlinks copied as symlinks; FIFOs, sockets and devices left out). */
  copy(from: string, to: string): Promise<TreeEntry> {
    return this.call({ op: 'copy', path: from, to });
  }

  /** Bytes, files (anything but a directory) and directories under a directory. */
  usage(path: string): Promise<TreeUsage> {
    return this.call({ op: 'usage', path });
  }

  private stop(helper: Helper): void {
    for (const channel of helper.channels) channel.close();
    helper.child.stdin?.end();
    helper.child.kill();
  }

  /** Stops the server for good. */
  close(): void {
    this.closed = true;
    if (this.helper) this.stop(this.helper);
    this.helper = undefined;
  }
}
