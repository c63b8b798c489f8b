import { randomBytes } from 'node:crypto';
import { NotFoundError, RunTools, ValidationError } from '@runtools/sdk';
import { describe, expect, it } from 'vitest';
import { useSandboxServer } from '../../../../test/support/server.js';

describe('workspaces', () => {
  const fixture = useSandboxServer();

  it('creates, lists, renames, measures and deletes workspaces; slugs are unique per org', async () => {
    const created = await fixture.rt.workspaces.create({ name: 'Project Files' });
    expect(created).toMatchObject({ name: 'Project Files', slug: 'project-files', kind: 'org', ownerMemberId: null });
    expect(created.id).toMatch(/^wsp_/);
    await expect(fixture.rt.workspaces.create({ name: 'Project Files' })).rejects.toMatchObject({
      code: 'workspace_exists',
    });
    expect((await fixture.rt.workspaces.rename(created.id, 'Renamed')).name).toBe('Renamed');
    expect((await fixture.rt.workspaces.get(created.id)).slug).toBe('project-files');
    expect((await fixture.rt.workspaces.list()).map((item) => item.id)).toContain(created.id);
    expect(await fixture.rt.workspaces.usage(created.id)).toEqual({ bytes: 0, files: 0, directories: 0 });
    await fixture.rt.workspaces.delete(created.id);
    await expect(fixture.rt.workspaces.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(fixture.rt.workspaces.create({ name: 'x', kind: 'shared' as 'org' })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it.each(['gvisor', 'container'] as const)(
    'keeps files written in a %s sandbox after it is destroyed, for the next sandbox that mounts it',
    async (runtime) => {
      const workspace = await fixture.rt.workspaces.create({ name: `Kept ${runtime}` });
      const first = await fixture.rt.sandboxes.create({
        runtime,
        mounts: [{ workspaceId: workspace.id, path: '/workspace' }],
      });
      fixture.track(first);
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

      expect(await fixture.rt.workspaces.usage(workspace.id)).toEqual({ bytes: 13, files: 2, directories: 2 });
      const second = await fixture.rt.sandboxes.create({
        runtime,
        mounts: [{ workspaceId: workspace.id, path: '/workspace/project' }],
      });
      fixture.track(second);
      expect((await second.exec('cat /workspace/project/kept.txt /workspace/project/src/deep/main.c')).stdout).toBe(
        'one\ntwo\ncode\n',
      );
      await expect(fixture.rt.workspaces.delete(workspace.id)).rejects.toMatchObject({ code: 'workspace_in_use' });
      await second.destroy();
      await fixture.rt.workspaces.delete(workspace.id);
    },
    120_000,
  );

  it('refuses personal workspaces as mounts, paths outside /workspace, two mounts at one path, and other orgs', async () => {
    const personal = await fixture.rt.workspaces.create({ name: 'Mine', kind: 'personal' });
    expect(personal.kind).toBe('personal');
    await expect(
      fixture.rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: personal.id }] }),
    ).rejects.toMatchObject({ code: 'workspace_not_mountable' });
    const shared = await fixture.rt.workspaces.create({ name: 'Shared' });
    for (const path of ['/etc', '/workspace/../etc', '/workspacefoo', 'workspace', '/workspace/a/./b']) {
      await expect(
        fixture.rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: shared.id, path }] }),
        path,
      ).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(
      fixture.rt.sandboxes.create({
        runtime: 'container',
        mounts: [
          { workspaceId: shared.id, path: '/workspace' },
          { workspaceId: shared.id, path: '/workspace' },
        ],
      }),
    ).rejects.toBeInstanceOf(ValidationError);

    const other = await fixture.rt.orgs.create({ name: 'Workspace Outsiders' });
    const outsider = new RunTools({ apiKey: other.apiKey.key, baseUrl: fixture.server.url });
    await expect(outsider.workspaces.get(shared.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      outsider.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: shared.id }] }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await outsider.workspaces.list()).toEqual([]);

    // A member sees org workspaces but not another member's personal one; the owner (an admin) sees both.
    const { token } = await fixture.rt.members.invite({ email: 'member@example.com', role: 'member' });
    const added = await RunTools.signUp({ token, baseUrl: fixture.server.url });
    const member = new RunTools({ apiKey: added.apiKey.key, baseUrl: fixture.server.url });
    const visible = (await member.workspaces.list()).map((item) => item.id);
    expect(visible).toContain(shared.id);
    expect(visible).not.toContain(personal.id);
    await expect(member.workspaces.get(personal.id)).rejects.toBeInstanceOf(NotFoundError);
    const theirs = await member.workspaces.create({ name: 'Theirs', kind: 'personal' });
    expect((await fixture.rt.workspaces.list()).map((item) => item.id)).toContain(theirs.id);
    await expect(member.workspaces.delete(shared.id)).resolves.toBeUndefined();
    await expect(fixture.rt.workspaces.delete(shared.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(fixture.rt.workspaces.delete(personal.id)).resolves.toBeUndefined();
  });

  it('serves a workspace over REST: list, upload, download, info, mkdir, move, copy, rename, delete', async () => {
    const workspace = await fixture.rt.workspaces.create({ name: 'REST files' });
    const files = fixture.rt.workspaces.files(workspace.id);
    const big = randomBytes(5 * 1024 * 1024 + 3);
    expect(await files.upload('/data/big.bin', big)).toMatchObject({
      path: '/data/big.bin',
      type: 'file',
      size: big.length,
    });
    expect(Buffer.from(await files.download('/data/big.bin')).equals(big)).toBe(true);
    await files.upload('/.hidden', 'secret');
    await files.mkdir('/src/lib');
    expect((await files.list('/')).map((entry) => `${entry.type} ${entry.name}`)).toEqual(['dir data', 'dir src']);
    expect((await files.list('/', { showHidden: true })).map((entry) => entry.name)).toEqual([
      '.hidden',
      'data',
      'src',
    ]);
    expect(await files.info('/data/big.bin')).toMatchObject({ name: 'big.bin', size: big.length });
    await files.copy('/data', '/backup');
    expect(Buffer.from(await files.download('/backup/big.bin')).equals(big)).toBe(true);
    await files.move('/backup/big.bin', '/src/lib/moved.bin');
    await files.rename('/src/lib/moved.bin', 'renamed.bin');
    expect((await files.list('/src/lib')).map((entry) => entry.name)).toEqual(['renamed.bin']);
    await files.remove('/backup');
    await expect(files.info('/backup')).rejects.toMatchObject({ code: 'file_not_found' });
    expect(await fixture.rt.workspaces.usage(workspace.id)).toEqual({
      bytes: 2 * big.length + 6,
      files: 3,
      directories: 3,
    });

    const attachment = await fetch(
      `${fixture.server.url}/v1/workspaces/${workspace.id}/files/content?path=/data/big.bin&download=true`,
      { headers: { authorization: `Bearer ${fixture.server.adminKey}` } },
    );
    expect(attachment.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''big.bin");
    expect(attachment.headers.get('content-length')).toBe(String(big.length));
    await attachment.body?.cancel();

    const uploaded = await files.uploadMany('/inbox', [
      { name: 'a.txt', data: 'A' },
      { name: 'b.bin', data: Buffer.from([1, 2, 3]) },
    ]);
    expect(uploaded.map((entry) => `${entry.path} ${entry.size}`)).toEqual(['/inbox/a.txt 1', '/inbox/b.bin 3']);
    const curlStyle = new FormData();
    curlStyle.append('file', new Blob(['x']), '../escape.txt');
    const stripped = await fetch(`${fixture.server.url}/v1/workspaces/${workspace.id}/files/upload?path=/inbox`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.server.adminKey}` },
      body: curlStyle,
    });
    // A directory in a part's file name is dropped: the file lands in the directory asked for, nowhere else.
    expect(((await stripped.json()) as { data: { path: string }[] }).data.map((entry) => entry.path)).toEqual([
      '/inbox/escape.txt',
    ]);
    const notForm = await fetch(`${fixture.server.url}/v1/workspaces/${workspace.id}/files/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fixture.server.adminKey}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(notForm.status).toBe(415);
    await files.remove('/inbox');

    // What a sandbox that mounts it sees is the same files, both ways.
    const box = await fixture.rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: workspace.id }] });
    fixture.track(box);
    expect((await box.exec('cat /workspace/.hidden')).stdout).toBe('secret');
    await box.exec('echo from-sandbox > /workspace/made-inside.txt');
    expect(await files.read('/made-inside.txt')).toBe('from-sandbox\n');
    await box.destroy();
  });

  it('refuses paths that escape the workspace: .., NUL, over-long names, symlinks out', async () => {
    const workspace = await fixture.rt.workspaces.create({ name: 'Escapes' });
    const files = fixture.rt.workspaces.files(workspace.id);
    await files.upload('/inside.txt', 'inside');
    for (const path of ['/../outside', '/a/../../etc/passwd', '..', '/a/./b', `/${'x'.repeat(256)}`, '/nul\0byte']) {
      await expect(files.info(path), path).rejects.toBeInstanceOf(ValidationError);
      await expect(files.upload(path, 'x'), path).rejects.toBeInstanceOf(ValidationError);
    }
    // A sandbox can plant symlinks pointing out of the workspace; the REST API does not follow them.
    const box = await fixture.rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: workspace.id }] });
    fixture.track(box);
    await box.exec(
      'ln -s /etc /workspace/etc-link && ln -s /etc/hostname /workspace/host-link && ln -s / /workspace/root',
    );
    await box.destroy();
    await expect(files.list('/etc-link')).rejects.toBeInstanceOf(ValidationError);
    await expect(files.download('/host-link')).rejects.toBeInstanceOf(ValidationError);
    await expect(files.download('/root/etc/passwd')).rejects.toBeInstanceOf(ValidationError);
    await expect(files.upload('/root/tmp/planted', 'x')).rejects.toBeInstanceOf(ValidationError);
    await expect(files.upload('/host-link', 'overwrite')).rejects.toBeInstanceOf(ValidationError);
    await expect(files.copy('/etc-link', '/copied')).rejects.toBeInstanceOf(ValidationError);
    expect(await files.info('/host-link')).toMatchObject({ type: 'symlink' });
    await files.remove('/host-link');
    expect((await files.list('/')).map((entry) => entry.name)).toEqual(['etc-link', 'inside.txt', 'root']);
    expect(await files.read('/inside.txt')).toBe('inside');
  });
});
