import { existsSync, readdirSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '@runtools/runtime';
import { RunTools } from '@runtools/sdk';
import { describe, expect, it } from 'vitest';
import { useSandboxServer } from '../support/server.js';

/**
 * A tenant fills what it is given: a sandbox's disk, its org's snapshots and workspaces (through the API and
 * from inside a sandbox that mounts one). The host's disk stays out of its reach, and one org at its quota
 * takes nothing from another.
 */

const MiB = 1024 ** 2;
const diskBytes = 256 * MiB;
const quotaBytes = 600 * MiB;

/** The sandbox's directory in the runtime's state dir, under whichever driver runs it. */
function sandboxDir(dataDir: string, id: string): string | undefined {
  const state = join(dataDir, 'sandboxes');
  for (const driver of existsSync(state) ? readdirSync(state) : []) {
    if (existsSync(join(state, driver, id))) return join(state, driver, id);
  }
  return undefined;
}

async function loopDevicesUnder(dir: string): Promise<string[]> {
  const listed = await runCommand('losetup', ['-a']);
  return listed.stdout
    .toString('utf8')
    .split('\n')
    .filter((line) => line.includes(dir));
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('bounded sandbox disks', () => {
  const fixture = useSandboxServer({ RUNTOOLS_SANDBOX_DISK: '256MiB', RUNTOOLS_ORG_STORAGE_QUOTA: '0' });

  it.each(['container', 'gvisor'] as const)(
    'gives a %s sandbox created without a disk the default one: writing past it is ENOSPC inside, the host disk holds no more than the limit, and destroy leaves no loop device or mount',
    async (runtime) => {
      const box = await fixture.rt.sandboxes.create({ runtime });
      fixture.track(box);
      expect(box.info.resources.diskBytes).toBe(diskBytes);
      const dir = sandboxDir(fixture.server.dataDir, box.id);
      expect(dir).toBeDefined();
      const image = join(dir as string, 'disk.img');
      const freeBefore = statfsSync(fixture.server.dataDir);

      const fill = await box.exec('dd if=/dev/zero of=/root/fill bs=1M count=400 2>&1; sync; ls -l /root/fill');
      expect(fill.stdout).toMatch(/No space left on device/);
      // The image is sparse: what the host gave is what was written, never more than the limit.
      expect(statSync(image).blocks * 512).toBeLessThanOrEqual(diskBytes + 8 * MiB);
      const freeAfter = statfsSync(fixture.server.dataDir);
      expect((freeBefore.bavail - freeAfter.bavail) * freeAfter.bsize).toBeLessThan(diskBytes + 64 * MiB);
      const stats = await box.stats();
      expect(stats.diskLimitBytes).toBeLessThanOrEqual(diskBytes);
      expect(stats.diskBytes).toBeGreaterThan(200 * MiB);
      // The sandbox keeps working once it frees space.
      expect((await box.exec('rm /root/fill && echo freed > /root/ok && cat /root/ok')).stdout).toBe('freed\n');

      expect(await loopDevicesUnder(dir as string)).toHaveLength(1);
      await box.destroy();
      expect(existsSync(dir as string)).toBe(false);
      // The layer is unmounted lazily; its loop device goes with the last reference.
      await until(async () => (await loopDevicesUnder(dir as string)).length === 0);
      const mounts = await runCommand('cat', ['/proc/self/mountinfo']);
      expect(mounts.stdout.toString('utf8')).not.toContain(dir);
    },
    120_000,
  );

  it('keeps a disk the caller asks for, between 64 MB and the host limit', async () => {
    const box = fixture.track(await fixture.rt.sandboxes.create({ runtime: 'container', resources: { disk: '96MB' } }));
    expect(box.info.resources.diskBytes).toBe(96_000_000);
  });
});

describe('the org storage quota', () => {
  const fixture = useSandboxServer({
    RUNTOOLS_SANDBOX_DISK: '256MiB',
    RUNTOOLS_ORG_STORAGE_QUOTA: '600MiB',
  });

  it('counts sandbox disks, snapshots and workspaces (sandbox writes included), refuses what passes the quota with storage_quota_exceeded, and leaves another org unaffected', async () => {
    const { rt, server } = fixture;
    const empty = await rt.orgs.usage();
    expect(empty).toEqual({
      quotaBytes,
      usedBytes: 0,
      sandboxDiskBytes: 0,
      sandboxes: 0,
      snapshotBytes: 0,
      snapshots: 0,
      workspaceBytes: 0,
      workspaces: 0,
    });

    const workspace = await rt.workspaces.create({ name: 'Quota' });
    await rt.workspaces.files(workspace.id).upload('/api.bin', Buffer.alloc(100_000, 1));
    const first = fixture.track(
      await rt.sandboxes.create({ runtime: 'container', mounts: [{ workspaceId: workspace.id, path: '/workspace' }] }),
    );
    const second = fixture.track(await rt.sandboxes.create({ runtime: 'container', resources: { disk: '64MiB' } }));
    const snapshot = await first.snapshot();
    // The sandbox writes into its mounted workspace: no API call sees it, the count does.
    await first.exec('dd if=/dev/zero of=/workspace/inside.bin bs=1M count=50 2>&1; sync');
    const used = await rt.orgs.usage();
    expect(used).toMatchObject({
      quotaBytes,
      sandboxDiskBytes: diskBytes + 64 * MiB,
      sandboxes: 2,
      snapshotBytes: snapshot.sizeBytes,
      snapshots: 1,
      workspaces: 1,
    });
    expect(used.workspaceBytes).toBeGreaterThanOrEqual(100_000 + 50 * MiB);
    expect(used.workspaceBytes).toBeLessThan(100_000 + 52 * MiB);
    expect(used.usedBytes).toBe(used.sandboxDiskBytes + used.snapshotBytes + used.workspaceBytes);

    // A third default disk would pass the quota: refused before anything is recorded.
    const refused = await server.request('POST', '/v1/sandboxes', { body: { runtime: 'container' } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('storage_quota_exceeded');
    expect((await rt.orgs.usage()).sandboxes).toBe(2);
    // An upload larger than what is left stops at the quota and leaves no file behind.
    const left = quotaBytes - (await rt.orgs.usage()).usedBytes;
    await expect(
      rt.workspaces.files(workspace.id).upload('/too-big.bin', Buffer.alloc(left + MiB)),
    ).rejects.toMatchObject({ code: 'storage_quota_exceeded' });
    expect((await rt.workspaces.files(workspace.id).list('/')).map((entry) => entry.name).sort()).toEqual([
      'api.bin',
      'inside.bin',
    ]);

    // The sandbox fills its workspace past the quota (nothing bounds a workspace but the count): from then
    // on the org takes nothing more.
    await first.exec(`dd if=/dev/zero of=/workspace/more.bin bs=1M count=${Math.ceil(left / MiB) + 1} 2>&1; sync`);
    expect((await rt.orgs.usage()).usedBytes).toBeGreaterThan(quotaBytes);
    await expect(rt.sandboxes.create({ runtime: 'container', resources: { disk: '64MiB' } })).rejects.toMatchObject({
      code: 'storage_quota_exceeded',
    });
    await expect(first.snapshot()).rejects.toMatchObject({ code: 'storage_quota_exceeded' });
    await expect(first.branch({ snapshot: snapshot.id })).rejects.toMatchObject({ code: 'storage_quota_exceeded' });
    await expect(rt.workspaces.files(workspace.id).upload('/small.txt', 'x')).rejects.toMatchObject({
      code: 'storage_quota_exceeded',
    });
    await expect(rt.workspaces.files(workspace.id).copy('/api.bin', '/copy.bin')).rejects.toMatchObject({
      code: 'storage_quota_exceeded',
    });
    expect((await rt.orgs.usage()).snapshots).toBe(1);

    // Another org is unaffected.
    const other = await rt.orgs.create({ name: 'Other quota org' });
    const otherRt = new RunTools({ apiKey: other.apiKey.key, baseUrl: server.url });
    const otherBox = fixture.track(await otherRt.sandboxes.create({ runtime: 'container' }));
    await otherBox.snapshot();
    const otherWorkspace = await otherRt.workspaces.create({ name: 'Other' });
    await otherRt.workspaces.files(otherWorkspace.id).upload('/a.txt', 'fine');
    expect(await otherRt.orgs.usage()).toMatchObject({ sandboxDiskBytes: diskBytes, sandboxes: 1, snapshots: 1 });

    // Freeing space (destroying a sandbox, deleting files) makes room again.
    await second.destroy();
    await first.exec('rm /workspace/more.bin');
    const again = await first.snapshot();
    expect((await rt.orgs.usage()).snapshots).toBe(2);
    await first.snapshots.delete(again.id);
    await first.snapshots.delete(snapshot.id);
    expect((await rt.orgs.usage()).snapshotBytes).toBe(0);
  }, 180_000);

  it('checks concurrent creates one after the other: no two pass the quota together', async () => {
    const org = await fixture.rt.orgs.create({ name: 'Concurrent quota org' });
    const rt = new RunTools({ apiKey: org.apiKey.key, baseUrl: fixture.server.url });
    // A workspace to count makes each check take a while: the window two unserialised checks would share.
    const workspace = await rt.workspaces.create({ name: 'Counted' });
    for (let index = 0; index < 20; index++) await rt.workspaces.files(workspace.id).upload(`/f${index}`, 'x');
    // Raw requests, each on its own connection, all sent before any is answered.
    const responses = await Promise.all(
      Array.from({ length: 4 }, () =>
        fixture.server.request('POST', '/v1/sandboxes', { key: org.apiKey.key, body: { runtime: 'container' } }),
      ),
    );
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as {
      id?: string;
      error?: { code: string };
    }[];
    for (const body of bodies) if (body.id) fixture.track(await rt.sandboxes.get(body.id));
    // 600 MiB holds two 256 MiB disks.
    expect(responses.map((response) => response.status).sort()).toEqual([201, 201, 403, 403]);
    expect(bodies.filter((body) => body.error).map((body) => body.error?.code)).toEqual([
      'storage_quota_exceeded',
      'storage_quota_exceeded',
    ]);
    expect(await rt.orgs.usage()).toMatchObject({ sandboxes: 2, sandboxDiskBytes: 2 * diskBytes });
  }, 120_000);
});
