import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableDrivers } from '@runtools/runtime';
import { AuthenticationError, ConflictError, NotFoundError, RunTools, ValidationError } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBaseRootfs } from '../../../../test/support/rootfs.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

describe('sandboxes through the SDK', () => {
  let server: TestServer;
  let rt: RunTools;
  const cleanup: { destroy(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    await testBaseRootfs();
    server = await startTestServer();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
  }, 15 * 60_000);
  afterAll(async () => {
    for (const sandbox of cleanup) await sandbox.destroy().catch(() => {});
    await server.close();
  }, 120_000);

  it.each(['gvisor', 'container'] as const)(
    'creates a %s sandbox, runs commands in it and destroys it',
    async (runtime) => {
      const sandbox = await rt.sandboxes.create({
        runtime,
        env: { GREETING: 'hello' },
        metadata: { suite: 'sdk', runtime },
      });
      cleanup.push(sandbox);
      expect(sandbox.status).toBe('running');
      expect(sandbox.info).toMatchObject({ runtime, template: 'minimal', metadata: { suite: 'sdk', runtime } });

      const result = await sandbox.exec('echo "$GREETING from $(cat /etc/debian_version)"; echo oops >&2; exit 4');
      expect(result).toMatchObject({ exitCode: 4, stderr: 'oops\n', timedOut: false });
      expect(result.stdout).toMatch(/^hello from 12\./);
      const scoped = await sandbox.exec('pwd; echo $EXTRA; cat', { cwd: '/usr', env: { EXTRA: 'x' }, stdin: 'in' });
      expect(scoped.stdout).toBe('/usr\nx\nin');
      const background = await sandbox.exec('sleep 30 &');
      expect(background.exitCode).toBe(0);

      const destroyed = await sandbox.destroy();
      expect(destroyed.status).toBe('destroyed');
      expect((await rt.sandboxes.get(sandbox.id)).status).toBe('destroyed');
      const afterDestroy = await sandbox.exec('true').catch((error: unknown) => error);
      expect(afterDestroy).toBeInstanceOf(ConflictError);
      expect((afterDestroy as ConflictError).code).toBe('sandbox_not_running');
    },
  );

  it.each(['gvisor', 'container'] as const)(
    'streams %s output while the command runs, in order, exit last',
    async (runtime) => {
      const sandbox = await rt.sandboxes.create({ runtime });
      cleanup.push(sandbox);
      const seen: string[] = [];
      for await (const chunk of sandbox.execStream(
        'echo first; sleep 1; printf "h\\303\\251llo\\n"; sleep 0.2; echo err >&2',
      ))
        seen.push(chunk);
      expect(seen.join('')).toBe('first\nhéllo\nerr\n');
      // The first line arrived on its own, a second before the rest was even written.
      expect(seen[0]).toBe('first\n');

      const parts: string[] = [];
      const result = await sandbox.exec('echo out; echo bad >&2; exit 5', {
        onStdout: (text) => parts.push(`out:${text}`),
        onStderr: (text) => parts.push(`err:${text}`),
      });
      expect(result).toEqual({ stdout: 'out\n', stderr: 'bad\n', exitCode: 5, timedOut: false });
      expect(parts.sort()).toEqual(['err:bad\n', 'out:out\n']);

      // A timeout kills the command inside the sandbox, not just the client waiting for it.
      const slow = await sandbox.exec('sleep 3; touch /root/late', { timeout: 500 });
      expect(slow.timedOut).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      expect((await sandbox.exec('test -e /root/late; echo $?')).stdout).toBe('1\n');
      await sandbox.destroy();
      const refused = (async () => {
        for await (const chunk of sandbox.execStream('true')) void chunk;
      })();
      await expect(refused).rejects.toBeInstanceOf(ConflictError);
    },
  );

  it.each(['gvisor', 'container'] as const)(
    'reads, writes, lists and removes %s files, binary-safe',
    async (runtime) => {
      const sandbox = await rt.sandboxes.create({ runtime });
      cleanup.push(sandbox);
      await sandbox.files.write('/app/src/hello.txt', 'héllo\n');
      expect(await sandbox.files.read('/app/src/hello.txt')).toBe('héllo\n');
      expect((await sandbox.exec('cat /app/src/hello.txt')).stdout).toBe('héllo\n');
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
      await sandbox.files.upload('/app/data.bin', bytes);
      expect(Buffer.compare(await sandbox.files.download('/app/data.bin'), bytes)).toBe(0);
      await sandbox.files.mkdir('/app/empty dir');
      await sandbox.files.write('/app/-n', 'dash');
      const listed = await sandbox.files.list('/app');
      expect(listed.map(({ name, type, size }) => ({ name, type, size }))).toEqual([
        { name: '-n', type: 'file', size: 4 },
        { name: 'data.bin', type: 'file', size: 256 },
        { name: 'empty dir', type: 'dir', size: expect.any(Number) },
        { name: 'src', type: 'dir', size: expect.any(Number) },
      ]);
      expect(listed[0]).toMatchObject({ mode: 0o644, modifiedAt: expect.stringMatching(/^\d{4}-/) });
      await sandbox.files.replace('/app/src/hello.txt', { old: 'héllo', new: 'bye' });
      expect(await sandbox.files.read('/app/src/hello.txt')).toBe('bye\n');
      await expect(sandbox.files.replace('/app/src/hello.txt', { old: 'absent', new: 'x' })).rejects.toBeInstanceOf(
        ValidationError,
      );
      expect(await sandbox.files.exists('/app/src/hello.txt')).toBe(true);
      await sandbox.files.remove('/app/src');
      expect(await sandbox.files.exists('/app/src/hello.txt')).toBe(false);
      await expect(sandbox.files.read('/app/src/hello.txt')).rejects.toMatchObject({ code: 'file_not_found' });
      await expect(sandbox.files.read('/app')).rejects.toBeInstanceOf(ValidationError);
      await expect(sandbox.files.list('/app/data.bin')).rejects.toBeInstanceOf(ValidationError);
      await expect(sandbox.files.read('relative/path')).rejects.toBeInstanceOf(ValidationError);
      await expect(sandbox.files.remove('/')).rejects.toBeInstanceOf(ValidationError);
      // A path that climbs out of the sandbox stays inside it: the sandbox root is the boundary.
      await sandbox.files.write('/../../../../tmp/escape-check', 'inside');
      expect(await sandbox.files.read('/tmp/escape-check')).toBe('inside');
      expect(existsSync('/tmp/escape-check')).toBe(false);
    },
  );

  it('lists by status and metadata', async () => {
    const sandbox = await rt.sandboxes.create({ runtime: 'container', metadata: { userId: 'u1' } });
    cleanup.push(sandbox);
    expect((await rt.sandboxes.list({ metadata: { userId: 'u1' } })).map((item) => item.id)).toEqual([sandbox.id]);
    expect(await rt.sandboxes.list({ metadata: { userId: 'nobody' } })).toEqual([]);
    expect((await rt.sandboxes.list({ status: 'running' })).map((item) => item.id)).toContain(sandbox.id);
    expect((await rt.sandboxes.list({ status: 'destroyed' })).map((item) => item.id)).not.toContain(sandbox.id);
    const gone = await rt.sandboxes.create({ runtime: 'container', metadata: { userId: 'u1' } });
    await gone.destroy();
    expect((await rt.sandboxes.list({ metadata: { userId: 'u1' } })).map((item) => item.id)).toEqual([sandbox.id]);
    expect(
      (await rt.sandboxes.list({ status: 'destroyed', metadata: { userId: 'u1' } })).map((item) => item.id),
    ).toEqual([gone.id]);
  });

  it('rejects an unknown template, malformed resources and a timeout kills a runaway command', async () => {
    await expect(rt.sandboxes.create({ template: 'no-such-template' })).rejects.toMatchObject({
      code: 'template_not_found',
    });
    await expect(rt.sandboxes.create({ resources: { memory: 'lots' } })).rejects.toBeInstanceOf(ValidationError);
    const sandbox = await rt.sandboxes.create({ runtime: 'container' });
    cleanup.push(sandbox);
    const slow = await sandbox.exec('sleep 20', { timeout: 500 });
    expect(slow.timedOut).toBe(true);
    expect(slow.exitCode).not.toBe(0);
  });

  it("keeps one org out of another's sandboxes", async () => {
    const sandbox = await rt.sandboxes.create({ runtime: 'container' });
    cleanup.push(sandbox);
    const other = await rt.orgs.create({ name: 'Other Org' });
    const outsider = new RunTools({ apiKey: other.apiKey.key, baseUrl: server.url });
    await expect(outsider.sandboxes.get(sandbox.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(outsider.sandboxes.list()).resolves.toEqual([]);
    const handle = await rt.sandboxes.get(sandbox.id);
    const stranger = new RunTools({ apiKey: other.apiKey.key, baseUrl: server.url });
    await expect((await stranger.sandboxes.list()).length).toBe(0);
    await expect(
      new RunTools({
        apiKey: 'rt_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        baseUrl: server.url,
      }).sandboxes.get(handle.id),
    ).rejects.toBeInstanceOf(AuthenticationError);
    const destroyAttempt = await server.request('DELETE', `/v1/sandboxes/${sandbox.id}`, { key: other.apiKey.key });
    expect(destroyAttempt.status).toBe(404);
    expect((await sandbox.refresh()).status).toBe('running');
  });
});

describe('sandboxes across a control-plane restart', () => {
  it(
    're-attaches sandboxes that still run and marks vanished ones suspected_missing',
    async () => {
      await testBaseRootfs();
      const server = await startTestServer();
      try {
        const rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
        const survivor = await rt.sandboxes.create({ runtime: 'container' });
        const vanished = await rt.sandboxes.create({ runtime: 'container' });
        const saved = await rt.sandboxes.create({ runtime: 'gvisor' });
        await saved.exec('n=0; while true; do n=$((n+1)); echo $n > /root/n; sleep 0.05; done', { background: true });
        await expect.poll(async () => Number((await saved.exec('cat /root/n')).stdout)).toBeGreaterThan(2);
        expect((await saved.pause()).pausedTo).toBe('disk');
        await survivor.exec('echo kept > /root/state');
        await server.running.close();
        // The runtime loses one sandbox while the control plane is down.
        await availableDrivers(join(server.dataDir, 'sandboxes')).drivers.container?.destroy(vanished.id);
        await server.restart();
        const after = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
        const reattached = await after.sandboxes.get(survivor.id);
        expect(reattached.status).toBe('running');
        expect((await reattached.exec('cat /root/state')).stdout).toBe('kept\n');
        const missing = await after.sandboxes.get(vanished.id);
        expect(missing.status).toBe('suspected_missing');
        expect(missing.info.statusReason).toMatch(/no longer runs/);
        await expect(missing.exec('true')).rejects.toBeInstanceOf(ConflictError);
        expect((await missing.destroy()).status).toBe('destroyed');
        // Paused to disk before the restart: still paused, and it resumes with its counter going on.
        const stillSaved = await after.sandboxes.get(saved.id);
        expect(stillSaved.info).toMatchObject({ status: 'paused', pausedTo: 'disk' });
        await stillSaved.resume();
        const frozen = Number((await stillSaved.exec('cat /root/n')).stdout);
        await expect.poll(async () => Number((await stillSaved.exec('cat /root/n')).stdout)).toBeGreaterThan(frozen);
        expect(frozen).toBeGreaterThan(2);
        await stillSaved.destroy();
        await reattached.destroy();
      } finally {
        await server.close();
      }
    },
    15 * 60_000,
  );
});
