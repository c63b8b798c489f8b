import { ChannelError, type DaemonChannel } from '@runtools/runtime';
import type { SandboxFile, SandboxFileEntry, SandboxWatchEvent } from '@runtools/spec';
import type { Actor } from '../auth/actor.js';
import { compareKeys, memoryPage, type Page, type PageRequest } from '../db/pagination.js';
import { DomainError } from '../errors.js';
import { EventQueue } from './event-queue.js';
import { channelApiError, type SandboxChannels } from './sandbox-channels.js';

const downloadChunkBytes = 1024 * 1024;
/** How much of a refused upload's remaining body is read (and dropped) so its client sees the answer. */
const uploadDrainBytes = 64 * 1024 * 1024;
const uploadDrainMs = 10_000;

/** Names in the locale's collation, which can tie distinct names; code point order breaks the tie. */
function byName(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  return String(a[0]).localeCompare(String(b[0])) || compareKeys(a, b);
}

/** Files in a running sandbox, through its daemon: read, write, stream up and down, list, move, watch. */
export class SandboxFiles {
  constructor(
    private readonly channels: SandboxChannels,
    /** Largest file upload, in bytes. */
    private readonly maxUploadBytes: number,
  ) {}

  /** An operation on a path in the sandbox, its failures reported as API errors naming the path. */
  private files<T>(auth: Actor, id: string, path: string, action: (channel: DaemonChannel) => Promise<T>) {
    return this.channels.onChannel(auth, id, { path }, action);
  }

  async readFile(auth: Actor, id: string, path: string): Promise<SandboxFile> {
    const content = await this.files(auth, id, path, (channel) => channel.readFileBuffer(path));
    return { path, content: content.toString('base64'), size: content.length };
  }

  async writeFile(auth: Actor, id: string, path: string, content: Buffer): Promise<{ path: string; exists: boolean }> {
    await this.files(auth, id, path, (channel) => channel.writeFile(path, content));
    return { path, exists: true };
  }

  /** A directory's entries by name (the locale's collation, code points where it ties). */
  async listFiles(auth: Actor, id: string, path: string): Promise<SandboxFileEntry[]> {
    const entries = await this.files(auth, id, path, (channel) => channel.list(path));
    return entries
      .map(({ name, type, size, mode, modifiedAt }) => ({ name, type, size, mode, modifiedAt }))
      .sort((a, b) => byName([a.name], [b.name]));
  }

  /** A page of a directory's entries, in `listFiles`' order. */
  async listFilesPage(auth: Actor, id: string, path: string, page: PageRequest): Promise<Page<SandboxFileEntry>> {
    return memoryPage(await this.listFiles(auth, id, path), page, {
      arity: 1,
      keyOf: (entry) => [entry.name],
      compare: byName,
    });
  }

  async pathExists(auth: Actor, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    const exists = await this.files(auth, id, path, (channel) =>
      channel.stat(path).then(
        () => true,
        (error: unknown) => {
          if (error instanceof ChannelError && error.code === 'not_found') return false;
          throw error;
        },
      ),
    );
    return { path, exists };
  }

  async removePath(auth: Actor, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    if (path.replace(/\/+$/, '') === '')
      throw new DomainError('validation_failed', 'refusing to remove the sandbox root', { path });
    await this.files(auth, id, path, (channel) =>
      channel.remove(path).catch((error: unknown) => {
        // Removing what is not there is done (like rm -f).
        if (!(error instanceof ChannelError && error.code === 'not_found')) throw error;
      }),
    );
    return { path, exists: false };
  }

  /** A file's bytes as a stream, read from the sandbox a megabyte at a time as the client takes them. */
  async downloadFile(auth: Actor, id: string, path: string) {
    const info = await this.files(auth, id, path, (channel) => channel.stat(path, true));
    if (info.type === 'dir') throw new DomainError('validation_failed', `${path} is a directory`, { path });
    const channel = await this.channels.channelOf(auth, id);
    const size = info.size;
    let offset = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (offset >= size) {
          controller.close();
          return;
        }
        const chunks: Buffer[] = [];
        await channel.readFile(path, (chunk) => chunks.push(chunk), {
          offset,
          length: Math.min(downloadChunkBytes, size - offset),
        });
        const chunk = Buffer.concat(chunks);
        if (chunk.length === 0) {
          // The file shrank while it was being sent: the response ends short, which the client sees.
          controller.error(new Error(`${path} shrank while it was being read`));
          return;
        }
        offset += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return { body, size, contentType: 'application/octet-stream' };
  }

  /**
   * Streams an upload into the sandbox: it lands in a temporary file renamed over the target when complete, so
   * an upload refused past the size limit, or cut off, leaves the old file as it was.
   */
  async uploadFile(
    auth: Actor,
    id: string,
    path: string,
    body: AsyncIterable<Uint8Array> | undefined,
    append: boolean,
  ): Promise<{ path: string; size: number }> {
    const limit = this.maxUploadBytes;
    let total = 0;
    const reader = body?.[Symbol.asyncIterator]();
    async function* chunks(): AsyncGenerator<Buffer> {
      if (!reader) return;
      for (;;) {
        const { done, value } = await reader.next();
        if (done) return;
        total += value.length;
        if (total > limit)
          throw new DomainError('payload_too_large', `the upload is larger than ${limit} bytes`, { maxBytes: limit });
        yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      }
    }
    try {
      const written = await this.files(auth, id, path, (channel) => channel.writeFile(path, chunks(), { append }));
      return { path, size: written.bytes };
    } catch (error) {
      // Refused part way (past the size limit, the sandbox's disk full): read what the client is still sending,
      // up to a point (64 MiB, 10 s), so that it gets this answer rather than a broken connection; a client
      // that sends more than that loses its connection.
      if (reader) {
        let drained = 0;
        const deadline = Date.now() + uploadDrainMs;
        while (drained < uploadDrainBytes && Date.now() < deadline) {
          const next = await reader.next().catch(() => ({ done: true as const, value: undefined }));
          if (next.done) break;
          drained += next.value.length;
        }
      }
      throw error;
    }
  }

  async statFile(auth: Actor, id: string, path: string) {
    const entry = await this.files(auth, id, path, (channel) => channel.stat(path));
    return {
      path: entry.path,
      name: entry.name,
      type: entry.type,
      size: entry.size,
      mode: entry.mode,
      modifiedAt: entry.modifiedAt,
      ...(entry.target ? { target: entry.target } : {}),
    };
  }

  async moveFile(auth: Actor, id: string, from: string, to: string): Promise<{ path: string; exists: boolean }> {
    await this.files(auth, id, from, (channel) => channel.move(from, to));
    return { path: to, exists: true };
  }

  /** Filesystem events under a directory until the client goes away; answers once the watch is in place. */
  async watchFiles(
    auth: Actor,
    id: string,
    path: string,
    recursive: boolean,
  ): Promise<AsyncIterable<SandboxWatchEvent>> {
    const channel = await this.channels.channelOf(auth, id);
    const events = new EventQueue<SandboxWatchEvent>(() => watcher.stop());
    const pending: SandboxWatchEvent[] = [];
    let started = false;
    const watcher = channel.watch(path, recursive, (event) => (started ? events.push(event) : pending.push(event)));
    watcher.done.then(
      () => events.end(),
      () => events.end(),
    );
    await watcher.ready;
    // A watch that failed to start (no such directory) is an error answer, not an empty stream.
    await Promise.race([
      watcher.done.then(
        () => {},
        (error: unknown) => {
          throw channelApiError(error, { sandboxId: id, path });
        },
      ),
      new Promise((resolve) => setTimeout(resolve, 0)),
    ]);
    events.push({ type: 'ready', path });
    started = true;
    for (const event of pending) events.push(event);
    return events;
  }

  async makeDirectory(auth: Actor, id: string, path: string): Promise<{ path: string; exists: boolean }> {
    await this.files(auth, id, path, (channel) => channel.mkdir(path));
    return { path, exists: true };
  }
}
