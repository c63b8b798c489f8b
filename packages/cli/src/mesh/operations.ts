import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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

async function readFile(context: OperationContext, path: string): Promise<{ content: string }> {
  const { real, exists } = resolveInRoot(context.root, path);
  if (!exists) throw new OperationError('not_found', `${path} does not exist`);
  // O_NOFOLLOW: the path was checked with its links resolved; a link swapped in since is refused, not followed.
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
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
  const handle = await open(
    real,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
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
  await mkdir(real, { recursive: true });
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
  const names = (await readdir(real)).sort();
  const entries = [];
  for (const name of names) {
    try {
      const entry = await lstat(join(real, name));
      entries.push({ name, type: entryType(entry), size: entry.size });
    } catch {
      // removed while listing
    }
  }
  return { entries };
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
