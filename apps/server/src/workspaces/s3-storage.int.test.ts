import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '@runtools/runtime';
import { RunTools, type Sandbox } from '@runtools/sdk';
import { resolveServerConfig, startServer } from '@runtools/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBaseRootfs } from '../../../../test/support/rootfs.js';
import { startS3 } from '../../../../test/support/s3.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

describe('workspaces stored in an S3-compatible bucket', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  let server: TestServer;
  let rt: RunTools;
  const cleanup: Sandbox[] = [];

  beforeAll(async () => {
    await testBaseRootfs();
    s3 = await startS3();
    server = await startTestServer(s3.env);
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
  }, 15 * 60_000);
  afterAll(async () => {
    for (const sandbox of cleanup) await sandbox.destroy().catch(() => {});
    // Unmounted first: the test server removes its data dir when it closes, and the bucket must not go with it.
    for (const dir of [server.dataDir, join(server.dataDir, 'other')])
      await runCommand('umount', ['-l', join(dir, 's3-mount')]);
    await server?.close();
    await s3?.close();
  }, 120_000);

  it.each(['gvisor', 'container'] as const)(
    'keeps what a %s sandbox writes in the bucket, for the file API and the next sandbox',
    async (runtime) => {
      const workspace = await rt.workspaces.create({ name: `S3 ${runtime}` });
      const files = rt.workspaces.files(workspace.id);
      await files.upload('/from-api.txt', 'uploaded\n');
      const first = await rt.sandboxes.create({ runtime, mounts: [{ workspaceId: workspace.id, path: '/workspace' }] });
      cleanup.push(first);
      const posix = await first.exec(
        [
          'cd /workspace',
          'cat from-api.txt',
          'echo one > notes.txt && echo two >> notes.txt',
          'mv notes.txt kept.txt',
          'mkdir -p src/deep && echo code > src/deep/main.c',
          'flock kept.txt -c "echo locked"',
        ].join(' && '),
      );
      expect(posix).toMatchObject({ exitCode: 0, stdout: 'uploaded\nlocked\n' });
      await first.destroy();

      // In the bucket itself, under the workspace's prefix.
      const key = `workspaces/${workspace.id}/kept.txt`;
      expect(readFileSync(s3.objectPath(key), 'utf8')).toBe('one\ntwo\n');
      expect(existsSync(s3.objectPath(`workspaces/${workspace.id}/notes.txt`))).toBe(false);
      expect(await files.read('/src/deep/main.c')).toBe('code\n');
      expect(await rt.workspaces.usage(workspace.id)).toMatchObject({ files: 3 });

      const second = await rt.sandboxes.create({
        runtime,
        mounts: [{ workspaceId: workspace.id, path: '/workspace' }],
      });
      cleanup.push(second);
      expect((await second.exec('cat /workspace/kept.txt')).stdout).toBe('one\ntwo\n');
      await expect(files.download('/../../s3-passwd')).rejects.toMatchObject({ code: 'validation_failed' });
      expect((await second.exec('cat /proc/mounts; ls / /workspace')).stdout).not.toContain('S3RVER');
    },
  );

  it('finds the mount in place after a restart, and its workspaces whole', async () => {
    const workspace = await rt.workspaces.create({ name: 'S3 restart' });
    await rt.workspaces.files(workspace.id).upload('/kept.txt', 'still here');
    await server.restart();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
    expect(await rt.workspaces.files(workspace.id).read('/kept.txt')).toBe('still here');
    await rt.workspaces.delete(workspace.id);
    expect(existsSync(s3.objectPath(`workspaces/${workspace.id}/kept.txt`))).toBe(false);
  });

  it('refuses to start with missing or unreachable S3 settings, saying which', async () => {
    expect(() => resolveServerConfig({ dataDir: '/tmp/x' }, { ...s3.env, RUNTOOLS_S3_BUCKET: undefined })).toThrow(
      /RUNTOOLS_S3_BUCKET/,
    );
    expect(() => resolveServerConfig({ dataDir: '/tmp/x' }, { ...s3.env, RUNTOOLS_WORKSPACE_STORAGE: 'ftp' })).toThrow(
      /RUNTOOLS_WORKSPACE_STORAGE: local or s3/,
    );
    const unreachable = resolveServerConfig(
      { dataDir: join(server.dataDir, 'other'), port: 0, logLevel: 'silent' },
      { ...s3.env, RUNTOOLS_S3_ENDPOINT: 'http://127.0.0.1:1' },
    );
    await expect(startServer(unreachable)).rejects.toThrow(/cannot mount bucket runtools from http:\/\/127.0.0.1:1/);
  });
});
