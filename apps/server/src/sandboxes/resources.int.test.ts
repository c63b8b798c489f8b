import { ValidationError } from '@runtools/sdk';
import { describe, expect, it } from 'vitest';
import { useSandboxServer } from '../../../../test/support/server.js';

describe('sandbox disk limits and network settings', () => {
  const fixture = useSandboxServer();

  it.each(['gvisor', 'container'] as const)(
    'holds a %s sandbox to its disk size: writes past it fail, and work again once space is freed',
    async (runtime) => {
      const box = await fixture.rt.sandboxes.create({ runtime, resources: { disk: '96MB' } });
      fixture.track(box);
      expect(box.info.resources.diskBytes).toBe(96_000_000);
      const fill = await box.exec('dd if=/dev/zero of=/root/fill bs=1M count=200 2>&1; sync');
      expect(fill.stdout).toMatch(/No space left on device/);
      await expect(box.files.write('/root/more.bin', Buffer.alloc(4 * 1024 * 1024))).rejects.toMatchObject({
        code: 'sandbox_disk_full',
      });
      const full = await box.stats();
      await box.exec('rm /root/fill');
      await box.files.write('/root/more.bin', Buffer.alloc(4 * 1024 * 1024));
      expect((await box.files.stat('/root/more.bin')).size).toBe(4 * 1024 * 1024);

      expect((await box.stats()).processes).toBe(0);
      await box.exec('exec sleep 60', { background: true });
      const stats = await box.stats();
      expect(stats.diskLimitBytes).toBeGreaterThan(80_000_000);
      expect(stats.diskLimitBytes).toBeLessThanOrEqual(96_000_000);
      expect(full.diskBytes).toBeGreaterThan(stats.diskBytes ?? 0);
      expect(stats.diskBytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
      expect(stats.memoryLimitBytes).toBe(1024 ** 3);
      expect(stats.memoryBytes).toBeGreaterThan(0);
      expect(stats.cpuSeconds).toBeGreaterThan(0);
      expect(stats.processes).toBe(1);
    },
    120_000,
  );

  it('refuses a disk too small to be useful, and gives other sandboxes the default disk', async () => {
    await expect(
      fixture.rt.sandboxes.create({ runtime: 'container', resources: { disk: '1MB' } }),
    ).rejects.toBeInstanceOf(ValidationError);
    const box = await fixture.rt.sandboxes.create({ runtime: 'container' });
    fixture.track(box);
    // The test servers' default (test/support/server.ts); 10 GiB unless configured.
    expect(box.info.resources.diskBytes).toBe(2 * 1024 ** 3);
    expect((await box.stats()).diskLimitBytes).toBeLessThanOrEqual(2 * 1024 ** 3);
  });

  it('records internet egress and gives the sandbox the host resolvers', async () => {
    const online = await fixture.rt.sandboxes.create({ runtime: 'container', network: { internet: true } });
    fixture.track(online);
    expect(online.info.network).toEqual({ internet: true });
    expect((await online.exec('cat /etc/resolv.conf')).stdout).toMatch(
      /^(nameserver \d+\.\d+\.\d+\.\d+\n)+$|^# no resolver/,
    );
    const offline = await fixture.rt.sandboxes.create({ runtime: 'container' });
    fixture.track(offline);
    expect(offline.info.network).toEqual({ internet: false });
    expect((await offline.exec('cat /proc/net/dev | grep -c : ')).stdout.trim()).toBe('1');
  });
});
