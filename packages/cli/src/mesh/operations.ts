import { constants, existsSync, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { type MeshOperation, maxMeshMessageBytes } from '@runtools/spec';
import { type Confinement, type ExecResult, runCommand, unconfinedMessage } from './exec.js';
import { OperationError, realPath, resolveInRoot } from './root-paths.js';

/** What operations run against: the root its owner chose (real), how bash is confined, the home it hides. */
export interface OperationContext {
  root: string;
  home: string | null;
  confinement: Confinement;
}

/**
 * The largest file read_file returns: 16 MiB, or less so that its base64 (4 bytes for every 3) still fits in one
 * channel message with room for the envelope.
 */
export const maxReadBytes = Math.min(16 * 1024 * 1024, Math.floor((maxMeshMessageBytes - 64 * 1024) / 4) * 3);

function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

/** The error an operation answers for a file system failure. */
function fromFileSystem(error: unknown, path: string): OperationError {
  if (error instanceof OperationError) return error;
  if (isErrno(error, 'ENOENT')) return new OperationError('not_found', `${path} does not exist`);
  if (isErrno(error, 'EISDIR')) return new OperationError('is_directory', `${path} is a directory`);
  if (isErrno(error, 'ENOTDIR')) return new OperationError('not_directory', `${path} is not a directory`);
  if (isErrno(error, 'ELOOP')) return new OperationError('outside_root', `${path} changed into a symbolic link`);
  const message = error instanceof Error ? error.message : String(error);
  return new OperationError('failed', message);
}

/**
 * Linux: a path is checked with its links resolved, then acted on through descriptors, from the root's down, each
 * component opened with O_NOFOLLOW through /proc/self/fd. A command of the agent's that swaps a directory for a
 * link to outside between the check and the act (bash runs in the root at the same time) is then refused, not
 * followed: taken by name, the act would follow it (a check-then-open by name is a race, not a check).
 * Elsewhere (no /proc) the path is taken by name, its last component not followed.
 */
const descriptorPaths = process.platform === 'linux' && existsSync('/proc/self/fd');

/** A name that the kernel resolves from the directory open as `directory`, wherever its path now leads. */
function at(directory: FileHandle, name?: string): string {
  return name === undefined ? `/proc/self/fd/${directory.fd}` : `/proc/self/fd/${directory.fd}/${name}`;
}

const directoryFlags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * The directory `path` (real, the root or below it) opened from the root one component at a time, none of
 * them a link; with `create`, missing ones are made on the way.
 */
async function openBeneath(root: string, path: string, options: { create?: boolean } = {}): Promise<FileHandle> {
  const parts = relative(root, path)
    .split(sep)
    .filter((part) => part !== '');
  if (parts.includes('..')) throw new OperationError('outside_root', `${path} is outside ${root}`);
  let directory = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    for (const [index, part] of parts.entries()) {
      let next: FileHandle;
      try {
        next = await open(at(directory, part), directoryFlags);
      } catch (error) {
        // O_NOFOLLOW | O_DIRECTORY on a link answers ENOTDIR: say what it is.
        if (isErrno(error, 'ENOTDIR') || isErrno(error, 'ELOOP')) {
          const stats = await lstat(at(directory, part)).catch(() => undefined);
          if (stats?.isSymbolicLink())
            throw new OperationError(
              'outside_root',
              `${join(root, ...parts.slice(0, index + 1))} changed into a symbolic link`,
            );
        }
        if (!options.create || !isErrno(error, 'ENOENT')) throw error;
        await mkdir(at(directory, part)).catch((made: unknown) => {
          if (!isErrno(made, 'EEXIST')) throw made;
        });
        next = await open(at(directory, part), directoryFlags);
      }
      await directory.close();
      directory = next;
    }
    return directory;
  } catch (error) {
    await directory.close();
    throw error;
  }
}

/** Opens a checked path (real, inside the root): through descriptors from the root where there are some. */
async function openChecked(root: string, real: string, flags: number, mode?: number): Promise<FileHandle> {
  if (!descriptorPaths || real === root) return open(real, flags, mode);
  const directory = await openBeneath(root, dirname(real));
  try {
    return await open(at(directory, basename(real)), flags, mode);
  } finally {
    await directory.close();
  }
}

async function readFile(context: OperationContext, path: string): Promise<{ content: string }> {
  const { real, exists } = resolveInRoot(context.root, path);
  if (!exists) throw new OperationError('not_found', `${path} does not exist`);
  // O_NOFOLLOW: the path was checked with its links resolved; a link swapped in since is refused, not followed.
  const handle = await openChecked(
    context.root,
    real,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  );
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new OperationError('is_directory', `${path} is a directory`);
    if (!stats.isFile()) throw new OperationError('failed', `${path} is not a regular file`);
    if (stats.size > maxReadBytes) {
      throw new OperationError('too_large', `${path} has ${stats.size} bytes; at most ${maxReadBytes} can be read`);
    }
    const content = await handle.readFile();
    if (content.length > maxReadBytes) throw new OperationError('too_large', `${path} grew past ${maxReadBytes} bytes`);
    return { content: content.toString('base64') };
  } finally {
    await handle.close();
  }
}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

async function writeFile(context: OperationContext, path: string, content: string): Promise<{ size: number }> {
  if (!base64Pattern.test(content)) throw new OperationError('failed', 'content is not base64');
  const { real, exists } = resolveInRoot(context.root, path);
  if (!exists) {
    // Only the file is made: its directory must exist (make_directory makes directories), and be the one checked.
    const parent = realPath(dirname(real));
    if (!parent.exists) throw new OperationError('not_found', `the directory of ${path} does not exist`);
    if (parent.real !== dirname(real)) throw new OperationError('outside_root', `${path} leads through a link`);
  }
  const data = Buffer.from(content, 'base64');
  // O_NONBLOCK: a FIFO the agent made there fails (ENXIO) rather than holding the write open for ever.
  const handle = await openChecked(
    context.root,
    real,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    0o644,
  );
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  return { size: data.length };
}

async function makeDirectory(context: OperationContext, path: string): Promise<{ path: string }> {
  const { real, exists } = resolveInRoot(context.root, path);
  if (exists) {
    const stats = await lstat(real);
    if (!stats.isDirectory()) throw new OperationError('not_directory', `${path} exists and is not a directory`);
    return { path: real };
  }
  if (descriptorPaths) await (await openBeneath(context.root, real, { create: true })).close();
  else await mkdir(real, { recursive: true });
  return { path: real };
}

function entryType(stats: Stats): 'file' | 'directory' | 'symlink' | 'other' {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'directory';
  if (stats.isFile()) return 'file';
  return 'other';
}

async function listFiles(
  context: OperationContext,
  path: string,
): Promise<{ entries: { name: string; type: 'file' | 'directory' | 'symlink' | 'other'; size: number }[] }> {
  const { real, exists } = resolveInRoot(context.root, path);
  if (!exists) throw new OperationError('not_found', `${path} does not exist`);
  const stats = await lstat(real);
  if (!stats.isDirectory()) throw new OperationError('not_directory', `${path} is not a directory`);
  const directory = descriptorPaths ? await openBeneath(context.root, real) : undefined;
  try {
    const base = directory ? at(directory) : real;
    const names = (await readdir(base)).sort();
    const entries = [];
    for (const name of names) {
      try {
        const entry = await lstat(join(base, name));
        entries.push({ name, type: entryType(entry), size: entry.size });
      } catch {
        // removed while listing
      }
    }
    return { entries };
  } finally {
    await directory?.close();
  }
}

async function exec(
  context: OperationContext,
  operation: Extract<MeshOperation, { op: 'exec' }>,
  signal: AbortSignal | undefined,
): Promise<ExecResult> {
  if (context.confinement.kind === 'refused') throw new OperationError('unconfined', unconfinedMessage);
  const { real, exists } = resolveInRoot(context.root, operation.cwd ?? context.root);
  if (!exists) throw new OperationError('not_found', `${operation.cwd} does not exist`);
  const stats = await lstat(real);
  if (!stats.isDirectory()) throw new OperationError('not_directory', `${operation.cwd} is not a directory`);
  return runCommand({
    root: context.root,
    home: context.home,
    command: operation.command,
    cwd: real,
    timeoutMs: operation.timeoutMs,
    confinement: context.confinement,
    ...(signal ? { signal } : {}),
  });
}

/** Runs one operation inside the root. Throws an OperationError (with its code) when refused or failed. */
export async function runOperation(
  context: OperationContext,
  operation: MeshOperation,
  signal?: AbortSignal,
): Promise<unknown> {
  const path = operation.op === 'exec' ? (operation.cwd ?? context.root) : operation.path;
  try {
    switch (operation.op) {
      case 'exec':
        return await exec(context, operation, signal);
      case 'read_file':
        return await readFile(context, operation.path);
      case 'write_file':
        return await writeFile(context, operation.path, operation.content);
      case 'make_directory':
        return await makeDirectory(context, operation.path);
      case 'list_files':
        return await listFiles(context, operation.path);
    }
  } catch (error) {
    throw fromFileSystem(error, path);
  }
}
