import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeshOperation } from '@runtools/spec';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { maxReadBytes, type OperationContext, runOperation } from './operations.js';
import { OperationError } from './root-paths.js';

let base: string;
let root: string;
let outside: string;
let context: OperationContext;

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The code an operation failed with, or 'ok'. */
async function outcome(operation: MeshOperation): Promise<string> {
  return outcomeIn(context, operation);
}

async function outcomeIn(where: OperationContext, operation: MeshOperation): Promise<string> {
  try {
    await runOperation(where, operation);
    return 'ok';
  } catch (error) {
    if (error instanceof OperationError) return error.code;
    throw error;
  }
}

/** A change made just before the next call of the file system (once): a race, placed where it would hurt. */
const swapAtNextCall = vi.hoisted(() => ({ swap: undefined as (() => void) | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const first =
    <T extends (...args: never[]) => unknown>(call: T) =>
    (...args: Parameters<T>) => {
      const swap = swapAtNextCall.swap;
      swapAtNextCall.swap = undefined;
      swap?.();
      return call(...args);
    };
  return {
    ...actual,
    open: first(actual.open),
    lstat: first(actual.lstat),
    mkdir: first(actual.mkdir),
    readdir: first(actual.readdir),
  };
});

beforeAll(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'runtools-mesh-ops-')));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'a.txt'), 'inside');
  writeFileSync(join(outside, 'secret.txt'), 'the owner’s secret');
  symlinkSync(outside, join(root, 'link-dir'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link-file'));
  symlinkSync('../../outside/secret.txt', join(root, 'sub', 'relative-link'));
  symlinkSync(join(outside, 'created-through-link.txt'), join(root, 'dangling'));
  symlinkSync(join(root, 'a.txt'), join(root, 'inner-link'));
  symlinkSync(root, join(base, 'alias'));
  context = { root, home: null, confinement: { kind: 'refused' } };
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('read_file', () => {
  it('reads a file inside the root, as base64', async () => {
    const value = await runOperation(context, { op: 'read_file', path: join(root, 'a.txt') });
    expect(value).toEqual({ content: b64('inside') });
  });

  it('follows a link that stays inside the root, and a path into the root through a link to it', async () => {
    expect(await runOperation(context, { op: 'read_file', path: join(root, 'inner-link') })).toEqual({
      content: b64('inside'),
    });
    expect(await runOperation(context, { op: 'read_file', path: join(base, 'alias', 'a.txt') })).toEqual({
      content: b64('inside'),
    });
  });

  it('refuses ../ escapes, absolute paths outside and relative paths', async () => {
    expect(await outcome({ op: 'read_file', path: join(root, '..', 'outside', 'secret.txt') })).toBe('outside_root');
    expect(await outcome({ op: 'read_file', path: `${root}/sub/../../outside/secret.txt` })).toBe('outside_root');
    expect(await outcome({ op: 'read_file', path: join(outside, 'secret.txt') })).toBe('outside_root');
    expect(await outcome({ op: 'read_file', path: '/etc/hostname' })).toBe('outside_root');
    expect(await outcome({ op: 'read_file', path: 'a.txt' })).toBe('outside_root');
  });

  it('refuses a symbolic link inside the root that leads out (to a directory, to a file, relative)', async () => {
    expect(await outcome({ op: 'read_file', path: join(root, 'link-dir', 'secret.txt') })).toBe('outside_root');
    expect(await outcome({ op: 'read_file', path: join(root, 'link-file') })).toBe('outside_root');
    expect(await outcome({ op: 'read_file', path: join(root, 'sub', 'relative-link') })).toBe('outside_root');
  });

  it('answers not_found, is_directory and too_large', async () => {
    expect(await outcome({ op: 'read_file', path: join(root, 'missing.txt') })).toBe('not_found');
    expect(await outcome({ op: 'read_file', path: join(root, 'sub') })).toBe('is_directory');
    const big = join(root, 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, maxReadBytes + 1); // sparse: no disk used
    try {
      expect(await outcome({ op: 'read_file', path: big })).toBe('too_large');
    } finally {
      rmSync(big);
    }
  });

  it('keeps the base64 of the largest readable file within one channel message', async () => {
    const { maxMeshMessageBytes } = await import('@runtools/spec');
    expect(Math.ceil(maxReadBytes / 3) * 4).toBeLessThan(maxMeshMessageBytes);
  });
});

describe('write_file', () => {
  it('writes a file inside the root', async () => {
    const path = join(root, 'sub', 'written.txt');
    expect(await runOperation(context, { op: 'write_file', path, content: b64('hello') })).toEqual({ size: 5 });
    expect(readFileSync(path, 'utf8')).toBe('hello');
  });

  it('makes nothing but the file: a missing directory is not_found and is not created', async () => {
    const path = join(root, 'new-dir', 'file.txt');
    expect(await outcome({ op: 'write_file', path, content: b64('x') })).toBe('not_found');
    expect(existsSync(join(root, 'new-dir'))).toBe(false);
  });

  it('refuses to write outside through ../, an absolute path, or a link, and writes nothing there', async () => {
    const escapes = [
      join(root, '..', 'outside', 'escape-1.txt'),
      join(outside, 'escape-2.txt'),
      join(root, 'link-dir', 'escape-3.txt'),
    ];
    for (const path of escapes) {
      expect(await outcome({ op: 'write_file', path, content: b64('escaped') })).toBe('outside_root');
      expect(existsSync(path)).toBe(false);
    }
    expect(await outcome({ op: 'write_file', path: join(root, 'link-file'), content: b64('overwritten') })).toBe(
      'outside_root',
    );
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('the owner’s secret');
  });

  it('refuses a dangling link that would create a file outside', async () => {
    expect(await outcome({ op: 'write_file', path: join(root, 'dangling'), content: b64('created') })).toBe(
      'outside_root',
    );
    expect(existsSync(join(outside, 'created-through-link.txt'))).toBe(false);
  });

  it('refuses a link through a missing directory and back out (missing/../link-out/file), and writes nothing there', async () => {
    // The kernel fails on missing/.. (ENOENT); the rest must not be taken by name afterwards, where the
    // link it names (link-dir, to outside) would be followed when the file is opened.
    symlinkSync('missing/../link-dir/through-missing.txt', join(root, 'via-missing'));
    symlinkSync('missing/../link-dir/secret.txt', join(root, 'via-missing-existing'));
    symlinkSync('missing/../link-dir/made-through-missing', join(root, 'via-missing-dir'));
    try {
      expect(await outcome({ op: 'write_file', path: join(root, 'via-missing'), content: b64('escaped') })).not.toBe(
        'ok',
      );
      expect(existsSync(join(outside, 'through-missing.txt'))).toBe(false);
      expect(
        await outcome({ op: 'write_file', path: join(root, 'via-missing-existing'), content: b64('overwritten') }),
      ).not.toBe('ok');
      expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('the owner’s secret');
      expect(await outcome({ op: 'make_directory', path: join(root, 'via-missing-dir') })).not.toBe('ok');
      expect(existsSync(join(outside, 'made-through-missing'))).toBe(false);
    } finally {
      for (const name of ['via-missing', 'via-missing-existing', 'via-missing-dir']) rmSync(join(root, name));
    }
  });

  it('refuses content that is not base64', async () => {
    expect(await outcome({ op: 'write_file', path: join(root, 'bad.txt'), content: 'not base64!' })).toBe('failed');
    expect(existsSync(join(root, 'bad.txt'))).toBe(false);
  });
});

describe('make_directory', () => {
  it('makes a directory and its parents inside the root', async () => {
    await runOperation(context, { op: 'make_directory', path: join(root, 'deep', 'er', 'still') });
    expect(existsSync(join(root, 'deep', 'er', 'still'))).toBe(true);
  });

  it('refuses a directory outside, through ../ or a link', async () => {
    expect(await outcome({ op: 'make_directory', path: join(root, '..', 'outside', 'made-1') })).toBe('outside_root');
    expect(await outcome({ op: 'make_directory', path: join(root, 'link-dir', 'made-2') })).toBe('outside_root');
    expect(existsSync(join(outside, 'made-1'))).toBe(false);
    expect(existsSync(join(outside, 'made-2'))).toBe(false);
  });

  it('answers not_directory where a file stands', async () => {
    expect(await outcome({ op: 'make_directory', path: join(root, 'a.txt') })).toBe('not_directory');
    expect(await outcome({ op: 'make_directory', path: join(root, 'a.txt', 'below') })).toBe('not_directory');
  });
});

describe('list_files', () => {
  it('lists a directory inside the root with types and sizes', async () => {
    const value = (await runOperation(context, { op: 'list_files', path: root })) as {
      entries: { name: string; type: string; size: number }[];
    };
    const byName = Object.fromEntries(value.entries.map((entry) => [entry.name, entry]));
    expect(byName['a.txt']).toEqual({ name: 'a.txt', type: 'file', size: 6 });
    expect(byName.sub?.type).toBe('directory');
    expect(byName['link-dir']?.type).toBe('symlink');
  });

  it('refuses to list outside, through ../ or a link', async () => {
    expect(await outcome({ op: 'list_files', path: join(root, '..') })).toBe('outside_root');
    expect(await outcome({ op: 'list_files', path: join(root, 'link-dir') })).toBe('outside_root');
    expect(await outcome({ op: 'list_files', path: '/' })).toBe('outside_root');
  });

  it('answers not_found and not_directory', async () => {
    expect(await outcome({ op: 'list_files', path: join(root, 'nothing') })).toBe('not_found');
    expect(await outcome({ op: 'list_files', path: join(root, 'a.txt') })).toBe('not_directory');
  });
});

describe('a directory swapped for a link to outside between the check and the act (bash runs in the root meanwhile)', () => {
  // The swap is made at the operation's first file system call after its check, as a command racing it could.
  const swapRoot = () => join(base, 'swap-root');
  const swapOutside = () => join(base, 'swap-outside');
  const arm = () => {
    swapAtNextCall.swap = () => {
      renameSync(join(swapRoot(), 'swap'), join(swapRoot(), `held-${Math.random()}`));
      symlinkSync(swapOutside(), join(swapRoot(), 'swap'));
    };
  };
  const swapContext = (): OperationContext => ({ root: swapRoot(), home: null, confinement: { kind: 'refused' } });
  beforeEach(() => {
    rmSync(swapRoot(), { recursive: true, force: true });
    rmSync(swapOutside(), { recursive: true, force: true });
    mkdirSync(join(swapRoot(), 'swap', 'listed'), { recursive: true });
    mkdirSync(join(swapOutside(), 'listed'), { recursive: true });
    writeFileSync(join(swapRoot(), 'swap', 'file.txt'), 'inside');
    writeFileSync(join(swapOutside(), 'file.txt'), 'SECRET');
    writeFileSync(join(swapOutside(), 'listed', 'only-outside'), '');
  });
  afterEach(() => {
    swapAtNextCall.swap = undefined;
  });

  it.runIf(process.platform === 'linux')('reads nothing outside', async () => {
    arm();
    const value = await runOperation(swapContext(), { op: 'read_file', path: join(swapRoot(), 'swap', 'file.txt') })
      .then((result) => Buffer.from((result as { content: string }).content, 'base64').toString())
      .catch((error: OperationError) => error.code);
    expect(value).toBe('outside_root');
  });

  it.runIf(process.platform === 'linux')('writes nothing outside', async () => {
    arm();
    const path = join(swapRoot(), 'swap', 'written.txt');
    expect(await outcomeIn(swapContext(), { op: 'write_file', path, content: b64('x') })).toBe('outside_root');
    arm();
    const existing = join(swapRoot(), 'swap', 'file.txt');
    expect(await outcomeIn(swapContext(), { op: 'write_file', path: existing, content: b64('x') })).toBe(
      'outside_root',
    );
    expect(readdirSync(swapOutside()).sort()).toEqual(['file.txt', 'listed']);
    expect(readFileSync(join(swapOutside(), 'file.txt'), 'utf8')).toBe('SECRET');
  });

  it.runIf(process.platform === 'linux')('makes no directory outside', async () => {
    arm();
    const path = join(swapRoot(), 'swap', 'made', 'deeper');
    expect(await outcomeIn(swapContext(), { op: 'make_directory', path })).toBe('outside_root');
    expect(readdirSync(swapOutside()).sort()).toEqual(['file.txt', 'listed']);
  });

  it.runIf(process.platform === 'linux')('lists nothing outside', async () => {
    arm();
    const path = join(swapRoot(), 'swap', 'listed');
    expect(await outcomeIn(swapContext(), { op: 'list_files', path })).toBe('outside_root');
  });
});

describe('exec without bubblewrap', () => {
  it('is refused as unconfined unless the owner allowed it', async () => {
    expect(await outcome({ op: 'exec', command: 'true', timeoutMs: 1000 })).toBe('unconfined');
  });
});
