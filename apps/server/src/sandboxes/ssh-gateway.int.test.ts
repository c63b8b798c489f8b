import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RunTools, type Sandbox } from '@runtools/sdk';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBaseRootfs } from '../../../../test/support/rootfs.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';
import { sshBatchOptions } from '../../../../test/support/ssh.js';

const run = promisify(execFile);
const devServer = readFileSync(new URL('../../../../test/fixtures/dev-server.pl', import.meta.url), 'utf8');

/** A free local port for `ssh -L`. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('SSH gateway, with the real OpenSSH client', () => {
  let server: TestServer;
  let rt: RunTools;
  let box: Sandbox;
  const keys = mkdtempSync(join(tmpdir(), 'runtools-ssh-'));
  const identity = join(keys, 'id_ed25519');
  const stranger = join(keys, 'stranger');

  /** Where and as whom OpenSSH's clients connect: the gateway's port (`-p` for ssh, `-P` for scp and sftp), a key. */
  function client(portFlag: '-p' | '-P', key = identity): string[] {
    return [portFlag, String(server.running.sshPort), '-i', key, ...sshBatchOptions];
  }

  /** `ssh` as a script would run it: batch mode, this test's key, no known-hosts file. */
  function ssh(args: string[], key = identity) {
    return run('ssh', [...client('-p', key), '-o', 'IdentitiesOnly=yes', ...args], { timeout: 30_000 }).then(
      (result) => ({ code: 0, stdout: result.stdout, stderr: result.stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );
  }

  beforeAll(async () => {
    await testBaseRootfs();
    server = await startTestServer();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    for (const path of [identity, stranger]) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
    await rt.sshKeys.add({ name: 'test', publicKey: readFileSync(`${identity}.pub`, 'utf8') });
    box = await rt.sandboxes.create({ runtime: 'container' });
  }, 15 * 60_000);
  afterAll(async () => {
    await box?.destroy().catch(() => {});
    await server.close();
    rmSync(keys, { recursive: true, force: true });
  }, 120_000);

  it('runs commands with their exit codes and stdin, and a shell on a pseudo-terminal', async () => {
    const info = await box.getSSH();
    expect(info).toEqual({
      host: '127.0.0.1',
      port: server.running.sshPort,
      username: box.id,
      command: `ssh -p ${server.running.sshPort} ${box.id}@127.0.0.1`,
    });
    const exec = await ssh([`${box.id}@127.0.0.1`, 'echo out; echo err >&2; exit 3']);
    expect(exec).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const piped = await new Promise<string>((resolve) => {
      const child = spawn('ssh', [...client('-p'), `${box.id}@127.0.0.1`, 'tr a-z A-Z']);
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
      });
      child.on('close', () => resolve(out));
      child.stdin.end('piped through\n');
    });
    expect(piped).toBe('PIPED THROUGH\n');
    const tty = await ssh(['-tt', `${box.id}@127.0.0.1`, 'tty; exit 4']);
    expect(tty.code).toBe(4);
    expect(tty.stdout).toMatch(/^\/dev\/pts\/\d+\r\n/);

    // No command: a login shell on a terminal, typed into.
    const shell = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('ssh', ['-tt', ...client('-p'), `${box.id}@127.0.0.1`]);
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
      });
      child.on('close', (code) => resolve({ code, out }));
      child.stdin.write('echo "in the $0 shell"; exit 6\r');
    });
    expect(shell.code).toBe(6);
    expect(shell.out).toMatch(/in the -?bash shell/);
  });

  it('resizes the terminal when the client window changes', async () => {
    // OpenSSH sends window-change only from a terminal of its own; ssh2's client sends the same message.
    const connection = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      connection.once('ready', () => resolve()).once('error', reject);
      connection.connect({
        host: '127.0.0.1',
        port: server.running.sshPort,
        username: box.id,
        privateKey: readFileSync(identity),
      });
    });
    try {
      const shell = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
        connection.shell({ rows: 24, cols: 80, term: 'xterm' }, (error, stream) =>
          error ? reject(error) : resolve(stream),
        ),
      );
      let out = '';
      shell.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      shell.write('echo size $(stty size)\r');
      await expect.poll(() => out).toMatch(/size 24 80/);
      shell.setWindow(40, 132, 0, 0);
      shell.write('echo size $(stty size)\r');
      await expect.poll(() => out).toMatch(/size 40 132/);
      shell.end('exit\r');
    } finally {
      connection.end();
    }
  });

  it('forwards a local port to a port inside the sandbox (-L)', async () => {
    await box.files.write('/root/server.pl', devServer);
    await box.exec('perl /root/server.pl 8080', { background: true });
    const local = await freePort();
    const tunnel = spawn('ssh', [
      '-N',
      '-L',
      `${local}:127.0.0.1:8080`,
      ...client('-p'),
      '-o',
      'ExitOnForwardFailure=yes',
      `${box.id}@127.0.0.1`,
    ]);
    try {
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${local}/through-ssh`).catch(() => undefined))?.status, {
          timeout: 15_000,
        })
        .toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${local}/again`)).text()).toBe('hello from 8080 /again');
    } finally {
      tunnel.kill();
    }
  });

  it('copies files both ways with scp and sftp', async () => {
    const local = join(keys, 'payload.bin');
    const payload = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    writeFileSync(local, payload);
    const options = client('-P');
    await run('scp', [...options, local, `${box.id}@127.0.0.1:/root/up.bin`]);
    expect((await box.exec('wc -c < /root/up.bin')).stdout.trim()).toBe(String(payload.length));
    await run('scp', [...options, `${box.id}@127.0.0.1:up.bin`, join(keys, 'down.bin')]);
    expect(readFileSync(join(keys, 'down.bin')).equals(payload)).toBe(true);

    // scp -p keeps the mode and times (SFTP setstat), sftp's chmod changes the mode.
    const kept = join(keys, 'kept.bin');
    writeFileSync(kept, 'kept');
    chmodSync(kept, 0o751);
    utimesSync(kept, 978307200, 978307200);
    await run('scp', [...options, '-p', kept, `${box.id}@127.0.0.1:/root/kept.bin`]);
    expect((await box.exec("stat -c '%a %Y' /root/kept.bin")).stdout.trim()).toBe('751 978307200');

    const batch = join(keys, 'batch');
    writeFileSync(
      batch,
      [
        'chmod 600 /root/kept.bin',
        'mkdir /root/dir',
        `put ${local} /root/dir/p.bin`,
        'ls -l /root/dir',
        'rename /root/dir/p.bin /root/dir/q.bin',
        `get /root/dir/q.bin ${join(keys, 'q.bin')}`,
        'rm /root/dir/q.bin',
        'rmdir /root/dir',
      ].join('\n'),
    );
    const sftp = await run('sftp', ['-b', batch, ...options, `${box.id}@127.0.0.1`]);
    expect(sftp.stdout).toMatch(/p\.bin/);
    expect((await box.exec("stat -c '%a %Y' /root/kept.bin")).stdout.trim()).toBe('600 978307200');
    expect(readFileSync(join(keys, 'q.bin')).equals(payload)).toBe(true);
    expect((await box.exec('ls /root/dir 2>&1; echo $?')).stdout).toMatch(/No such file/);
    await expect(run('scp', [...options, `${box.id}@127.0.0.1:/root/nope`, join(keys, 'nope')])).rejects.toThrow();
  });

  it('connects through `runtools sandbox ssh`, passing ssh options on', async () => {
    const bin = new URL('../../../../packages/cli/bin/runtools.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'sandbox', 'ssh', box.id, '-i', identity, ...sshBatchOptions], {
      env: { PATH: process.env.PATH ?? '', RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: server.adminKey },
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stdin.end('echo "over $SHELL"; exit 7\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect([code, stdout]).toEqual([7, expect.stringContaining('over')]);
  });

  it('refuses unregistered keys, other orgs and destroyed sandboxes', async () => {
    const unknown = await ssh([`${box.id}@127.0.0.1`, 'true'], stranger);
    expect([unknown.code, unknown.stderr]).toEqual([255, expect.stringContaining('Permission denied (publickey)')]);
    const noSuch = await ssh(['sbx_aaaaaaaaaaaaaaaaaaaa@127.0.0.1', 'true']);
    expect(noSuch.code).toBe(255);
    // The same key registered in another org does not open this org's sandboxes, and vice versa.
    const other = (await (await server.request('POST', '/v1/orgs', { body: { name: 'Other SSH' } })).json()) as {
      apiKey: { key: string };
    };
    const otherRt = new RunTools({ apiKey: other.apiKey.key, baseUrl: server.url });
    await otherRt.sshKeys.add({ name: 'stranger', publicKey: readFileSync(`${stranger}.pub`, 'utf8') });
    expect((await ssh([`${box.id}@127.0.0.1`, 'true'], stranger)).code).toBe(255);

    const doomed = await rt.sandboxes.create({ runtime: 'container' });
    await doomed.destroy();
    const gone = await ssh([`${doomed.id}@127.0.0.1`, 'true']);
    expect([gone.code, gone.stderr]).toEqual([1, expect.stringMatching(/sandbox .* is destroyed/)]);
  });
});
