import { randomBytes } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from './command.js';
import { ConfinedTree } from './confined-tree.js';

async function* chunks(...parts: string[]) {
  for (const part of parts) yield Buffer.from(part);
}

async function text(body: ReadableStream<Uint8Array>): Promise<string> {
  return Buffer.from(await new Response(body).arrayBuffer()).toString();
}

describe('ConfinedTree', () => {
  let dir: string;
  let outside: string;
  let tree: ConfinedTree;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'runtools-tree-'));
    outside = join(dir, 'outside');
    mkdirSync(join(dir, 'root', 'in'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    writeFileSync(join(dir, 'root', 'in', 'file.txt'), 'inside');
    symlinkSync(outside, join(dir, 'root', 'out'));
    symlinkSync(join(outside, 'secret.txt'), join(dir, 'root', 'secret-link'));
    tree = new ConfinedTree(join(dir, 'root'), join(dir, 'run'));
  });
  afterEach(() => {
    tree.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a symlink anywhere in a path, for every operation that would go through it', async () => {
    const refused = { code: 'symlink' };
    await expect(tree.read('/out/secret.txt')).rejects.toMatchObject(refused);
    await expect(tree.read('/secret-link')).rejects.toMatchObject(refused);
    await expect(tree.list('/out')).rejects.toMatchObject(refused);
    await expect(tree.stat('/out/secret.txt')).rejects.toMatchObject(refused);
    await expect(tree.write('/out/planted', chunks('x'))).rejects.toMatchObject(refused);
    await expect(tree.write('/secret-link', chunks('x'))).rejects.toMatchObject(refused);
    await expect(tree.mkdir('/out/made')).rejects.toMatchObject(refused);
    await expect(tree.remove('/out/secret.txt')).rejects.toMatchObject(refused);
    await expect(tree.move('/out/secret.txt', '/taken')).rejects.toMatchObject(refused);
    await expect(tree.move('/in/file.txt', '/secret-link')).rejects.toMatchObject(refused);
    await expect(tree.copy('/out', '/copied')).rejects.toMatchObject(refused);
    await expect(tree.copy('/in/file.txt', '/out/copied')).rejects.toMatchObject(refused);
    await expect(tree.usage('/out')).rejects.toMatchObject(refused);
    await expect(tree.read('/in/../out/secret.txt')).rejects.toMatchObject({ code: 'invalid' });
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect(lstatSync(join(outside, 'secret.txt')).isFile()).toBe(true);
  });

  it('describes, lists, copies, moves and removes a symlink as itself', async () => {
    expect(await tree.stat('/out')).toMatchObject({ name: 'out', type: 'symlink' });
    expect((await tree.list('/')).map((entry) => `${entry.type} ${entry.name}`).sort()).toEqual([
      'dir in',
      'symlink out',
      'symlink secret-link',
    ]);
    await tree.mkdir('/in/sub');
    symlinkSync('/etc/passwd', join(dir, 'root', 'in', 'sub', 'link'));
    await tree.copy('/in', '/copy');
    expect(readlinkSync(join(dir, 'root', 'copy', 'sub', 'link'))).toBe('/etc/passwd');
    expect(readFileSync(join(dir, 'root', 'copy', 'file.txt'), 'utf8')).toBe('inside');
    await tree.move('/out', '/moved-link');
    expect(readlinkSync(join(dir, 'root', 'moved-link'))).toBe(outside);
    await tree.remove('/moved-link');
    await tree.remove('/copy');
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect(await tree.usage('/')).toEqual({
      bytes: 6 + '/etc/passwd'.length + join(outside, 'secret.txt').length,
      files: 3,
      directories: 2,
    });
  });

  it('never opens a FIFO or device: reading one is refused, copying a tree leaves it out', async () => {
    expect((await runCommand('mkfifo', [join(dir, 'root', 'in', 'pipe')])).exitCode).toBe(0);
    await expect(tree.read('/in/pipe')).rejects.toMatchObject({ code: 'invalid' });
    await tree.copy('/in', '/copy');
    expect((await tree.list('/copy')).map((entry) => entry.name)).toEqual(['file.txt']);
    await expect(tree.copy('/in/pipe', '/pipe-copy')).rejects.toMatchObject({ code: 'invalid' });
  });

  it('streams a large file both ways, and goes on after a reader gives up half way', async () => {
    const big = randomBytes(24 << 20);
    const entry = await tree.write(
      '/deep/new/big.bin',
      (async function* () {
        for (let offset = 0; offset < big.length; offset += 1 << 20) yield big.subarray(offset, offset + (1 << 20));
      })(),
    );
    expect(entry).toMatchObject({ name: 'big.bin', type: 'file', size: big.length });
    const { body, size } = await tree.read('/deep/new/big.bin');
    expect(size).toBe(big.length);
    expect(Buffer.from(await new Response(body).arrayBuffer()).equals(big)).toBe(true);
    const abandoned = await tree.read('/deep/new/big.bin');
    const reader = abandoned.body.getReader();
    await reader.read();
    await reader.cancel();
    expect(await text((await tree.read('/in/file.txt')).body)).toBe('inside');
    await expect(tree.write('/limited', chunks('12345', '678'), 6)).rejects.toMatchObject({ code: 'too_large' });
    await expect(tree.stat('/limited')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('starts its server again after it died', async () => {
    expect((await tree.stat('/in')).type).toBe('dir');
    const found = await runCommand('pgrep', ['-f', `serve-root ${join(dir, 'root')} `]);
    const pids = found.stdout
      .toString()
      .split('\n')
      .map(Number)
      .filter((pid) => pid > 1);
    expect(pids).toHaveLength(1);
    process.kill(pids[0] as number, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await tree.stat('/in')).type).toBe('dir');
  });
});
