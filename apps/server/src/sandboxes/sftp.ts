import { posix } from 'node:path';
import { ChannelError, type DaemonChannel, type FileAttributes, type FileEntry } from '@runtools/runtime';
import ssh2, { type Attributes, type SFTPWrapper } from 'ssh2';

// ssh2 is CommonJS whose exports Node cannot list for named ESM imports.
const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp;
const home = '/root';
const maxReadBytes = 256 * 1024;
const maxQueuedBytes = 64 * 1024 * 1024;
const typeBits = { file: 0o100000, dir: 0o040000, symlink: 0o120000, other: 0 } as const;

/** Chunks handed to the daemon's streamed write as SFTP WRITE requests arrive. */
class ChunkQueue implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  /** Bytes received and not yet handed on. */
  bytes = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  /** The upload stops with this error (the file is not put in place). */
  fail(error: Error): void {
    this.failure = error;
    this.chunks.length = 0;
    this.bytes = 0;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk) {
        this.bytes -= chunk.length;
        yield chunk;
      } else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

type Handle =
  | { kind: 'read'; path: string; replied: Promise<void> }
  | {
      kind: 'write';
      path: string;
      next: number;
      queue: ChunkQueue;
      done: Promise<unknown>;
      failed?: Error;
      /** Set through the handle while writing: applied once the file is in place. */
      attributes?: FileAttributes;
    }
  | { kind: 'dir'; path: string; listed: boolean };

function attributes(entry: FileEntry): Attributes {
  const seconds = Math.floor(Date.parse(entry.modifiedAt) / 1000) || 0;
  return {
    mode: typeBits[entry.type] | (entry.mode & 0o7777),
    uid: 0,
    gid: 0,
    size: entry.size,
    atime: seconds,
    mtime: seconds,
  };
}

/** The attributes an SFTP client asked to set, as the daemon takes them (size changes are not supported). */
function requested(attrs: Attributes): FileAttributes {
  const out: FileAttributes = {};
  if (attrs.mode !== undefined) out.perm = attrs.mode & 0o7777;
  if (attrs.uid !== undefined) out.uid = attrs.uid;
  if (attrs.gid !== undefined) out.gid = attrs.gid;
  if (attrs.atime !== undefined) out.atime = Number(attrs.atime);
  if (attrs.mtime !== undefined) out.mtime = Number(attrs.mtime);
  return out;
}

function longname(entry: FileEntry): string {
  const perms = entry.mode & 0o777;
  const letters = [...'rwxrwxrwx'].map((letter, index) => (perms & (1 << (8 - index)) ? letter : '-')).join('');
  const type = entry.type === 'dir' ? 'd' : entry.type === 'symlink' ? 'l' : '-';
  return `${type}${letters} 1 root root ${String(entry.size).padStart(8)} ${entry.modifiedAt.slice(0, 16)} ${entry.name}`;
}

/**
 * SFTP for the SSH gateway (what `sftp` and OpenSSH 9's `scp` speak), on the in-sandbox daemon's file
 * operations: reads by offset, writes streamed in order (an upload replaces its file atomically when it is
 * closed), listings, stat, mkdir, remove, rename. Relative paths are from /root.
 */
export function serveSftp(sftp: SFTPWrapper, channel: () => Promise<DaemonChannel>): void {
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  const resolve = (path: string) => posix.resolve(home, path || '.');
  const handleBuffer = (id: number) => {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(id);
    return buffer;
  };
  const handleOf = (buffer: Buffer) => (buffer.length === 4 ? handles.get(buffer.readUInt32BE(0)) : undefined);
  const fail = (reqid: number, error: unknown) => {
    const code =
      error instanceof ChannelError && error.code === 'not_found' ? STATUS_CODE.NO_SUCH_FILE : STATUS_CODE.FAILURE;
    sftp.status(reqid, code, (error as Error).message);
  };
  const attempt = (reqid: number, work: () => Promise<void>) => void work().catch((error) => fail(reqid, error));
  // A client that breaks the SFTP protocol (a bad length, an unknown packet type): ssh2 reports it here and
  // closes the channel; an 'error' without a listener would end the process.
  sftp.on('error', () => {});
  // Uploads the client left open end with it, unfinished: the sandbox drops them rather than waiting forever.
  sftp.on('close', () => {
    for (const handle of handles.values())
      if (handle.kind === 'write') handle.queue.fail(new Error('the SFTP session ended before the file was closed'));
    handles.clear();
  });
  // The client is done (it ended its side): exit status 0 (scp takes it as its own) and close ours. ssh2's
  // SFTP stream has no public exit(), so the status goes through its protocol object.
  sftp.on('end', () => {
    const channel = sftp as unknown as {
      _protocol: { exitStatus(id: number, status: number): void };
      outgoing: { id: number; state: string };
    };
    if (channel.outgoing.state === 'open') channel._protocol.exitStatus(channel.outgoing.id, 0);
    sftp.end();
  });

  sftp.on('REALPATH', (reqid, path) => {
    const absolute = resolve(path);
    sftp.name(reqid, [{ filename: absolute, longname: absolute, attrs: {} as Attributes }]);
  });
  const stat = (reqid: number, path: string, follow: boolean) =>
    attempt(reqid, async () => sftp.attrs(reqid, attributes(await (await channel()).stat(resolve(path), follow))));
  sftp.on('STAT', (reqid, path) => stat(reqid, path, true));
  sftp.on('LSTAT', (reqid, path) => stat(reqid, path, false));
  sftp.on('FSTAT', (reqid, buffer) => {
    const handle = handleOf(buffer);
    if (!handle) return sftp.status(reqid, STATUS_CODE.FAILURE, 'unknown handle');
    attempt(reqid, async () => sftp.attrs(reqid, attributes(await (await channel()).stat(handle.path, true))));
  });
  sftp.on('OPEN', (reqid, filename, flags) =>
    attempt(reqid, async () => {
      const path = resolve(filename);
      const id = nextHandle++;
      if (flags & OPEN_MODE.WRITE) {
        const queue = new ChunkQueue();
        const done = (await channel()).writeFile(path, queue, { append: Boolean(flags & OPEN_MODE.APPEND) });
        const handle: Handle = { kind: 'write', path, next: 0, queue, done };
        done.catch((error: Error) => {
          handle.failed = error;
        });
        handles.set(id, handle);
      } else {
        const entry = await (await channel()).stat(path, true);
        if (entry.type === 'dir') throw new Error(`${path} is a directory`);
        handles.set(id, { kind: 'read', path, replied: Promise.resolve() });
      }
      sftp.handle(reqid, handleBuffer(id));
    }),
  );
  sftp.on('READ', (reqid, buffer, offset, length) => {
    const handle = handleOf(buffer);
    if (handle?.kind !== 'read') return sftp.status(reqid, STATUS_CODE.FAILURE, 'not open for reading');
    // Fetched at once, answered in the order asked: OpenSSH's client cuts a download short (at the first
    // gap) when a server reorders its reads.
    const chunks: Buffer[] = [];
    // A read is at most 256 KiB, as OpenSSH's server answers (clients read on after a short one): a client's
    // 4 GiB read must not become 4 GiB held in this process.
    const fetched = channel().then((daemon) =>
      daemon.readFile(handle.path, (chunk) => chunks.push(chunk), { offset, length: Math.min(length, maxReadBytes) }),
    );
    fetched.catch(() => {});
    handle.replied = handle.replied
      .then(() =>
        fetched.then(
          () => {
            const data = Buffer.concat(chunks);
            if (data.length === 0) sftp.status(reqid, STATUS_CODE.EOF);
            else sftp.data(reqid, data);
          },
          (error) => fail(reqid, error),
        ),
      )
      // Answering a client that is gone must not leave a rejection behind, nor stop the reads after it.
      .catch(() => {});
  });
  sftp.on('WRITE', (reqid, buffer, offset, data) => {
    const handle = handleOf(buffer);
    if (handle?.kind !== 'write') return sftp.status(reqid, STATUS_CODE.FAILURE, 'not open for writing');
    if (handle.failed) return fail(reqid, handle.failed);
    if (offset !== handle.next)
      return sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED, 'writes must follow each other (no seeking)');
    // A client writing far ahead of the sandbox (OpenSSH keeps about 2 MiB in flight) is stopped, not buffered.
    if (handle.queue.bytes + data.length > maxQueuedBytes) {
      handle.failed = new Error(`more than ${maxQueuedBytes} bytes written ahead of the sandbox`);
      handle.queue.fail(handle.failed);
      return fail(reqid, handle.failed);
    }
    handle.next += data.length;
    handle.queue.push(Buffer.from(data));
    sftp.status(reqid, STATUS_CODE.OK);
  });
  sftp.on('CLOSE', (reqid, buffer) => {
    const handle = handleOf(buffer);
    if (!handle) return sftp.status(reqid, STATUS_CODE.FAILURE, 'unknown handle');
    handles.delete(buffer.readUInt32BE(0));
    if (handle.kind !== 'write') return sftp.status(reqid, STATUS_CODE.OK);
    handle.queue.end();
    attempt(reqid, async () => {
      await handle.done;
      if (handle.attributes) await (await channel()).setattr(handle.path, handle.attributes);
      sftp.status(reqid, STATUS_CODE.OK);
    });
  });
  sftp.on('OPENDIR', (reqid, path) =>
    attempt(reqid, async () => {
      const absolute = resolve(path);
      const entry = await (await channel()).stat(absolute, true);
      if (entry.type !== 'dir') throw new Error(`${absolute} is not a directory`);
      const id = nextHandle++;
      handles.set(id, { kind: 'dir', path: absolute, listed: false });
      sftp.handle(reqid, handleBuffer(id));
    }),
  );
  sftp.on('READDIR', (reqid, buffer) => {
    const handle = handleOf(buffer);
    if (handle?.kind !== 'dir') return sftp.status(reqid, STATUS_CODE.FAILURE, 'not a directory handle');
    if (handle.listed) return sftp.status(reqid, STATUS_CODE.EOF);
    handle.listed = true;
    attempt(reqid, async () => {
      const entries = await (await channel()).list(handle.path);
      sftp.name(
        reqid,
        entries.map((entry) => ({ filename: entry.name, longname: longname(entry), attrs: attributes(entry) })),
      );
    });
  });
  const simple = (reqid: number, work: (daemon: DaemonChannel) => Promise<void>) =>
    attempt(reqid, async () => {
      await work(await channel());
      sftp.status(reqid, STATUS_CODE.OK);
    });
  sftp.on('MKDIR', (reqid, path) => simple(reqid, (daemon) => daemon.mkdir(resolve(path), false)));
  sftp.on('RMDIR', (reqid, path) => simple(reqid, (daemon) => daemon.remove(resolve(path), false)));
  sftp.on('REMOVE', (reqid, path) => simple(reqid, (daemon) => daemon.remove(resolve(path), false)));
  sftp.on('RENAME', (reqid, from, to) => simple(reqid, (daemon) => daemon.move(resolve(from), resolve(to))));
  // chmod, chown, times (scp -p, sftp put -p); a size (truncate) is refused rather than ignored.
  const setstat = (reqid: number, attrs: Attributes, apply: (wanted: FileAttributes) => Promise<unknown>) => {
    if (attrs.size !== undefined)
      return sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED, 'changing a size (truncate) is not supported');
    simple(reqid, async () => {
      await apply(requested(attrs));
    });
  };
  sftp.on('SETSTAT', (reqid, path, attrs) =>
    setstat(reqid, attrs, async (wanted) => (await channel()).setattr(resolve(path), wanted)),
  );
  sftp.on('FSETSTAT', (reqid, buffer, attrs) => {
    const handle = handleOf(buffer);
    if (!handle) return sftp.status(reqid, STATUS_CODE.FAILURE, 'unknown handle');
    setstat(reqid, attrs, async (wanted) => {
      // A file being uploaded is not in place until it is closed: its attributes wait for that.
      if (handle.kind === 'write') handle.attributes = { ...handle.attributes, ...wanted };
      else await (await channel()).setattr(handle.path, wanted);
    });
  });
}
