import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { cp, lstat, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { WorkspaceEntry } from '@runtools/spec';
import busboy from 'busboy';
import { ApiError } from '../http/errors.js';

const maxNameBytes = 255;
const maxPathBytes = 4096;

function invalid(path: string, why: string): ApiError {
  return new ApiError('validation_failed', `invalid path "${path.replace(/\0/g, '\\0')}": ${why}`, {
    path: path.replace(/\0/g, '\\0'),
  });
}

/**
 * A move or copy refused by what is already at its target (a directory onto a file or back, a non-empty
 * directory, a copy onto an existing file): the caller's conflict, not a server failure.
 */
function clash(error: NodeJS.ErrnoException, path: string): ApiError | undefined {
  // A fifo, socket or device a sandbox made: not something a copy makes again.
  if (error.code === 'ERR_FS_CP_UNKNOWN' || error.code === 'ERR_FS_CP_FIFO_PIPE' || error.code === 'ERR_FS_CP_SOCKET')
    return new ApiError('validation_failed', `${path}: only files, directories and symlinks are copied`, { path });
  const codes = [
    'EEXIST',
    'ENOTEMPTY',
    'ENOTDIR',
    'EISDIR',
    'ERR_FS_CP_EEXIST',
    'ERR_FS_CP_DIR_TO_NON_DIR',
    'ERR_FS_CP_NON_DIR_TO_DIR',
  ];
  if (!error.code || !codes.includes(error.code)) return undefined;
  return new ApiError('file_exists', `${path} exists and cannot be replaced by this`, { path });
}

/**
 * Files of one workspace on the host, by workspace paths (`/` is the workspace's root). Every path is checked
 * before use: no NUL, no `.` or `..` segments, no over-long names, and what it resolves to (following any
 * symlink a sandbox may have made) must stay inside the workspace; final components are opened without
 * following symlinks.
 */
export class WorkspaceFiles {
  constructor(private readonly root: string) {}

  /** The host path for a workspace path, checked lexically. */
  private lexical(path: string): { host: string; clean: string } {
    if (path.includes('\0')) throw invalid(path, 'contains NUL');
    if (Buffer.byteLength(path) > maxPathBytes) throw invalid(path, `longer than ${maxPathBytes} bytes`);
    const parts = path.split('/').filter((part) => part !== '');
    for (const part of parts) {
      if (part === '..' || part === '.') throw invalid(path, 'no . or .. segments');
      if (Buffer.byteLength(part) > maxNameBytes) throw invalid(path, `a name longer than ${maxNameBytes} bytes`);
    }
    return { host: join(this.root, ...parts), clean: `/${parts.join('/')}` };
  }

  private async inside(host: string, path: string): Promise<void> {
    const rootReal = await realpath(this.root);
    let real: string;
    try {
      real = await realpath(host);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        throw new ApiError('file_not_found', `no such file: ${path}`, { path });
      throw error;
    }
    if (real !== rootReal && !real.startsWith(`${rootReal}/`)) throw invalid(path, 'resolves outside the workspace');
  }

  /** An existing path, resolved and confined. */
  private async existing(path: string): Promise<{ host: string; clean: string }> {
    const target = this.lexical(path);
    await this.inside(target.host, path);
    return target;
  }

  /** A path to create: its parent must exist (or is created) inside the workspace; it must not be a symlink. */
  private async creatable(path: string, makeParents: boolean): Promise<{ host: string; clean: string }> {
    const target = this.lexical(path);
    if (target.clean === '/') throw invalid(path, 'is the workspace root');
    const parent = dirname(target.host);
    if (makeParents) {
      await this.confinedMkdir(dirname(target.clean));
    }
    await this.inside(parent, dirname(target.clean));
    const existing = await lstat(target.host).catch(() => undefined);
    if (existing?.isSymbolicLink()) throw invalid(path, 'is a symlink');
    return target;
  }

  /** mkdir -p, one component at a time, never through a symlink. */
  private async confinedMkdir(path: string): Promise<void> {
    const { clean } = this.lexical(path);
    let current = this.root;
    for (const part of clean.split('/').filter(Boolean)) {
      current = join(current, part);
      const info = await lstat(current).catch(() => undefined);
      if (!info)
        await mkdir(current, { mode: 0o777 }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
      else if (info.isSymbolicLink()) throw invalid(path, `${part} is a symlink`);
      else if (!info.isDirectory()) throw invalid(path, `${part} is not a directory`);
    }
  }

  private static describe(path: string, info: Awaited<ReturnType<typeof lstat>>): WorkspaceEntry {
    return {
      name: basename(path) || '/',
      path,
      type: info.isFile() ? 'file' : info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : 'other',
      size: Number(info.size),
      mode: Number(info.mode) & 0o7777,
      modifiedAt: info.mtime.toISOString(),
    };
  }

  async list(path: string, showHidden: boolean): Promise<WorkspaceEntry[]> {
    const { host, clean } = await this.existing(path);
    const info = await stat(host);
    if (!info.isDirectory()) throw new ApiError('validation_failed', `${clean} is not a directory`, { path: clean });
    const entries: WorkspaceEntry[] = [];
    for (const name of (await readdir(host)).sort()) {
      if (!showHidden && name.startsWith('.')) continue;
      const entryInfo = await lstat(join(host, name)).catch(() => undefined);
      if (entryInfo) entries.push(WorkspaceFiles.describe(clean === '/' ? `/${name}` : `${clean}/${name}`, entryInfo));
    }
    return entries;
  }

  async info(path: string): Promise<WorkspaceEntry> {
    const { host, clean } = this.lexical(path);
    await this.inside(dirname(host), dirname(clean));
    const info = await lstat(host).catch(() => undefined);
    if (!info) throw new ApiError('file_not_found', `no such file: ${clean}`, { path: clean });
    return WorkspaceFiles.describe(clean, info);
  }

  /** A file's bytes as a stream; the file is opened without following a final symlink. */
  async read(path: string): Promise<{ body: ReadableStream<Uint8Array>; size: number; name: string }> {
    const { host, clean } = await this.existing(path);
    const handle = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ELOOP' ? invalid(path, 'is a symlink') : error;
    });
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw new ApiError('validation_failed', `${clean} is not a file`, { path: clean });
    }
    // 1 MiB reads: each chunk crosses two stream adapters on its way out, so fewer, larger ones go faster.
    const stream = handle.createReadStream({ autoClose: true, highWaterMark: 1024 * 1024 });
    return { body: Readable.toWeb(stream) as ReadableStream<Uint8Array>, size: info.size, name: basename(clean) };
  }

  /**
   * Writes a file from a stream: into a temporary file beside it, renamed over the target when complete, so a
   * failed or refused upload leaves the old file as it was.
   */
  async write(path: string, body: AsyncIterable<Uint8Array>, limit: number): Promise<WorkspaceEntry> {
    const { host, clean } = await this.creatable(path, true);
    // Random: two parts of one form with the same name must not collide on it.
    const temporary = join(dirname(host), `.${basename(host)}.upload-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      let written = 0;
      const file = createWriteStream(temporary, { flags: 'wx', mode: 0o666 });
      await pipeline(
        (async function* () {
          for await (const chunk of body) {
            written += chunk.length;
            if (written > limit)
              throw new ApiError('payload_too_large', `the upload is larger than ${limit} bytes`, { maxBytes: limit });
            yield chunk;
          }
        })(),
        file,
      );
      await rename(temporary, host);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return this.info(clean);
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
      throw new ApiError('validation_failed', `the multipart content type is malformed: ${(error as Error).message}`, {
        contentType,
      });
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
      throw new ApiError('validation_failed', `the multipart body is malformed: ${error.message}`);
    });
    const entries = await Promise.all(saved);
    if (entries.length === 0) throw new ApiError('validation_failed', 'the form has no file parts');
    return entries;
  }

  async mkdir(path: string): Promise<WorkspaceEntry> {
    const { clean } = this.lexical(path);
    await this.confinedMkdir(clean);
    return this.info(clean);
  }

  async remove(path: string): Promise<void> {
    const { host, clean } = this.lexical(path);
    if (clean === '/') throw invalid(path, 'is the workspace root');
    await this.inside(dirname(host), dirname(clean));
    const info = await lstat(host).catch(() => undefined);
    if (!info) throw new ApiError('file_not_found', `no such file: ${clean}`, { path: clean });
    // A symlink is removed itself, never what it points to.
    await rm(host, { recursive: info.isDirectory(), force: false });
  }

  async move(from: string, to: string): Promise<WorkspaceEntry> {
    const source = this.lexical(from);
    if (source.clean === '/') throw invalid(from, 'is the workspace root');
    await this.inside(dirname(source.host), dirname(source.clean));
    if (!(await lstat(source.host).catch(() => undefined)))
      throw new ApiError('file_not_found', `no such file: ${source.clean}`, { path: source.clean });
    const target = await this.creatable(to, true);
    if (target.clean === source.clean || target.clean.startsWith(`${source.clean}/`))
      throw invalid(to, 'is inside what is being moved');
    await rename(source.host, target.host).catch((error: NodeJS.ErrnoException) => {
      throw clash(error, target.clean) ?? error;
    });
    return this.info(target.clean);
  }

  async copy(from: string, to: string): Promise<WorkspaceEntry> {
    const source = await this.existing(from);
    const target = await this.creatable(to, true);
    if (target.clean === source.clean || target.clean.startsWith(`${source.clean}/`))
      throw invalid(to, 'is inside what is being copied');
    // Symlinks are copied as symlinks (never followed out of the workspace).
    await cp(source.host, target.host, {
      recursive: true,
      verbatimSymlinks: true,
      errorOnExist: true,
      force: false,
    }).catch((error: NodeJS.ErrnoException) => {
      throw clash(error, target.clean) ?? error;
    });
    return this.info(target.clean);
  }
}
