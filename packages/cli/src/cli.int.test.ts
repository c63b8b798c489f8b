import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';
import { createPostgresDatabase, testDatabaseKind } from '../../../test/support/database.js';
import { testBaseRootfs } from '../../../test/support/rootfs.js';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { startServerProcess } from '../../../test/support/server-process.js';

describe('runtools CLI against a running server', () => {
  let server: TestServer;
  let configDir: string;
  const cli = (args: string[], input?: string) =>
    runCli(args, { configDir, ...(input !== undefined ? { input } : {}) });

  beforeAll(async () => {
    server = await startTestServer();
    configDir = mkdtempSync(join(tmpdir(), 'runtools-cli-'));
  });
  afterAll(async () => {
    await server.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('refuses a bad key at login and stores nothing', async () => {
    const result = await cli([
      'login',
      '--url',
      server.url,
      '--api-key',
      'rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('error: the API key is not valid');
    expect(() => statSync(join(configDir, 'config.json'))).toThrow();
  });

  it('asks for a login before calling the API', async () => {
    const result = await cli(['secret', 'list']);
    expect([result.code, result.stderr]).toEqual([2, expect.stringContaining('hint: run: runtools login')]);
  });

  it('logs in with a key from stdin and stores it 0600', async () => {
    const result = await cli(['login', '--url', server.url], `${server.adminKey}\n`);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('as admin@localhost (owner) in org default');
    const path = join(configDir, 'config.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ url: server.url, apiKey: server.adminKey });
    const me = await cli(['whoami', '--json']);
    expect(JSON.parse(me.stdout).member.role).toBe('owner');
  });

  it('sets, lists, gets and deletes secrets, never listing values', async () => {
    expect((await cli(['secret', 'set', 'OPENAI_API_KEY', 'sk-one', '--category', 'provider'])).code).toBe(0);
    expect((await cli(['secret', 'set', 'FROM_STDIN'], 'piped value\n')).code).toBe(0);
    const list = await cli(['secret', 'list']);
    expect(list.stdout).toMatch(/OPENAI_API_KEY\s+provider/);
    expect(list.stdout).not.toContain('sk-one');
    expect((await cli(['secret', 'get', 'FROM_STDIN'])).stdout).toBe('piped value\n');
    const json = JSON.parse((await cli(['secret', 'list', '--json'])).stdout) as { name: string }[];
    expect(json.map((secret) => secret.name)).toEqual(['FROM_STDIN', 'OPENAI_API_KEY']);
    expect((await cli(['secret', 'delete', 'FROM_STDIN'])).code).toBe(0);
    const missing = await cli(['secret', 'get', 'FROM_STDIN']);
    expect([missing.code, missing.stderr]).toEqual([5, 'error: no secret named FROM_STDIN\n']);
    const invalid = await cli(['secret', 'set', 'bad-name', 'x']);
    expect(invalid.code).toBe(2);
  });

  it('creates a key shown once, and a revoked key stops working', async () => {
    const created = await cli([
      'auth',
      'keys',
      'create',
      '--name',
      'ci',
      '--scope',
      'secrets:read',
      '--expires-in',
      '30d',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; prefix: string };
    const list = await cli(['auth', 'keys', 'list']);
    expect(list.stdout).toContain(key.prefix);
    expect(list.stdout).not.toContain(key.key);
    const asReader = (args: string[]) => runCli([...args, '--url', server.url, '--api-key', key.key], { configDir });
    expect((await asReader(['secret', 'list'])).code).toBe(0);
    const denied = await asReader(['secret', 'set', 'X', 'y']);
    expect([denied.code, denied.stderr]).toEqual([4, expect.stringContaining('secrets:write')]);
    expect((await cli(['auth', 'keys', 'revoke', key.id])).code).toBe(0);
    const revoked = await asReader(['secret', 'list']);
    expect([revoked.code, revoked.stderr]).toEqual([3, expect.stringContaining('revoked')]);
  });

  it('adds an ssh-keygen key with the fingerprint ssh-keygen prints, lists and removes it', async () => {
    const keyFile = join(configDir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cli-test', '-f', keyFile]);
    const fingerprint = execFileSync('ssh-keygen', ['-lf', `${keyFile}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
    const added = await cli(['ssh-key', 'add', '--name', 'laptop', '--file', `${keyFile}.pub`]);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(fingerprint);
    const list = JSON.parse((await cli(['ssh-key', 'list', '--json'])).stdout) as { id: string; fingerprint: string }[];
    expect(list.map((key) => key.fingerprint)).toEqual([fingerprint]);
    const again = await cli(['ssh-key', 'add', '--name', 'again', '--file', `${keyFile}.pub`]);
    expect(again.code).toBe(6);
    expect((await cli(['ssh-key', 'remove', list[0]?.id ?? ''])).code).toBe(0);
    expect((await cli(['ssh-key', 'add', '--name', 'junk', '--key', 'not a key'])).code).toBe(2);
  });

  it('creates orgs and projects', async () => {
    const org = await cli(['org', 'create', '--name', 'Acme Labs', '--json']);
    const created = JSON.parse(org.stdout) as { org: { slug: string }; apiKey: { key: string } };
    expect(created.org.slug).toBe('acme-labs');
    // A key sees its own org only: the new org through its own key, not through the one that created it.
    expect((await cli(['org', 'list'])).stdout).not.toContain('acme-labs');
    expect((await cli(['org', 'list', '--api-key', created.apiKey.key])).stdout).toMatch(
      /acme-labs\s+Acme Labs\s+owner/,
    );
    const project = JSON.parse((await cli(['project', 'create', '--name', 'Web App', '--json'])).stdout) as {
      id: string;
    };
    expect((await cli(['project', 'list'])).stdout).toContain('web-app');
    expect((await cli(['project', 'delete', project.id])).code).toBe(0);
    expect((await cli(['project', 'get', project.id])).code).toBe(5);
  });

  it('puts workspaces and agents in a project named by slug, lists by project, moves them, and keeps a project that holds any', async () => {
    const json = async (args: string[]) => {
      const result = await cli([...args, '--json']);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      return JSON.parse(result.stdout) as Record<string, unknown> & { id: string; projectId: string };
    };
    const mobile = await json(['project', 'create', '--name', 'Mobile']);
    const workspace = await json(['workspace', 'create', 'Assets', '--project', 'mobile']);
    const agent = await json(['agent', 'create', 'phone', '--model', 'gpt-5', '--project', 'Mobile']);
    expect([workspace.projectId, agent.projectId]).toEqual([mobile.id, mobile.id]);
    expect((await cli(['agent', 'list', '--project', 'mobile'])).stdout).toMatch(/^SLUG.*\nphone\s/);
    expect((await cli(['workspace', 'list', '--project', mobile.id])).stdout).toMatch(/^ID.*\nwsp_\w+\s+assets\s/);
    const refused = await cli(['project', 'delete', mobile.id]);
    expect([refused.code, refused.stderr]).toEqual([6, expect.stringContaining('still holds 1 workspace, 1 agent')]);
    // Moved to the default project (by its slug), the project is empty and goes.
    const home = JSON.parse((await cli(['whoami', '--json'])).stdout) as { project: { slug: string; id: string } };
    expect((await json(['workspace', 'move', 'assets', home.project.slug])).projectId).toBe(home.project.id);
    expect((await json(['agent', 'update', 'phone', '--project', home.project.id])).version).toBe(1);
    expect((await cli(['agent', 'list', '--project', 'mobile'])).stdout).toBe('No agents.\n');
    expect((await cli(['project', 'delete', mobile.id])).code).toBe(0);
    const unknown = await cli(['agent', 'list', '--project', 'nowhere']);
    expect([unknown.code, unknown.stderr]).toEqual([5, expect.stringContaining('no project nowhere')]);
  });

  it('invites a member, who joins only by accepting: with a new account, or with their own key', async () => {
    const invited = await cli(['member', 'invite', 'ada@cli.example', '--role', 'admin', '--json']);
    expect(invited.code).toBe(0);
    const { token, invitation } = JSON.parse(invited.stdout) as { token: string; invitation: { id: string } };
    expect((await cli(['member', 'list'])).stdout).not.toContain('ada@cli.example');
    expect((await cli(['member', 'invitations'])).stdout).toMatch(/ada@cli\.example\s+admin\s+pending/);
    // Without an account, the token alone; the key it prints acts in this org.
    const joined = await cli(['member', 'accept', token, '--new-account', '--url', server.url, '--json']);
    expect(joined.code).toBe(0);
    const ada = (JSON.parse(joined.stdout) as { apiKey: { key: string } }).apiKey.key;
    expect((await cli(['member', 'list'])).stdout).toMatch(/ada@cli\.example\s+admin/);
    expect((await cli(['member', 'accept', token, '--new-account', '--url', server.url])).code).toBe(5);
    // With an account: another org's invitation is accepted with her own key, never by the inviter.
    const other = JSON.parse((await cli(['org', 'create', '--name', 'Ada Two', '--json'])).stdout) as {
      apiKey: { key: string };
    };
    const second = JSON.parse(
      (await cli(['member', 'invite', 'ada@cli.example', '--api-key', other.apiKey.key, '--json'])).stdout,
    ) as { token: string };
    expect((await cli(['member', 'accept', second.token, '--new-account', '--url', server.url])).code).toBe(6);
    expect((await cli(['member', 'accept', second.token, '--api-key', other.apiKey.key])).code).toBe(4);
    const accepted = await cli(['member', 'accept', second.token, '--api-key', ada]);
    expect([accepted.code, accepted.stdout]).toEqual([0, expect.stringContaining('ada-two')]);
    const revoked = JSON.parse((await cli(['member', 'invite', 'bob@cli.example', '--json'])).stdout) as {
      invitation: { id: string };
    };
    expect((await cli(['member', 'uninvite', revoked.invitation.id])).code).toBe(0);
    expect(invitation.id).toMatch(/^inv_/);
  });

  it(
    'creates a sandbox, runs a command with its exit code, lists and destroys it',
    async () => {
      await testBaseRootfs();
      const created = await cli([
        'sandbox',
        'create',
        '--runtime',
        'container',
        '--env',
        'WHO=cli',
        '--metadata',
        'from=cli',
        '--json',
      ]);
      expect(created.code).toBe(0);
      const sandbox = JSON.parse(created.stdout) as { id: string; status: string };
      expect(sandbox.status).toBe('running');
      try {
        const exec = await cli(['sandbox', 'exec', sandbox.id, '--', 'echo hi $WHO; echo bad >&2; exit 3']);
        expect([exec.code, exec.stdout, exec.stderr]).toEqual([3, 'hi cli\n', 'bad\n']);
        const local = join(configDir, 'upload.bin');
        writeFileSync(local, Buffer.from([0, 1, 2, 255]));
        expect((await cli(['sandbox', 'files', 'put', sandbox.id, local, '/data/upload.bin'])).code).toBe(0);
        expect((await cli(['sandbox', 'files', 'ls', sandbox.id, '/data'])).stdout).toMatch(/upload\.bin\s+file\s+4/);
        expect((await cli(['sandbox', 'files', 'cat', sandbox.id, '/etc/debian_version'])).stdout).toMatch(/^12\./);
        expect(
          (await cli(['sandbox', 'files', 'get', sandbox.id, '/data/upload.bin', join(configDir, 'back.bin')])).code,
        ).toBe(0);
        expect(readFileSync(join(configDir, 'back.bin'))).toEqual(Buffer.from([0, 1, 2, 255]));
        expect((await cli(['sandbox', 'files', 'cat', sandbox.id, '/no/such/file'])).code).toBe(5);
        const listed = await cli(['sandbox', 'list', '--metadata', 'from=cli']);
        expect(listed.stdout).toMatch(new RegExp(`${sandbox.id}\\s+-\\s+running\\s+container`));
        expect((await cli(['sandbox', 'create', '--template', 'nope'])).code).toBe(5);

        const started = await cli(['sandbox', 'exec', sandbox.id, '--background', '--', 'echo up; sleep 60']);
        expect(started.code).toBe(0);
        const pid = started.stdout.trim();
        expect(pid).toMatch(/^\d+$/);
        expect((await cli(['sandbox', 'ps', sandbox.id])).stdout).toMatch(
          new RegExp(`${pid}\\s+running\\s+.*echo up; sleep 60`),
        );
        expect((await cli(['sandbox', 'kill', sandbox.id, pid, '--signal', 'KILL'])).stdout).toBe(
          `sent SIGKILL to ${pid}\n`,
        );
        expect((await cli(['sandbox', 'kill', sandbox.id, '999999'])).code).toBe(5);
        expect((await cli(['sandbox', 'stats', sandbox.id])).stdout).toMatch(
          /cpu:\s+\d+\.\d+ s\nmemory:\s+.* MiB of 1024\.0 MiB\n/,
        );
        expect((await cli(['sandbox', 'pause', sandbox.id])).stdout).toBe(`${sandbox.id} paused (memory)\n`);
        expect((await cli(['sandbox', 'exec', sandbox.id, '--', 'true'])).code).toBe(6);
        expect((await cli(['sandbox', 'resume', sandbox.id])).stdout).toBe(`${sandbox.id} running\n`);
        const logs = await cli(['sandbox', 'logs', sandbox.id]);
        expect(logs.stdout).toMatch(/status\s+paused\n.*status\s+resuming\n.*status\s+running\n/s);
        expect(logs.stdout).toMatch(/exec\s+\$ echo hi \$WHO; echo bad >&2; exit 3 \(exit 3\)/);

        const snapshot = await cli(['sandbox', 'snapshot', sandbox.id, '--name', 'with-upload']);
        expect(snapshot.stdout).toMatch(/^snp_[a-z2-7]{20} \d+\.\d MiB \(files only\)\n$/);
        expect((await cli(['sandbox', 'exec', sandbox.id, '--', 'rm /data/upload.bin'])).code).toBe(0);
        expect((await cli(['sandbox', 'files', 'ls', sandbox.id, '/data'])).stdout).not.toMatch(/upload\.bin/);
        expect((await cli(['sandbox', 'snapshots', sandbox.id])).stdout).toMatch(/with-upload\s+files only\s+\d/);
        expect((await cli(['sandbox', 'rollback', sandbox.id, 'with-upload'])).stdout).toBe(`${sandbox.id} running\n`);
        expect((await cli(['sandbox', 'files', 'ls', sandbox.id, '/data'])).stdout).toMatch(/upload\.bin/);
        const branch = JSON.parse((await cli(['sandbox', 'branch', sandbox.id, 'with-upload', '--json'])).stdout) as {
          id: string;
        };
        expect((await cli(['sandbox', 'files', 'ls', branch.id, '/data'])).stdout).toMatch(/upload\.bin/);
        expect((await cli(['sandbox', 'destroy', branch.id])).code).toBe(0);
        expect((await cli(['sandbox', 'snapshot-delete', sandbox.id, 'nope'])).code).toBe(2);
        expect((await cli(['sandbox', 'pause', sandbox.id, '--to', 'disk'])).code).toBe(2);
        expect((await cli(['sandbox', 'pause', sandbox.id, '--to', 'filesystem'])).stdout).toBe(
          `${sandbox.id} paused (filesystem)\n`,
        );
      } finally {
        expect((await cli(['sandbox', 'destroy', sandbox.id])).code).toBe(0);
      }
      const after = JSON.parse((await cli(['sandbox', 'get', sandbox.id, '--json'])).stdout) as { status: string };
      expect(after.status).toBe('destroyed');
      expect((await cli(['sandbox', 'exec', sandbox.id, '--', 'true'])).code).toBe(6);
    },
    15 * 60_000,
  );

  it(
    'defines, builds, lists and deletes a custom template',
    async () => {
      await testBaseRootfs();
      const created = await cli([
        'template',
        'create',
        'cli-tools',
        '--base',
        'minimal',
        '--run',
        'echo from-cli > /etc/cli-made',
        '--env',
        'MADE_BY=cli',
        // A value of this run's: the layer is built now, not found in the cache from an earlier run.
        '--env',
        `RUN=${randomBytes(4).toString('hex')}`,
      ]);
      expect([created.code, created.stdout]).toEqual([0, 'cli-tools not_built (on minimal)\n']);
      const built = await cli(['template', 'build', 'cli-tools']);
      expect(built.code).toBe(0);
      expect(built.stdout).toMatch(/^cli-tools ready in \d+\.\d s\n$/);
      expect(built.stderr).toMatch(/\$ echo from-cli > \/etc\/cli-made\n/);
      expect((await cli(['template', 'list'])).stdout).toMatch(/cli-tools\s+ready\s+minimal/);
      const got = JSON.parse((await cli(['template', 'get', 'cli-tools', '--json'])).stdout) as { env: object };
      expect(got.env).toMatchObject({ MADE_BY: 'cli' });
      expect((await cli(['template', 'create', 'cli-tools'])).code).toBe(6);
      expect((await cli(['template', 'delete', 'cli-tools'])).stdout).toBe('deleted cli-tools\n');
      expect((await cli(['template', 'get', 'cli-tools'])).code).toBe(5);
    },
    15 * 60_000,
  );

  it(
    'creates a workspace, mounts it into a sandbox, and keeps its files after the sandbox is gone',
    async () => {
      await testBaseRootfs();
      const created = await cli(['workspace', 'create', 'CLI Files', '--json']);
      expect(created.code).toBe(0);
      const workspace = JSON.parse(created.stdout) as { id: string; slug: string };
      expect(workspace.slug).toBe('cli-files');
      // Mounted by its slug: the sandbox records the id.
      const box = JSON.parse(
        (await cli(['sandbox', 'create', '--runtime', 'container', '--mount', 'cli-files:/workspace', '--json']))
          .stdout,
      ) as { id: string; mounts: unknown };
      expect(box.mounts).toEqual([{ workspaceId: workspace.id, path: '/workspace' }]);
      expect((await cli(['sandbox', 'exec', box.id, '--', 'echo saved > /workspace/a.txt'])).code).toBe(0);
      expect((await cli(['workspace', 'delete', 'cli-files', '--yes'])).code).toBe(6);
      expect((await cli(['workspace', 'delete', workspace.id, '--yes'])).code).toBe(6);
      expect((await cli(['sandbox', 'destroy', box.id])).code).toBe(0);
      expect((await cli(['workspace', 'get', 'cli-files'])).stdout).toMatch(
        new RegExp(`id:?\\s+${workspace.id}[\\s\\S]*usage:\\s+6 bytes in 1 files, 0 directories`),
      );
      const unknown = await cli(['sandbox', 'create', '--runtime', 'container', '--mount', 'no-such-slug:/workspace']);
      expect([unknown.code, unknown.stderr]).toEqual([5, expect.stringContaining('no workspace no-such-slug')]);
      expect((await cli(['workspace', 'list'])).stdout).toMatch(new RegExp(`${workspace.id}\\s+cli-files\\s+org`));
      expect((await cli(['workspace', 'delete', workspace.id])).code).toBe(2);
      expect((await cli(['workspace', 'delete', workspace.id, '--yes'])).stdout).toBe(`deleted ${workspace.id}\n`);
      expect((await cli(['sandbox', 'create', '--mount', ':/workspace'])).code).toBe(2);
    },
    15 * 60_000,
  );

  it('exits 2 on usage errors and 7 when the server cannot be reached', async () => {
    const unknown = await cli(['secret', 'list', '--bogus']);
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining("unknown option '--bogus'")]);
    const unreachable = await cli(['whoami', '--url', 'http://127.0.0.1:1']);
    expect([unreachable.code, unreachable.stderr]).toEqual([
      7,
      expect.stringContaining('hint: is the server running?'),
    ]);
    expect((await cli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('runtools server', () => {
  it('prints the admin key once, saves it 0600, stops on SIGTERM, and rotates the root key offline', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runtools-cli-server-'));
    const postgres = testDatabaseKind() === 'postgres' ? await createPostgresDatabase() : undefined;
    const databaseArgs = postgres ? ['--database-url', postgres.url] : [];
    try {
      const first = startServerProcess(dataDir, databaseArgs);
      const url = await first.listening;
      const adminKey = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
      expect(first.stderr()).toContain(adminKey);
      expect(statSync(join(dataDir, 'admin-key')).mode & 0o777).toBe(0o600);
      const set = await runCli(['secret', 'set', 'SURVIVOR', 'still-here', '--url', url, '--api-key', adminKey], {
        configDir: dataDir,
      });
      expect(set.code).toBe(0);
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);

      const rotated = await runCli(['secret', 'rotate-root', '--data-dir', dataDir, ...databaseArgs], {
        configDir: dataDir,
      });
      expect([rotated.code, rotated.stdout]).toEqual([0, expect.stringMatching(/re-wrapped secrets:\s+1/)]);

      const second = startServerProcess(dataDir, databaseArgs);
      const secondUrl = await second.listening;
      expect(second.stderr()).not.toContain('Admin API key');
      const read = await runCli(['secret', 'get', 'SURVIVOR', '--url', secondUrl, '--api-key', adminKey], {
        configDir: dataDir,
      });
      expect(read.stdout).toBe('still-here\n');
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);

      const wrongKey = startServerProcess(dataDir, databaseArgs, {
        RUNTOOLS_MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
      });
      await expect(wrongKey.listening).rejects.toThrow(/is not the root key this database was sealed with/);
      expect(await wrongKey.exited).toBe(2);
    } finally {
      await postgres?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
