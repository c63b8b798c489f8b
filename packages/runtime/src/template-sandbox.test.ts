import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDriverState, type TrackedDriver, trackDriver } from '../../../test/support/driver-sandboxes.js';
import { testBaseRootfs, testRuntimeDir, testVictimDir } from '../../../test/support/rootfs.js';
import { availableDrivers } from './doctor.js';
import type { DriverName, SandboxDriver } from './driver.js';
import { hostTools } from './host.js';
import { TemplateSandbox } from './template-sandbox.js';
import { TemplateBuilder, type TemplateSpec } from './templates.js';

/**
 * A custom template is a caller's code: built in a sandbox, nothing it runs or names may reach the host. Each
 * attack here is what a template could do when it was built in a chroot on the host.
 */
const root = join(testRuntimeDir, `template-sandbox-${process.pid}`);
const { drivers, missing } = availableDrivers(join(root, 'state'));
const hostDir = testVictimDir('template-sandbox');

afterAll(async () => {
  rmSync(hostDir, { recursive: true, force: true });
  await removeDriverState(join(root, 'state'), drivers);
  rmSync(root, { recursive: true, force: true });
}, 120_000);

describe.each(['gvisor', 'container'] as DriverName[])('%s: custom templates are built in a sandbox', (name) => {
  let tracked: TrackedDriver<SandboxDriver> | undefined;
  let driver: SandboxDriver;
  let builder: TemplateBuilder;
  const cacheDir = join(root, `cache-${name}`);
  const recordDir = join(root, `records-${name}`);
  const run = randomBytes(4).toString('hex');

  beforeAll(async () => {
    const found = drivers[name];
    if (!found) throw new Error(`the ${name} driver is not available here: ${missing[name]}`);
    // The builder's sandboxes are created through it too, so that a build a test left running is destroyed.
    tracked = trackDriver(found);
    driver = tracked.driver;
    // The shared test rootfs as this cache's `minimal`, so that layers built here stay here.
    mkdirSync(cacheDir, { recursive: true });
    symlinkSync(await testBaseRootfs(), join(cacheDir, 'bookworm-minbase'));
    const tools = hostTools();
    builder = new TemplateBuilder({
      cacheDir,
      debootstrap: tools.debootstrap as string,
      unshare: tools.unshare as string,
      sandbox: { driver, recordDir },
    });
  }, 15 * 60_000);

  afterAll(() => tracked?.destroyAll(), 120_000);

  it('runs commands and writes files inside the sandbox, whatever symlinks or /proc paths they name', async () => {
    const victim = join(hostDir, `${name}-${run}`);
    mkdirSync(victim, { recursive: true });
    const specs: Record<string, TemplateSpec> = {
      parent: {
        base: 'minimal',
        files: { '/srv/conf/first.txt': 'first\n' },
        commands: [
          `for p in /proc/[0-9]*; do echo pwned 2>/dev/null > $p/root${victim}/through-proc && break; done; true`,
          `mkdir -p ${victim} && cp -a /srv/conf/. ${victim}/ && rm -rf /srv/conf && ln -s ${victim} /srv/conf`,
          `ln -s ${victim}/marker /.runtools-layer`,
          `rm /etc/motd && echo ${run} > /etc/run`,
        ],
      },
      child: { base: 'parent', files: { '/srv/conf/child.txt': 'child\n' } },
    };
    const lines: string[] = [];
    const built = await builder.ensure(
      'child',
      (template) => specs[template],
      (line) => lines.push(line),
    );
    expect(readdirSync(victim)).toEqual([]);
    expect(lines.at(-1)).toBe('template child is ready');

    const [childLayer, parentLayer] = built.layers as [string, string];
    // The runtime's mount points are not part of a layer; the marker is the host's own file; a deleted file
    // is an overlay whiteout (a 0/0 character device).
    for (const layer of [childLayer, parentLayer]) {
      expect(existsSync(join(layer, '.runtools'))).toBe(false);
      expect(lstatSync(join(layer, '.runtools-layer')).isFile()).toBe(true);
    }
    const whiteout = lstatSync(join(parentLayer, 'etc', 'motd'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    // What the template's symlinks led to is inside it.
    expect(readdirSync(join(childLayer, victim.slice(1)))).toEqual(['child.txt']);
    expect(readdirSync(join(parentLayer, victim.slice(1))).sort()).toEqual(['first.txt']);
    expect(readdirSync(recordDir)).toEqual([]);
  }, 120_000);

  it("reports a failing command with its output's last lines", async () => {
    const spec: TemplateSpec = { base: 'minimal', commands: [`echo about to fail ${run}; exit 3`] };
    await expect(builder.ensure('failing', () => spec)).rejects.toThrow(
      new RegExp(`template command failed \\(exit 3\\): echo about.*\\nabout to fail ${run}`, 's'),
    );
    expect(readdirSync(recordDir)).toEqual([]);
  }, 120_000);

  it('removes the build sandboxes a control plane that is gone left behind, and only those', async () => {
    const orphan = await TemplateSandbox.start(driver, recordDir, [await testBaseRootfs()]);
    const live = await TemplateSandbox.start(driver, recordDir, [await testBaseRootfs()]);
    try {
      expect(readdirSync(recordDir).sort()).toEqual([orphan.id, live.id].sort());
      // A pid that was and is no more: the orphan's builder was killed.
      const dead = spawnSync('/bin/true').pid;
      writeFileSync(join(recordDir, orphan.id), String(dead));
      await TemplateSandbox.destroyLeftovers(driver, recordDir);
      expect(await driver.state(orphan.id)).toBe('missing');
      expect(await driver.state(live.id)).toBe('running');
      expect(readdirSync(recordDir)).toEqual([live.id]);
    } finally {
      await orphan.destroy();
      await live.destroy();
    }
  }, 120_000);
});
