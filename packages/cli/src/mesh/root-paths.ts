import { lstatSync, readlinkSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { MeshOperationErrorCode } from '@runtools/spec';
import type { z } from 'zod';

type ErrorCode = z.infer<typeof MeshOperationErrorCode>;

/** An operation refused or failed, with the code the control plane (and the model) sees. */
export class OperationError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

/** Whether `path` (real, absolute) is the root or below it. */
export function isInside(root: string, path: string): boolean {
  if (root === sep) return path.startsWith(sep);
  return path === root || path.startsWith(`${root}${sep}`);
}

/** Symbolic links followed in one resolution, as the kernel's limit. */
const maxLinks = 40;

/**
 * Where a path really leads: every symbolic link on the way followed, a dangling one included (writing through
 * it would create its target), and `..` taken after the link it follows as the kernel does. The part past the
 * last existing component is appended as written, and may not hold `..`: the kernel fails on `missing/..`, and
 * taking it by name would bring back a component already passed, a link to outside the root among them
 * (`missing/../link-out/file`). `exists` says whether the whole path exists.
 */
export function realPath(path: string): { real: string; exists: boolean } {
  const pending = path.split(sep).filter((part) => part !== '' && part !== '.');
  let current: string = sep;
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      current = resolve(current, '..');
      continue;
    }
    const next = join(current, part);
    let stats: ReturnType<typeof lstatSync>;
    try {
      stats = lstatSync(next);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        if (pending.includes('..')) throw new OperationError('not_found', `${next} does not exist`);
        return { real: join(next, ...pending), exists: false };
      }
      if (code === 'ENOTDIR') throw new OperationError('not_directory', `${current} is not a directory`);
      throw error;
    }
    if (stats.isSymbolicLink()) {
      links += 1;
      if (links > maxLinks) throw new OperationError('failed', `too many symbolic links in ${path}`);
      const target = readlinkSync(next);
      if (isAbsolute(target)) current = sep;
      pending.unshift(...target.split(sep).filter((segment) => segment !== '' && segment !== '.'));
      continue;
    }
    if (pending.length > 0 && !stats.isDirectory()) {
      throw new OperationError('not_directory', `${next} is not a directory`);
    }
    current = next;
  }
  return { real: current, exists: true };
}

/**
 * Resolves a path an operation names and refuses it unless where it really leads (symbolic links followed) is
 * the root or below it. `root` is already real (realpath at start).
 */
export function resolveInRoot(root: string, path: string): { real: string; exists: boolean } {
  if (!isAbsolute(path)) throw new OperationError('outside_root', `${path} is not an absolute path (under ${root})`);
  const resolved = realPath(resolve(path));
  if (!isInside(root, resolved.real)) throw new OperationError('outside_root', `${path} is outside ${root}`);
  return resolved;
}
