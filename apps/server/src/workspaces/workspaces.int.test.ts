import { NotFoundError, RunTools, type Sandbox, ValidationError } from '@runtools/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBaseRootfs } from '../../../../test/support/rootfs.js';
import { startTestServer, type TestServer } from '../../../../test/support/server.js';

describe('workspaces', () => {
  let server: TestServer;
  let rt: RunTools;
  const cleanup: Sandbox[] = [];

  beforeAll(async () => {
    await testBaseRootfs();
    server = await startTestServer();
    rt = new RunTools({ apiKey: server.adminKey, baseUrl: server.url });
  }, 15 * 60_000);
  afterAll(async () => {
    for (const sandbox of cleanup) await sandbox.destroy().catch(() => {});
    await server.close();
  }, 120_000);

  it('creates, lists, renames, measures and deletes workspaces; slugs are unique per org', async () => {
    const created = await rt.workspaces.create({ name: 'Project Files' });
    expect(created).toMatchObject({ name: 'Project Files', slug: 'project-files', kind: 'org', ownerMemberId: null });
    expect(created.id).toMatch(/^wsp_/);
    await expect(rt.workspaces.create({ name: 'Project Files' })).rejects.toMatchObject({ code: 'workspace_exists' });
    expect((await rt.workspaces.rename(created.id, 'Renamed')).name).toBe('Renamed');
    expect((await rt.workspaces.get(created.id)).slug).toBe('project-files');
    expect((await rt.workspaces.list()).map((item) => item.id)).toContain(created.id);
    expect(await rt.workspaces.usage(created.id)).toEqual({ bytes: 0, files: 0, directories: 0 });
    await rt.workspaces.delete(created.id);
    await expect(rt.workspaces.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(rt.workspaces.create({ name: 'x', kind: 'shared' as 'org' })).rejects.toBeInstanceOf(ValidationError);
  });

  it.each(['gvisor', 'container'] as const)(
    'keeps files written in a %s sandbox after it is destroyed, for the next sandbox that mounts it',
    async (runtime) => {
      const workspace = await rt.workspaces.create({ name: `Kept ${runtime}` });
      const first = await rt.sandboxes.create({ runtime, mounts: [{ workspaceId: workspace.id, path: '/workspace' }] });
      cleanup.push(first);
      expect(first.info.mounts).toEqual([{ workspaceId: workspace.id, path: '/workspace' }]);
      const posix = await first.exec(
        [
          'cd /workspace',
          'echo one > notes.txt && echo two >> notes.txt',
          'mv notes.txt kept.txt',
          'mkdir -p src/deep && echo code > src/deep/main.c',
          'flock kept.txt -c "echo locked"',
        ].join(' && '),
      );
      expect(posix).toMatchObject({ exitCode: 0, stdout: 'locked\n' });
      await first.destroy();

      expect(await rt.workspaces.usage(workspace.id)).toEqual({ bytes: 13, files: 2, directories: 2 });
      const second = await rt.sandboxes.create({
        runtime,
        mounts: [{ workspaceId: workspace.id, path: '/workspace/project' }],
      });
      cleanup.push(second);
      expect((await second.exec('cat /workspace/project/kept.txt /workspace/project/src/deep/main.c')).stdout).toBe(
        'one\ntwo\ncode\n',
      );
      await expect(rt.workspaces.delete(workspace.id)).rejects.toMatchObject({ code: 'workspace_in_use' });
      await second.destroy();
      await rt.workspaces.delete(workspace.id);
    },
    120_000,
  );

  it('refuses personal workspaces as mounts, paths outside /workspace, two mounts at one path, and other orgs', async () => {
    const personal = await rt.workspaces.create({ name: 'Mine', kind: 'personal' });
    expect(personal.kind).toBe('personal');
    await expect(
      rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: personal.id }] }),
    ).rejects.toMatchObject({ code: 'workspace_not_mountable' });
    const shared = await rt.workspaces.create({ name: 'Shared' });
    for (const path of ['/etc', '/workspace/../etc', '/workspacefoo', 'workspace', '/workspace/a/./b']) {
      await expect(
        rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: shared.id, path }] }),
        path,
      ).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(
      rt.sandboxes.create({
        runtime: 'container',
        mounts: [
          { workspaceId: shared.id, path: '/workspace' },
          { workspaceId: shared.id, path: '/workspace' },
        ],
      }),
    ).rejects.toBeInstanceOf(ValidationError);

    const other = await rt.orgs.create({ name: 'Workspace Outsiders' });
    const outsider = new RunTools({ apiKey: other.apiKey.key, baseUrl: server.url });
    await expect(outsider.workspaces.get(shared.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      outsider.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: shared.id }] }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await outsider.workspaces.list()).toEqual([]);

    // A member sees org workspaces but not another member's personal one; the owner (an admin) sees both.
    const added = await rt.members.add({ email: 'member@example.com', role: 'member' });
    const member = new RunTools({ apiKey: added.apiKey.key, baseUrl: server.url });
    const visible = (await member.workspaces.list()).map((item) => item.id);
    expect(visible).toContain(shared.id);
    expect(visible).not.toContain(personal.id);
    await expect(member.workspaces.get(personal.id)).rejects.toBeInstanceOf(NotFoundError);
    const theirs = await member.workspaces.create({ name: 'Theirs', kind: 'personal' });
    expect((await rt.workspaces.list()).map((item) => item.id)).toContain(theirs.id);
    await expect(member.workspaces.delete(shared.id)).resolves.toBeUndefined();
    await expect(rt.workspaces.delete(shared.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(rt.workspaces.delete(personal.id)).resolves.toBeUndefined();
  });
});
