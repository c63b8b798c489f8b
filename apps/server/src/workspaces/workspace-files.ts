import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChannelError, type ConfinedTree, type TreeEntry } from '@runtools/runtime';
import type { WorkspaceEntry } from '@runtools/spec';
import busboy from 'busboy';
import { memoryPage, type Page, type PageRequest } from '../db/pagination.js';
import { DomainError } from '../errors.js';

const maxNameBytes = 255;
const maxPathBytes = 4096;

function invalid(path: string, why: string): DomainError {
  return new DomainError('validation_failed', `invalid path "${path.replace(/\0/g, '\\0')}": ${why}`, {
    path: path.replace(/\0/g, '\\0'),
  });
}

/**
 * What a refusal of the confined file server means to the caller. `target`: a move or copy refused by what
 * is already at its target (a directory onto a file or back, a non-empty directory, a copy onto an existing
 * file) is the caller's conflict, not a server failure. Anything else (the server gone) stays an error.
 */
function refusal(error: unknown, path: string, target?: string): unknown {
  if (!(error instanceof ChannelError)) return error;
  switch (error.code) {
    case 'not_found':
      return new DomainError('file_not_found', `no such file: ${path}`, { path });
    case 'symlink':
      return invalid(path, 'is a symlink or passes through one');
    case 'already_exists':
    case 'not_empty':
    case 'not_directory':
    case 'is_directory':
      if (target)
        return new DomainError('file_exists', `${target} exists and cannot be replaced by this`, { path: target });
      return invalid(path, error.code === 'is_directory' ? 'is a directory' : `${error.code.replace('_', ' ')}`);
    case 'invalid':
      return invalid(target ?? path, error.message.replace(/^[^:]*: /, ''));
  }
  return error;
}

/**
 * Files of one workspace on the host, by workspace paths (`/` is the workspace's root). Paths are checked
 * lexically here (no NUL, no `.` or `..` segments, no over-long names); every operation is then done by the
 * storage's confined file server (ConfinedTree: fd-relative, never following a symlink, so a sandbox that
 * swaps a directory for a symlink while a request runs makes it fail, never reach outside). A symlink in a
 * workspace is listed and described as a symlink and can be removed, moved or renamed itself; reading,
 * writing or listing through one is refused.
 */
export class WorkspaceFiles {
  constructor(
    private readonly tree: ConfinedTree,
    private readonly id: string,
  ) {}

  /** The clean workspace path, checked lexically, and its path in the storage's tree. */
  private lexical(path: string): { clean: string; inTree: string } {
    if (path.includes('\0')) throw invalid(path, 'contains NUL');
    if (Buffer.byteLength(path) > maxPathBytes) throw invalid(path, `longer than ${maxPathBytes} bytes`);
    const parts = path.split('/').filter((part) => part !== '');
    for (const part of parts) {
      if (part === '..' || part === '.') throw invalid(path, 'no . or .. segments');
      if (Buffer.byteLength(part) > maxNameBytes) throw invalid(path, `a name longer than ${maxNameBytes} bytes`);
    }
    return { clean: `/${parts.join('/')}`, inTree: `/${[this.id, ...parts].join('/')}` };
  }

  /** Runs an operation of the tree, its refusals as API errors. */
  private async confined<T>(path: string, action: () => Promise<T>, target?: string): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw refusal(error, path, target);
    }
  }

  /** mkdir -p, never through a symlink. */
  private async confinedMkdir(clean: string): Promise<void> {
    await this.confined(clean, () => this.tree.mkdir(this.lexical(clean).inTree));
  }

  private static describe(path: string, entry: TreeEntry): WorkspaceEntry {
    return {
      name: basename(path) || '/',
      path,
      type: entry.type,
      size: entry.size,
      mode: entry.mode,
      modifiedAt: entry.modifiedAt,
    };
  }

  /** A directory's entries by name (code point order). */
  async list(path: string, showHidden: boolean): Promise<WorkspaceEntry[]> {
    const { clean, inTree } = this.lexical(path);
    const entries = await this.confined(clean, () => this.tree.list(inTree));
    return entries
      .filter((entry) => showHidden || !entry.name.startsWith('.'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((entry) => WorkspaceFiles.describe(clean === '/' ? `/${entry.name}` : `${clean}/${entry.name}`, entry));
  }

  /** A page of a directory's entries, in `list`'s order. */
  async listPage(path: string, showHidden: boolean, page: PageRequest): Promise<Page<WorkspaceEntry>> {
    return memoryPage(await this.list(path, showHidden), page, { arity: 1, keyOf: (entry) => [entry.name] });
  }

  async info(path: string): Promise<WorkspaceEntry> {
    const { clean, inTree } = this.lexical(path);
    return WorkspaceFiles.describe(clean, await this.confined(clean, () => this.tree.stat(inTree)));
  }

  /** A regular file's bytes as a stream; a symlink is refused, never followed. */
  async read(path: string): Promise<{ body: ReadableStream<Uint8Array>; size: number; name: string }> {
    const { clean, inTree } = this.lexical(path);
    const file = await this.confined(clean, () => this.tree.read(inTree));
    return { ...file, name: basename(clean) };
  }

  /**
   * Writes a file from a stream: into a temporary file beside it, renamed over the target when complete, so a
   * failed or refused upload leaves the old file as it was. Parents are made; a symlink there is refused.
   */
  async write(path: string, body: AsyncIterable<Uint8Array>, limit: number): Promise<WorkspaceEntry> {
    const { clean, inTree } = this.lexical(path);
    if (clean === '/') throw invalid(path, 'is the workspace root');
    const tooLarge = () =>
      new DomainError('payload_too_large', `the upload is larger than ${limit} bytes`, { maxBytes: limit });
    let written = 0;
    const limited = (async function* () {
      for await (const chunk of body) {
        written += chunk.length;
        if (written > limit) throw tooLarge();
        yield chunk;
      }
    })();
    try {
      return WorkspaceFiles.describe(clean, await this.tree.write(inTree, limited, limit));
    } catch (error) {
      if (error instanceof ChannelError && error.code === 'too_large') throw tooLarge();
      throw refusal(error, clean);
    }
  }

  /**
   * Saves every file part of a multipart/form-data body into `directory` under its own (checked) file name,
   * each streamed and replaced atomically like `write`.
   */
  async writeForm(
    directory: string,
    contentType: string,
    body: AsyncIterable<Uint8Array>,
    limit: number,
  ): Promise<WorkspaceEntry[]> {
    const { clean } = this.lexical(directory);
    // The directory first (made, never through a symlink, never a file): a refused one answers before the body
    // is read, instead of leaving the form waiting on a part nobody reads.
    await this.confinedMkdir(clean);
    let form: busboy.Busboy;
    try {
      form = busboy({
        headers: { 'content-type': contentType },
        limits: { files: 1000, fileSize: limit + 1, fields: 1000, fieldSize: 64 * 1024 },
      });
    } catch (error) {
      // No boundary, or not a form type busboy knows.
      throw new DomainError(
        'validation_failed',
        `the multipart content type is malformed: ${(error as Error).message}`,
        {
          contentType,
        },
      );
    }
    const saved: Promise<WorkspaceEntry>[] = [];
    // Each outcome gets a handler at once (it is awaited after the body is read) so none goes unhandled.
    const keep = (outcome: Promise<WorkspaceEntry>) => {
      outcome.catch(() => {});
      saved.push(outcome);
    };
    form.on('file', (_field, stream, info) => {
      // Busboy destroys a part with the form's error (a body cut short): handled here, its write still sees it.
      stream.on('error', () => {});
      const name = info.filename;
      if (!name || name.includes('/') || name === '.' || name === '..') {
        stream.resume();
        keep(Promise.reject(invalid(name ?? '', 'not a plain file name')));
        return;
      }
      // Read without being destroyed when its write fails, and then drained: busboy goes on to the form's end
      // only once every part has ended.
      const outcome = this.write(
        clean === '/' ? `/${name}` : `${clean}/${name}`,
        stream.iterator({ destroyOnReturn: false }),
        limit,
      );
      outcome.catch(() => stream.resume());
      keep(outcome);
    });
    await pipeline(Readable.from(body), form).catch((error: Error) => {
      throw new DomainError('validation_failed', `the multipart body is malformed: ${error.message}`);
    });
    const entries = await Promise.all(saved);
    if (entries.length === 0) throw new DomainError('validation_failed', 'the form has no file parts');
    return entries;
  }

  async mkdir(path: string): Promise<WorkspaceEntry> {
    const { clean, inTree } = this.lexical(path);
    return WorkspaceFiles.describe(clean, await this.confined(clean, () => this.tree.mkdir(inTree)));
  }

  /** Removes a file, a directory with everything in it, or a symlink itself. */
  async remove(path: string): Promise<void> {
    const { clean, inTree } = this.lexical(path);
    if (clean === '/') throw invalid(path, 'is the workspace root');
    await this.confined(clean, () => this.tree.remove(inTree));
  }

  async move(from: string, to: string): Promise<WorkspaceEntry> {
    const source = this.lexical(from);
    const target = this.lexical(to);
    if (source.clean === '/') throw invalid(from, 'is the workspace root');
    if (target.clean === '/') throw invalid(to, 'is the workspace root');
    if (target.clean === source.clean || target.clean.startsWith(`${source.clean}/`))
      throw invalid(to, 'is inside what is being moved');
    const entry = await this.confined(source.clean, () => this.tree.move(source.inTree, target.inTree), target.clean);
    return WorkspaceFiles.describe(target.clean, entry);
  }

  /** cp -r to a new path; symlinks are copied as symlinks (never followed). */
  async copy(from: string, to: string): Promise<WorkspaceEntry> {
    const source = this.lexical(from);
    const target = this.lexical(to);
    if (target.clean === '/') throw invalid(to, 'is the workspace root');
    if (target.clean === source.clean || target.clean.startsWith(`${source.clean}/`) || source.clean === '/')
      throw invalid(to, 'is inside what is being copied');
    const entry = await this.confined(source.clean, () => this.tree.copy(source.inTree, target.inTree), target.clean);
    return WorkspaceFiles.describe(target.clean, entry);
  }
}
