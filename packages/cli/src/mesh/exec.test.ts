import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Confinement, detectConfinement, maxExecOutputBytes } from './exec.js';
import { type OperationContext, runOperation } from './operations.js';
import { OperationError } from './root-paths.js';

let base: string;
let home: string;
let root: string;
let outside: string;
let confined: OperationContext;
let unconfined: OperationContext;

interface Exec {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
}

function exec(context: OperationContext, command: string, options: { timeoutMs?: number; cwd?: string } = {}) {
  return runOperation(context, {
    op: 'exec',
    command,
    timeoutMs: options.timeoutMs ?? 20_000,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  }) as Promise<Exec>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => {
  // The owner's home holds the root (as ~/project) and a secret beside it; another dir holds more of theirs.
  base = realpathSync(mkdtempSync(join(tmpdir(), 'runtools-mesh-exec-')));
  home = join(base, 'home');
  root = join(home, 'project');
  outside = join(base, 'elsewhere');
  mkdirSync(root, { recursive: true });
  mkdirSync(join(root, 'src'));
  mkdirSync(outside);
  writeFileSync(join(home, 'secret.txt'), 'home-secret-4242');
  writeFileSync(join(outside, 'other.txt'), 'other-secret-4343');
  const confinement = detectConfinement({ allowUnconfined: false });
  // bubblewrap comes with the test tools (scripts/install-test-tools.sh): without it these tests must fail.
  if (confinement.kind !== 'bwrap') throw new Error('bwrap is not installed: apt-get install bubblewrap');
  confined = { root, home, confinement };
  const plain = detectConfinement({ allowUnconfined: true });
  const shell = plain.kind === 'refused' ? '/bin/sh' : plain.shell;
  unconfined = { root, home, confinement: { kind: 'unconfined', shell } satisfies Confinement };
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('exec under bubblewrap', () => {
  it('runs in the root with HOME set to it and writes there', async () => {
    const result = await exec(confined, 'pwd; echo "$HOME"; echo made > made.txt; exit 7');
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe(`${root}\n${root}\n`);
    expect(readFileSync(join(root, 'made.txt'), 'utf8')).toBe('made\n');
  });

  it('starts in a cwd inside the root, and refuses one outside', async () => {
    expect((await exec(confined, 'pwd', { cwd: join(root, 'src') })).stdout).toBe(`${join(root, 'src')}\n`);
    await expect(exec(confined, 'pwd', { cwd: outside })).rejects.toMatchObject({ code: 'outside_root' });
    await expect(exec(confined, 'pwd', { cwd: join(root, '..') })).rejects.toBeInstanceOf(OperationError);
  });

  it('cannot write outside the root: the file does not appear', async () => {
    const target = join(outside, 'escaped.txt');
    const beside = join(home, 'escaped.txt');
    await exec(confined, `mkdir -p ${outside} ${home}; echo x > ${target}; echo x > ${beside}; echo x > /tmp/t`);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(beside)).toBe(false);
    const system = await exec(confined, 'touch /usr/escaped 2>&1; touch /etc/escaped 2>&1');
    expect(system.stdout).toMatch(/Read-only file system/);
    expect(existsSync('/usr/escaped')).toBe(false);
    expect(existsSync('/etc/escaped')).toBe(false);
  });

  it("cannot read the owner's files outside the root, in the home or elsewhere", async () => {
    const result = await exec(confined, `cat ${join(home, 'secret.txt')} ${join(outside, 'other.txt')}; ls -a ${home}`);
    expect(result.stdout).not.toContain('home-secret-4242');
    expect(result.stdout).not.toContain('other-secret-4343');
    expect(result.stdout).not.toContain('secret.txt');
    expect(result.stderr).toMatch(/No such file or directory/);
  });

  it("does not pass the helper's environment to the command", async () => {
    process.env.RUNTOOLS_MESH_TEST_SECRET = 'env-secret-4444';
    try {
      const result = await exec(confined, 'env');
      expect(result.stdout).not.toContain('env-secret-4444');
    } finally {
      delete process.env.RUNTOOLS_MESH_TEST_SECRET;
    }
  });

  it('drops every capability, even when the helper runs as root', async () => {
    const result = await exec(confined, 'grep CapEff /proc/self/status');
    expect(result.stdout.trim()).toBe('CapEff:\t0000000000000000');
  });

  it('kills the command and all it started when the timeout passes', async () => {
    const started = Date.now();
    const result = await exec(
      confined,
      `(sleep 2; touch ${join(root, 'late-child')}) & sleep 2; touch ${join(root, 'late')}`,
      { timeoutMs: 300 },
    );
    expect(result.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
    await sleep(2500);
    expect(existsSync(join(root, 'late'))).toBe(false);
    expect(existsSync(join(root, 'late-child'))).toBe(false);
  });

  it('kills it when the call is cancelled', async () => {
    const controller = new AbortController();
    const running = runOperation(confined, { op: 'exec', command: 'sleep 30', timeoutMs: 60_000 }, controller.signal);
    await sleep(200);
    const started = Date.now();
    controller.abort();
    const result = (await running) as Exec;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(result.exitCode).not.toBe(0);
  });

  it('keeps at most 1 MiB of each output', async () => {
    const result = await exec(
      confined,
      "head -c 3000000 /dev/zero | tr '\\0' a; head -c 2000000 /dev/zero | tr '\\0' b >&2",
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout.length).toBe(maxExecOutputBytes);
    expect(result.stderr.length).toBe(maxExecOutputBytes);
  });
});

describe('exec allowed unconfined', () => {
  it('runs plainly in the root', async () => {
    const result = await exec(unconfined, 'pwd; echo plain > plain.txt');
    expect(result.stdout).toBe(`${root}\n`);
    expect(readFileSync(join(root, 'plain.txt'), 'utf8')).toBe('plain\n');
  });

  it('kills the process group when the timeout passes', async () => {
    const result = await exec(
      unconfined,
      `(sleep 2; touch ${join(root, 'late-plain-child')}) & sleep 2; touch ${join(root, 'late-plain')}`,
      { timeoutMs: 300 },
    );
    expect(result.timedOut).toBe(true);
    await sleep(2500);
    expect(existsSync(join(root, 'late-plain'))).toBe(false);
    expect(existsSync(join(root, 'late-plain-child'))).toBe(false);
  });
});
